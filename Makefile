# strangler: every target installs what it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
# Services profile used by the tests (override on the command line or in the environment).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/techstore
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

# First interpreter >= 3.12 found on PATH or under pyenv.
PYTHON_CANDIDATES := python3.13 python3.12 python3 $(wildcard $(HOME)/.pyenv/versions/3.1[2-9]*/bin/python3)
BASE_PYTHON ?= $(firstword $(foreach p,$(PYTHON_CANDIDATES),$(shell $(p) -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && command -v $(p))))

.PHONY: help venv install demo test lint fmt monolith sandbox bench-catalog-baseline clean unleash-install unleash-server gateway bench-gateway

help:
	@echo "make demo                    run the TechStore monolith + sandbox and a scripted shopping journey (SQLite)"
	@echo "make test                    run the whole suite against PostgreSQL, Redis and RabbitMQ on localhost"
	@echo "make lint                    ruff"
	@echo "make monolith / sandbox      run one process in the foreground (embedded profile)"
	@echo "make bench-catalog-baseline  seed 100k products and measure the monolith's catalog under gunicorn"
	@echo "make bench-gateway           the gateway vs direct, nginx and stock mitmdump (installs nginx, wrk)"
	@echo "make gateway                 run the strangler gateway on :8080 in front of the monolith on :8000 (GATEWAY_ARGS=...)"
	@echo "make unleash-server          run a real Unleash 8 server on :4242 (npm, installed once into .cache/unleash)"

$(VENV)/.installed: pyproject.toml
	@if [ -z "$(BASE_PYTHON)" ]; then echo "No Python >= 3.12 found: install python3.12 (e.g. 'pyenv install 3.12') and retry."; exit 1; fi
	@echo "Using $(BASE_PYTHON) ($$($(BASE_PYTHON) --version))"
	$(BASE_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

venv install: $(VENV)/.installed

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: install unleash-install
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
		$(VENV)/bin/pytest $(PYTEST_ARGS)

demo: install
	$(PY) -m legacy_monolith.demo

monolith: install
	$(PY) manage.py migrate --noinput
	$(VENV)/bin/gunicorn legacy_monolith.wsgi -b 127.0.0.1:8000 -w 2 -k gthread --threads 4

sandbox: install
	$(PY) -m sandbox --port 8900

bench-catalog-baseline: install
	DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/techstore_bench} \
		$(PY) -m bench.catalog_baseline $(BENCH_ARGS)

# nginx (the reference proxy and the static origin) and wrk come from Debian; apt-get needs root, which CI
# has (it runs as root); elsewhere sudo is used. The bench never touches the system nginx config.
APT_SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
bench-gateway: install
	@if ! { command -v nginx || test -x /usr/sbin/nginx; } >/dev/null || ! command -v wrk >/dev/null; then \
		echo "installing nginx and wrk (Debian packages)"; \
		$(APT_SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(APT_SUDO) apt-get install -y -qq --no-install-recommends nginx wrk; \
	fi
	DATABASE_URL=$${BENCH_GATEWAY_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/techstore_bench_gateway} \
		$(PY) -m bench.gateway $(BENCH_ARGS)

# The strangler gateway in front of `make monolith` (routes: strangler_proxy/routes.yaml; flags: var/flags.json).
gateway: install
	$(PY) manage.py gateway $(GATEWAY_ARGS)

# A real Unleash server (the flags integration tests start their own through deploy/unleash/run.sh).
unleash-install:
	bash deploy/unleash/install.sh

unleash-server: unleash-install
	bash deploy/unleash/run.sh

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
