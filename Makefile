# Centinela — developer commands. `make test` is what CI runs (through .ci/run).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: help demo test lint typecheck rules unit services services-stop bench clean

help:
	@echo "make demo           run the embedded well-pad demo"
	@echo "make test           create .venv, install, start services, lint, type-check, run every test"
	@echo "make services       start PostgreSQL, Redis and Kafka on 127.0.0.1 (idempotent)"
	@echo "make services-stop  stop them"
	@echo "make bench          run the benchmarks in bench/"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[all,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/centinela demo

lint: $(STAMP)
	$(BIN)/ruff check centinela tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

services:
	bash compose/local/services.sh start

services-stop:
	bash compose/local/services.sh stop

rules: $(STAMP)
	$(BIN)/centinela check examples/
	$(BIN)/centinela test examples/

unit: $(STAMP)
	$(BIN)/pytest

test: $(STAMP) services lint typecheck rules unit

bench: $(STAMP)
	@for f in bench/[!_]*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
