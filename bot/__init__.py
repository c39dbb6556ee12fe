"""earshot: a Discord bot that makes voice readable and text audible."""

__version__ = "0.1.0"
