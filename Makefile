# The two commands: `make run` (the product) and `make test` (the whole suite); `make test-unit` is the fast tier.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-unit lint bench clean-state docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.txt
	$(BIN)/pip install -q -r requirements-test.txt
	touch $@

run: $(VENV)/.installed
	$(BIN)/python -m automation.local.run

# Debian packages the tests use, installed only when missing: chromium for the browser test (never a
# downloaded browser) and docker-compose to validate docker-compose.airflow.yml (no engine needed).
CHROMIUM := /usr/bin/chromium
DOCKER_COMPOSE := /usr/bin/docker-compose

$(CHROMIUM):
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

$(DOCKER_COMPOSE):
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y docker-compose

# The pinned requirements as wheels, for the install test's fresh virtualenv (tests/install/test_wheel.py).
$(VENV)/wheelhouse/.complete: requirements.txt | $(BIN)/python
	rm -f $@
	$(BIN)/pip download -q -d $(VENV)/wheelhouse -r requirements.txt
	touch $@

# pytest-xdist workers, each with its own Postgres, Airflow home and ports: TEST_STACKS of them run the
# tests of the shared Airflow stack, split by module over that many stacks, one more every other Postgres
# test and then the two tests that start an Airflow of their own (install, Celery); the unit tests fill in
# (tests/conftest.py). Two stacks by default: on a quiet 2-core machine, one commit, a fresh clone, 668 s
# and 729 s with two stacks against 751 s with one (`make test TEST_STACKS=1`). Times: docs/contributing.md.
TEST_STACKS ?= 2
TEST_WORKERS ?= $(shell echo $$(($(TEST_STACKS) + 1)))
UNIT_WORKERS ?= 2

# Python writes its bytecode (and pytest its rewritten test modules) to __pycache__ even where the shell
# says not to (PYTHONDONTWRITEBYTECODE): a second run skips rewriting every test module in each worker.
test test-unit: export PYTHONDONTWRITEBYTECODE :=

test: $(VENV)/.installed-test $(VENV)/wheelhouse/.complete $(CHROMIUM) $(DOCKER_COMPOSE)
	AUTOMATION_TEST_STACKS=$(TEST_STACKS) $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

# The tests that need neither Postgres nor Airflow processes (marked `unit` by tests/conftest.py): the
# session starts no database; two xdist workers (each collects, then they share the tests); under a minute.
test-unit: $(VENV)/.installed-test $(DOCKER_COMPOSE)
	$(BIN)/python -m pytest -m unit -n $(UNIT_WORKERS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

bench: $(VENV)/.installed-test
	$(BIN)/pip install -q dag-factory==1.1.0 panzi-json-logic==1.0.1
	$(BIN)/python benchmarks/parse.py --dag-factory
	$(BIN)/python benchmarks/task.py
	$(BIN)/python benchmarks/steps.py
	$(BIN)/python benchmarks/events.py
	$(BIN)/python benchmarks/scale.py

# The documentation site (docs/, mkdocs.yml) into build/site/; the reference pages are generated from the code.
docs: $(VENV)/.installed-test
	$(BIN)/mkdocs build --strict -d build/site

clean-state:
	rm -rf .automation
