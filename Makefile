# Estuary Checkout — `make run` starts the dev stack, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_TEST_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=
DJANGO_PYTEST_ARGS ?=

.PHONY: screenshots install run test test-sqlite test-postgres test-django-host run-django-host django-host-install lint migrate seed token bench bench-quick bench-instructions clean

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

# the suite runs twice: on SQLite, then on PostgreSQL (CHECKOUT_TEST_DATABASE_URL); then the
# Django host example's own tests in its own venv
test: install
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres
	$(MAKE) --no-print-directory test-django-host

test-sqlite: install
	CHECKOUT_TEST_DATABASE_URL=sqlite $(BIN)/python -m pytest $(PYTEST_ARGS)

test-postgres: install
	CHECKOUT_TEST_DATABASE_URL=$${CHECKOUT_TEST_DATABASE_URL_PG:-$(PG_TEST_URL)} $(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff covers examples/ too (examples/django_host/pyproject.toml extends the rules for Python
# 3.12); mypy checks src only: the example is Django code without django-stubs, in another venv
lint: install
	$(BIN)/ruff check src tests migrations bench examples
	$(BIN)/ruff format --check src tests migrations bench examples
	$(BIN)/lint-imports
	$(BIN)/mypy src

# --- examples/django_host (SPEC 12.2): Django 6 needs Python >= 3.12, the project's venv may be
# older, so the example has its own venv. DJANGO_PYTHON: the first interpreter that runs and is
# 3.12+ (a pyenv shim on PATH fails to run unless its version is selected, so each is tried).
DJANGO_HOST := examples/django_host
DJANGO_VENV := $(DJANGO_HOST)/.venv
DJANGO_STAMP := $(DJANGO_VENV)/.installed
DJANGO_PYTHON ?= $(shell for p in python3.13 python3.12 $(HOME)/.pyenv/versions/3.1[2-9]*/bin/python3; do \
	"$$p" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && { command -v "$$p"; break; }; \
	done)

$(DJANGO_STAMP): $(DJANGO_HOST)/pyproject.toml pyproject.toml
	@if [ -z "$(DJANGO_PYTHON)" ] || ! "$(DJANGO_PYTHON)" -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then \
		echo "error: the Django host example needs Python >= 3.12 (Django 6). DJANGO_PYTHON='$(DJANGO_PYTHON)':" \
			"none found as python3.13, python3.12 or ~/.pyenv/versions/3.1x/bin/python3." \
			"Install one, or run with DJANGO_PYTHON=/path/to/python3.12" >&2; \
		exit 1; \
	fi
	@test -x $(DJANGO_VENV)/bin/python || "$(DJANGO_PYTHON)" -m venv $(DJANGO_VENV)
	$(DJANGO_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(DJANGO_VENV)/bin/python -m pip install --quiet -e . -e '$(DJANGO_HOST)[test]'
	@touch $@

django-host-install: $(DJANGO_STAMP)

test-django-host: django-host-install
	cd $(DJANGO_HOST) && .venv/bin/python -m pytest $(DJANGO_PYTEST_ARGS)

# the example host on 127.0.0.1:8001 next to `make run`'s stack, sharing its database, JWT secret
# and emulator (run from the repo root, where the service keeps var/)
run-django-host: django-host-install
	$(DJANGO_VENV)/bin/python $(DJANGO_HOST)/manage.py migrate
	$(DJANGO_VENV)/bin/uvicorn --app-dir $(DJANGO_HOST) \
		host.asgi:application --host 127.0.0.1 --port 8001

screenshots: install  ## the hosted pages' screenshots in docs/img/ (the browser tests, saving them)
	CHECKOUT_SCREENSHOTS=1 CHECKOUT_TEST_DATABASE_URL=sqlite $(BIN)/python -m pytest tests/hosted -q

bench: install
	$(BIN)/python bench/run.py

bench-quick: install
	$(BIN)/python bench/run.py --quick

bench-instructions: install  ## instructions per request (valgrind): compare hot-path changes
	$(BIN)/python bench/instructions.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache $(DJANGO_VENV)
