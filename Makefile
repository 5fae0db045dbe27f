# The two commands of the README are `make demo` and `make test`; each does its own set-up.
VENV ?= .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup setup-browser demo test test-fast book bench lint format release clean

setup:
	@scripts/setup.sh

setup-browser:
	@scripts/setup.sh --browser

demo: setup
	$(BIN)/mytorch-course demo

test: setup-browser
	$(BIN)/python -m pytest -n 2 --dist loadscope

test-fast: setup
	$(BIN)/python -m pytest -m "not slow" -x -q

book: setup
	$(BIN)/jupyter-book build book --warningiserror --keep-going

bench: setup
	$(BIN)/python benchmarks/train_step.py

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check mytorch mytorch_course grading tests benchmarks

format: setup
	$(BIN)/ruff format mytorch mytorch_course grading tests benchmarks && $(BIN)/ruff check --fix .

release: setup
	$(BIN)/mytorch-course release

clean:
	rm -rf book/_build submitted autograded feedback gradebook.db .pytest_cache
