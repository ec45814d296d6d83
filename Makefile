# tenantry — run `make help` for the list of targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
.PHONY: help install demo serve test test-unit lint format bench db-stop clean

help: ## List the targets with one line each
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "tenantry needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install tenantry with its dev tools

demo: $(STAMP) ## Start the embedded PostgreSQL, seed three tenants, run sample flows, print a summary
	$(BIN)/tenantry demo

serve: $(STAMP) ## Run the HTTP API on http://127.0.0.1:8000 (embedded PostgreSQL)
	env -u TENANTRY_DATABASE_URL $(BIN)/tenantry serve

test: $(STAMP) ## Run the whole test suite against a real PostgreSQL (embedded unless TENANTRY_DATABASE_URL)
	$(BIN)/python -m pytest -q

test-unit: $(STAMP) ## Run only the unit tests (no database)
	$(BIN)/python -m pytest -q tests/unit

lint: $(STAMP) ## ruff (lint + format check) and mypy --strict
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: $(STAMP) ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

bench: $(STAMP) ## Run the benchmarks; JSON per benchmark in bench/results/ and a table
	$(BIN)/python -m bench

db-stop: $(STAMP) ## Stop the embedded PostgreSQL server
	$(BIN)/tenantry db stop

clean: ## Remove .venv and caches (keeps .tenantry, your data)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
