"""Benchmarks: what earshot claims about speed and memory, runnable with `make bench`."""
