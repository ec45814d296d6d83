# tenantry — run `make help` for the list of targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LOCK   := requirements.lock

.DEFAULT_GOAL := help
.PHONY: help install lock demo serve test test-unit test-external lint format bench db-stop clean

help: ## List the targets with one line each
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# The exact versions come from the lock file; tenantry itself is installed without resolving
# anything, and `pip check` fails if the lock misses what pyproject.toml requires.
$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "tenantry needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install tenantry with its dev tools (versions from requirements.lock)

lock: ## Resolve pyproject.toml's dependencies afresh (newest allowed) into requirements.lock
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e '.[dev,bench]'
	echo "# Exact versions installed by make install (then tenantry with --no-deps)." > $(LOCK).new
	echo "# Made by make lock from pyproject.toml: rerun it when the dependencies change." >> $(LOCK).new
	.lock-venv/bin/python -m pip freeze --exclude-editable >> $(LOCK).new
	mv $(LOCK).new $(LOCK)
	rm -rf .lock-venv

demo: $(STAMP) ## Start the embedded PostgreSQL, seed three tenants, run sample flows, print a summary
	$(BIN)/tenantry demo

serve: $(STAMP) ## Run the HTTP API on http://127.0.0.1:8000 (embedded PostgreSQL)
	env -u TENANTRY_DATABASE_URL $(BIN)/tenantry serve

# The suites that exercise what differs on a user's own server (roles, ownership, grants, RLS,
# COPY through the owner's connection); `make test` runs them a second time on one.
EXTERNAL_SUITES := tests/integration/test_migrations.py tests/integration/test_isolation.py \
	tests/integration/test_catalog.py tests/integration/test_seed.py

# Three independent runs side by side (own servers, own temporary folders): the end-to-end
# tests, which mostly wait on `tenantry` subprocesses and HTTP servers, beside the unit and
# integration tests and the server-path suites; their reports follow the end-to-end one.
test: $(STAMP) ## Run the test suite on the embedded PostgreSQL and, beside it, the server-path suites on a second server
	@tmp=$$(mktemp -d); \
	$(BIN)/python -m pytest -q -p no:cacheprovider --basetemp=$$tmp/inner \
		tests/unit tests/integration >$$tmp/inner.log 2>&1 & \
	inner=$$!; \
	env -u TENANTRY_DATABASE_URL TENANTRY_TEST_SERVER=external $(BIN)/python -m pytest -q \
		-p no:cacheprovider --basetemp=$$tmp/external $(EXTERNAL_SUITES) >$$tmp/external.log 2>&1 & \
	external=$$!; \
	echo "== end-to-end tests =="; $(BIN)/python -m pytest -q tests/e2e; e2e=$$?; \
	wait $$inner; inner_rc=$$?; wait $$external; ext=$$?; \
	echo "== unit and integration tests =="; cat $$tmp/inner.log; \
	echo "== server-path suites on a second server =="; cat $$tmp/external.log; rm -rf $$tmp; \
	test $$e2e -eq 0 -a $$inner_rc -eq 0 -a $$ext -eq 0

test-external: $(STAMP) ## Run the server-path suites and the external-server end-to-end tests on a second server
	env -u TENANTRY_DATABASE_URL TENANTRY_TEST_SERVER=external $(BIN)/python -m pytest -q \
		$(EXTERNAL_SUITES) tests/e2e/test_external_server.py

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
