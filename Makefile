# One entry point for every check, used by people and by .ci/run alike.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: install run test lint format bench services clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

## Start the server with its UI on the embedded default (./opsml.db and ./opsml_registries).
run: install
	$(VENV)/bin/opsml server start --host $(HOST) --port $(PORT)

## The whole test suite (starts PostgreSQL/MariaDB first if they are down).
test: install services
	$(PY) -m pytest -n auto -q $(PYTEST_ARGS)

services:
	bash scripts/services.sh

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

bench: install
	$(PY) benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .bench-venvs .pytest_cache .mypy_cache .ruff_cache
