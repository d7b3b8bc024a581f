# QueueIT backend. `make run` serves on the embedded database; `make test` runs everything.
# Both create .venv and install the pinned dependencies on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint fmt install contract-test bench clean

$(STAMP): pyproject.toml generated/python/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' -e generated/python
	touch $@

install: $(STAMP)

run: $(STAMP)
	$(PY) -m queueit run

test: $(STAMP)
	$(PY) -m pytest

contract-test: $(STAMP)
	$(PY) -m pytest contract_tests

lint: $(STAMP)
	$(PY) -m ruff check src tests contract_tests tools bench
	$(PY) -m ruff format --check src tests contract_tests tools bench
	$(PY) -m mypy

fmt: $(STAMP)
	$(PY) -m ruff check --fix src tests contract_tests tools bench
	$(PY) -m ruff format src tests contract_tests tools bench

bench: $(STAMP)
	$(PY) bench/realtime.py

clean:
	rm -rf .queueit-data .pytest_cache .mypy_cache .ruff_cache

-include Makefile.contract
