# Two commands for a fresh clone with only python3: `make run` and `make test`.
# Both create .venv and install the project into it on first use (and again when
# pyproject.toml changes).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run sync test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m bot

sync: $(STAMP)
	$(BIN)/python -m bot sync

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks.voice_message
	$(BIN)/python -m benchmarks.overhead
	$(BIN)/python -m benchmarks.concurrency
	$(BIN)/python -m benchmarks.memory
	$(BIN)/python -m benchmarks.long_audio --format ogg
	$(BIN)/python -m benchmarks.long_audio --format mp3
	$(BIN)/python -m benchmarks.long_audio --format flac
	$(BIN)/python -m benchmarks.long_audio --format wav
	$(BIN)/python -m benchmarks.local_engine
	$(BIN)/python -m benchmarks.local_accuracy
	$(BIN)/python -m benchmarks.voice_latency
	$(BIN)/python -m benchmarks.voice_load
	$(BIN)/python -m benchmarks.captions
	$(BIN)/python -m benchmarks.caption_load

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .import_linter_cache .mypy_cache
