# Estuary Checkout — `make run` starts the dev stack, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_TEST_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=

.PHONY: install run test test-sqlite test-postgres lint migrate seed token bench bench-quick bench-instructions clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install the project with dev extras (fast when nothing changed)

run: install  ## the whole dev stack: Temporal, Stripe emulator, worker, API on 127.0.0.1:8000
	$(BIN)/estuary-checkout dev

migrate: install  ## apply migrations to CHECKOUT_DATABASE_URL
	$(BIN)/estuary-checkout migrate

seed: install
	$(BIN)/estuary-checkout seed-demo

# the suite runs twice: on SQLite, then on PostgreSQL (CHECKOUT_TEST_DATABASE_URL)
test: install
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

test-sqlite: install
	CHECKOUT_TEST_DATABASE_URL=sqlite $(BIN)/python -m pytest $(PYTEST_ARGS)

test-postgres: install
	CHECKOUT_TEST_DATABASE_URL=$${CHECKOUT_TEST_DATABASE_URL_PG:-$(PG_TEST_URL)} $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests migrations bench
	$(BIN)/ruff format --check src tests migrations bench
	$(BIN)/lint-imports
	$(BIN)/mypy src

bench: install
	$(BIN)/python bench/run.py

bench-quick: install
	$(BIN)/python bench/run.py --quick

bench-instructions: install  ## instructions per request (valgrind): compare hot-path changes
	$(BIN)/python bench/instructions.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
