# onboard90 — `make demo` and `make test` set everything up on a fresh machine (Python 3.11 needed).
#
#   make demo    virtualenv + install, `onboard90 init`, `onboard90 demo --reset --serve` (http://127.0.0.1:8000/)
#   make test    ruff, mypy --strict on the engine's rules, then the suite on SQLite and on PostgreSQL side by side
#                (PG_URL; all but the browser's and Kannel's tests, see PG_MARKERS; TEST_JOBS=1: one after the other)
#   make lint    ruff only
#   make clean   caches and build leftovers; `make distclean` also drops .venv and var/
#
# The PostgreSQL pass needs a server at PG_URL (the database itself is not needed: the tests create
# their own `test_<name>`). Without one it is skipped with a visible line, except under CI=true, where
# it fails. `.ci/run` is the CI entry point and starts the server itself.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.onboard90-installed
RUNTIME_STAMP := $(VENV)/.onboard90-runtime
PG_URL ?= postgres://postgres@127.0.0.1:5432/onboard90
PYTEST_ARGS ?=
DEMO_ARGS ?=
# Test runs write their scratch files (the SMS outbox file, databases of child processes, lock files) here, not into
# the working var/: one directory per pass, so the two passes can run at once.
TEST_ENV = ONBOARD90_VAR=$(CURDIR)/var/test/$@
# The two passes share nothing (their own databases, var/ directories, broker queues and free ports), so `make test`
# runs them at once, one per core: most of a pass is one Python process waiting on its database or a child process.
# Each pass's output is held and shown whole when it ends (GNU make --output-sync).
TEST_JOBS ?= 2

# Exit 0 when a PostgreSQL server answers at argv[1]; the named database may not exist yet, so the
# server's own `postgres` database is tried as well.
define PG_PROBE
import sys
import psycopg
for extra in ({}, {"dbname": "postgres"}):
    try:
        psycopg.connect(sys.argv[1], connect_timeout=3, **extra).close()
    except Exception:
        continue
    sys.exit(0)
sys.exit(1)
endef
export PG_PROBE

.DEFAULT_GOAL := help
.PHONY: help install demo test typecheck test-sqlite test-postgres lint clean distclean

help:
	@echo "make demo   — install, initialise, build the demo province and serve it on http://127.0.0.1:8000/"
	@echo "make test   — lint + type check + test suite on SQLite and PostgreSQL (PG_URL=$(PG_URL))"
	@echo "make lint | make clean | make distclean"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstalls only when the dependency declarations change (the project itself is installed editable).
# --no-compile: byte-compiling every installed module (Faker alone has thousands) took a third of the
# install; Python compiles the few it imports on first use.
PIP_INSTALL := $(BIN)/python -m pip install --quiet --no-compile -c requirements.lock

$(STAMP): pyproject.toml requirements.lock | $(BIN)/python
	$(PIP_INSTALL) -e '.[dev,tools]'
	@touch $@

# Front-end assets (htmx, ECharts) from the npm registry, exactly as package-lock.json pins them; the web
# app serves them as static files from node_modules/ (no CDN: stores' networks and this machine are closed).
ASSETS := node_modules/.package-lock.json
$(ASSETS): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

install: $(STAMP) $(ASSETS)

# What the demo needs: the application and its tools (Faker, NumPy), without the test tools.
$(RUNTIME_STAMP): pyproject.toml requirements.lock | $(BIN)/python
	$(PIP_INSTALL) -e '.[tools]'
	@touch $@

# Rebuilds the demo each time (--reset deletes only what an earlier demo built and refuses on a database
# with customers of its own), then serves it until Ctrl-C. DEMO_ARGS="--customers 5000" etc.
demo: $(RUNTIME_STAMP) $(ASSETS)
	$(BIN)/onboard90 init
	$(BIN)/onboard90 demo --reset --serve $(DEMO_ARGS)

lint: install
	$(BIN)/ruff check src conftest.py

test: lint typecheck
	@$(MAKE) --no-print-directory -j$(TEST_JOBS) --output-sync=target test-sqlite test-postgres

# The engine's rules (journeys/rules: plain Python that the cycle compiles to SQL and the preview runs).
typecheck: install
	$(BIN)/mypy --strict src/onboard90/journeys/rules

test-sqlite: install
	@echo "==> pass 1/2: test suite on SQLite (in-memory test database)"
	env -u DATABASE_URL $(TEST_ENV) $(BIN)/pytest -m "not postgres" $(PYTEST_ARGS)

# The PostgreSQL pass leaves out the tests whose subject is not the database: the browser's (they drive the same
# views the rest of the suite runs on PostgreSQL through the test client), Kannel's (the SMS protocol; the outbox
# they send from is tested on PostgreSQL by the dispatcher's own tests), and those that drive SQLite files of their
# own whatever DATABASE_URL says (marked sqlite: the command line's contract, the bench's commands, the crash and
# worker tests on SQLite, whose PostgreSQL counterparts are marked postgres), which would run the same test twice.
# All ran in the SQLite pass; pytest reports them as deselected here, never as passed.
PG_MARKERS ?= not browser and not kannel and not sqlite

test-postgres: install
	@shown="$$(sed -E 's#//([^:@/]+):[^@/]*@#//\1:***@#' <<< '$(PG_URL)')"; \
	echo "==> pass 2/2: test suite on PostgreSQL ($$shown)"; \
	if $(BIN)/python -c "$$PG_PROBE" '$(PG_URL)'; then \
		env DATABASE_URL='$(PG_URL)' $(TEST_ENV) $(BIN)/pytest -m "$(PG_MARKERS)" $(PYTEST_ARGS); \
	elif [ "$${CI:-}" = "true" ]; then \
		echo "FAILED: PostgreSQL pass — no server at $$shown (CI=true: this pass may not be skipped)"; \
		exit 1; \
	else \
		echo ""; \
		echo "SKIPPED: PostgreSQL pass — no server at $$shown (set PG_URL=postgres://user@host:port/db)"; \
		echo ""; \
	fi

clean:
	rm -rf .pytest_cache .ruff_cache .hypothesis build dist src/*.egg-info var/test
	find src -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) var node_modules
