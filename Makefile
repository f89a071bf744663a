# strangler: every target installs what it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
# Services profile used by the tests (override on the command line or in the environment).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/techstore
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
TEST_PRODUCT_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/product
TEST_AUTH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/auth
TEST_CHASSIS_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/chassis
TEST_ORDER_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/order
TEST_PAYMENT_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/payment
TEST_CONTROL_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/control
TEST_NOTIFICATION_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/notification

# First interpreter >= 3.12 found on PATH or under pyenv.
PYTHON_CANDIDATES := python3.13 python3.12 python3 $(wildcard $(HOME)/.pyenv/versions/3.1[2-9]*/bin/python3)
BASE_PYTHON ?= $(firstword $(foreach p,$(PYTHON_CANDIDATES),$(shell $(p) -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && command -v $(p))))

.PHONY: product-service auth-service order-service payment-service certs grpc-gen product-grpc bench-internal
.PHONY: deploy-gen compose-secrets compose-check k8s-check drill-restore promtool prometheus-check load
.PHONY: help venv install demo demo-monolith test lint fmt monolith sandbox bench-catalog-baseline bench-catalog clean unleash-install unleash-server gateway bench-gateway bench-shadow bench-backfill bench-verify browser-install bench-rollback drill-rollback rollout-controller bench-saga drill-saga bench-notifications bench-payments drill-payments bench-shadow-queue bench-jwks bench-events bench-edge-validation drill-gateway-resources drill-stock-owner drill-product-sync

help:
	@echo "make demo                    the strangler migration, no servers needed (SQLite): gateway, journey, Product"
	@echo "                             service backfill + verify, rollout 0/50/100 %, shadow report, rollback"
	@echo "make demo-monolith           the TechStore monolith + sandbox and its scripted shopping journey alone"
	@echo "make test                    run the whole suite against PostgreSQL, Redis and RabbitMQ on localhost"
	@echo "make lint                    ruff, the dependency rules between packages (import-linter), runbook lint"
	@echo "make monolith / sandbox      run one process in the foreground (embedded profile; MONOLITH_PORT, SANDBOX_PORT)"
	@echo "make product-service ...     migrate and serve one service (PRODUCT_/AUTH_/ORDER_/PAYMENT_SERVICE_PORT)"
	@echo "make certs                   a development CA and one mTLS certificate per service under var/certs"
	@echo "make grpc-gen                regenerate contracts/rpc/ (committed) from the .proto files in contracts/proto/"
	@echo "make bench-catalog-baseline  seed 100k products and measure the monolith's catalog under gunicorn"
	@echo "make bench-catalog           the Product service vs the monolith at 100k products (warm cache and cold)"
	@echo "make bench-gateway           the gateway vs direct, nginx and stock mitmdump (installs nginx, wrk)"
	@echo "make bench-shadow            client latency with shadow mode on/off, comparator pairs/s (installs wrk)"
	@echo "make bench-shadow-queue      shadow pairs through our file queue vs kombu's filesystem transport"
	@echo "make bench-jwks              the gateway's JWKS cache vs PyJWT's PyJWKClient (lookup cost, outage)"
	@echo "make bench-internal          stock reservations/s and p50/p99: gRPC vs REST (and over mTLS) on the Product service"
	@echo "make bench-events            per-event cost of the events' digest, ES256 signing and verifying"
	@echo "make bench-edge-validation   what the canonical request and strict OpenAPI validation cost per request"
	@echo "make drill-gateway-resources a worker's RSS before/during/after 64 MB heads and 10,000 slow connections"
	@echo "make bench-backfill          sync products backfill rows/s vs PostgreSQL COPY of the same rows (goal >= 0.3)"
	@echo "make bench-verify            sync products verify over 1M products (goal < 30 s), drill-down and repair"
	@echo "make bench-rollback          rollout controller: rollback seconds (flags file, Unleash), false-rollback rate"
	@echo "make drill-rollback          the full rollout drills (50 req/s canary) against real processes"
	@echo "make bench-saga              checkouts/s and p50/p99 through the Order service's saga vs the monolith's checkout"
	@echo "make bench-notifications     events -> SMTP messages/s (burst) and publish -> receipt p99 at half that rate"
	@echo "make bench-payments          card charges/s and p50/p99: the Payment service (async) vs the monolith's sync charge"
	@echo "make drill-product-sync      stage 2 end to end at full size (10,000 products: backfill, follow, verify, route)"
	@echo "make drill-stock-owner       the stock-ownership cutover drill at full size (600 checkouts, one JSON line)"
	@echo "make drill-payments          the payments cutover drill at full size (600 checkouts, flag 0/5/50/100/0 %, faults)"
	@echo "make drill-saga              the saga chaos drill at full size (1000 checkouts, faults, kill -9, broker outage)"
	@echo "make rollout-controller      run the rollout controller (manage.py rollout run) in the foreground"
	@echo "make gateway                 run the strangler gateway on :8080 in front of the monolith on :8000 (GATEWAY_ARGS=...)"
	@echo "make unleash-server          run a real Unleash 8 server on :4242 (npm, installed once into .cache/unleash)"
	@echo "make deploy-gen              regenerate docker-compose.yml and deploy/k8s/base/ from deploy/topology.py"
	@echo "make compose-secrets         write .env with fresh secrets for docker compose (existing values kept)"
	@echo "make compose-check           docker-compose.yml against the Compose schema, and the registry against the code"
	@echo "make k8s-check               render every kustomize overlay and validate it against the Kubernetes schemas"
	@echo "make prometheus-check        promtool: the scrape config, the alert rules and their unit tests; panel queries vs the code"
	@echo "make load STAGE=1 USERS=20 DURATION=60s  a stage's locust suite against the gateway (LOAD_HOST); var/load/"
	@echo "make drill-restore           back up, destroy, restore and verify the Product service's database (100k products)"

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
	$(VENV)/bin/lint-imports
	$(PY) manage.py runbook lint

fmt: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# make test runs several pytest sessions: the main one (legacy_monolith.settings) over tests/, then the chassis
# (tests/chassis) and each service (tests/extracted/*_service) with its own settings; --confcutdir keeps
# tests/conftest.py out of them. Every session runs even when one fails; PYTEST_ARGS goes to each.
TEST_ENV = DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
	PRODUCT_DATABASE_URL=$(TEST_PRODUCT_DATABASE_URL) AUTH_DATABASE_URL=$(TEST_AUTH_DATABASE_URL) \
	CHASSIS_DATABASE_URL=$(TEST_CHASSIS_DATABASE_URL) ORDER_DATABASE_URL=$(TEST_ORDER_DATABASE_URL) \
	PAYMENT_DATABASE_URL=$(TEST_PAYMENT_DATABASE_URL) CONTROL_DATABASE_URL=$(TEST_CONTROL_DATABASE_URL) \
	NOTIFICATION_DATABASE_URL=$(TEST_NOTIFICATION_DATABASE_URL)
test: install unleash-install browser-install promtool
	$(TEST_ENV) $(PY) -m tests.sessions $(PYTEST_ARGS)

demo: install
	$(PY) -m legacy_monolith.demo

demo-monolith: install
	$(PY) -m legacy_monolith.demo --monolith-only

# One process in the foreground, on its *_PORT (defaults 8000, 8900, 8101-8104; .env.example moves them all).
monolith: install
	$(PY) manage.py migrate --noinput
	$(VENV)/bin/gunicorn legacy_monolith.wsgi -b 127.0.0.1:$${MONOLITH_PORT:-8000} -w 2 -k gthread --threads 4

sandbox: install
	$(PY) -m sandbox --port $${SANDBOX_PORT:-8900}

product-service auth-service order-service payment-service: install
	$(PY) -m extracted.$(subst -,_,$@) migrate --noinput
	$(PY) -m extracted.$(subst -,_,$@) serve

# The development CA and one certificate per service for mutual TLS inside (var/certs; CERTS_ARGS=...).
certs: install
	$(PY) -m chassis.certs $(CERTS_ARGS)

# The internal gRPC contracts' Python code (contracts/rpc, committed; a test checks it is current).
grpc-gen: install
	$(PY) -m contracts.protogen

bench-catalog-baseline: install
	DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/techstore_bench} \
		$(PY) -m bench.catalog_baseline $(BENCH_ARGS)

# The Product service against the monolith (same 100k products; warm Redis cache and cold store).
bench-catalog: install
	DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/techstore_bench} \
	BENCH_PRODUCT_DATABASE_URL=$${BENCH_PRODUCT_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/product_bench} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} \
		$(PY) -m bench.catalog_service $(BENCH_ARGS)

# sync products backfill/verify against a real Product service (BENCH_ARGS="--products N --keep-db ...").
bench-backfill: install
	DATABASE_URL=$${BENCH_SYNC_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/techstore_bench_sync} \
		$(PY) -m bench.backfill $(BENCH_ARGS)

bench-verify: install
	DATABASE_URL=$${BENCH_SYNC_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/techstore_bench_sync} \
		$(PY) -m bench.verify $(BENCH_ARGS)

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

# Shadow mode: client p50/p99 through the gateway with the shadow route's flag on and off, and the
# comparator's pairs/s on one core (wrk from Debian, as above).
bench-shadow: install
	@command -v wrk >/dev/null || { echo "installing wrk (Debian package)"; $(APT_SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(APT_SUDO) apt-get install -y -qq --no-install-recommends wrk; }
	DATABASE_URL=$${BENCH_SHADOW_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/techstore_bench_shadow} \
		$(PY) -m bench.shadow $(BENCH_ARGS)

# The gateway's canonical request and strict payload validation (OpenAPI), per request, in process.
bench-edge-validation: install
	$(PY) -m bench.edge_validation $(BENCH_ARGS)

# Hostile clients against one gateway worker: its RSS around 64 MB request heads and 10,000 slow connections.
drill-gateway-resources: install
	$(PY) -m bench.gateway_resources $(BENCH_ARGS)

# The embedded profile's shadow queue (shadow/transport/file_queue.py) against kombu's filesystem transport.
bench-shadow-queue: install
	$(PY) -m bench.shadow_queue $(BENCH_ARGS)

# The JWKS cache the gateway verifies Bearer tokens with (contracts/jwks.py) against PyJWT's PyJWKClient.
bench-jwks: install
	$(PY) -m bench.jwks $(BENCH_ARGS)

# Signed, checksummed events (issue 20): us per event to digest, sign (relay) and verify (consumer).
bench-events: install
	$(PY) -m bench.event_signing $(BENCH_ARGS)

# Stock reservations through the Product service's REST and gRPC internal paths, side by side (issue 20): real
# server processes on a throwaway PostgreSQL database of DATABASE_URL's server.
bench-internal: install
	DATABASE_URL=$${BENCH_INTERNAL_DATABASE_URL:-$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/techstore}} \
		$(PY) -m bench.internal_calls $(BENCH_ARGS)

# The rollout controller: rollback time (5xx drill at 25%, ~50 req/s of canary traffic, median of runs; with a
# real Unleash server too) and the false-rollback rate of healthy rollouts, real (30 short rollouts through the
# drill's processes) and simulated (2000 through the real judge); BENCH_ARGS="--runs 3 --real-healthy-runs 10".
bench-rollback: install unleash-install
	DATABASE_URL=$${BENCH_ROLLBACK_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/techstore} \
		$(PY) -m bench.rollback --unleash $(BENCH_ARGS)

# The full rollout drills of tests/e2e/test_rollout_controller.py at the issue's size (make test runs them small).
drill-rollback: install
	DATABASE_URL=$${BENCH_ROLLBACK_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/techstore} \
	ROLLOUT_DRILL_SIZE=full $(VENV)/bin/pytest -q tests/e2e/test_rollout_controller.py $(PYTEST_ARGS)

# Checkouts through the Order service's saga vs the monolith's synchronous checkout, side by side in one run
# (BENCH_ARGS="--customers 200 --rounds 3 --concurrency 16 --participants 4 --orchestrators 2": copies of the
# saga's consumers); throwaway databases named techstore_bench_saga_*.
bench-saga: install
	DATABASE_URL=$${BENCH_SAGA_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/techstore} \
		$(PY) -m bench.saga $(BENCH_ARGS)

# Events -> email through the Notification service's consumer and Celery worker processes (real RabbitMQ vhost,
# throwaway PostgreSQL database notification_bench_*, aiosmtpd): burst messages/s, then p50/p99 publish -> SMTP
# receipt at half that rate (BENCH_ARGS="--events 5000 --steady-seconds 20 --consumers 1 --worker-concurrency 2").
bench-notifications: install
	DATABASE_URL=$${BENCH_NOTIFICATION_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/techstore} \
		$(PY) -m bench.notifications $(BENCH_ARGS)

# Card charges through the Payment service (async) vs the monolith's synchronous charge, same sandbox latency,
# side by side in one run, and the comparator's pairs/s on payment pairs (BENCH_ARGS="--charges 400 --rounds 3
# --concurrency 16 --latency-ms 100"); throwaway databases techstore_bench_payments_*, payment_bench_*.
bench-payments: install
	DATABASE_URL=$${BENCH_PAYMENTS_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/techstore} \
	REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(PY) -m bench.payments $(BENCH_ARGS)

# The payments cutover drill of tests/e2e/test_payments_cutover_drill.py at full size (make test runs 60 checkouts):
# the stage-5 locust suite's checkouts through the gateway while route.payments.charge goes 0 -> 5 -> 50 -> 100 -> 0 %,
# sandbox faults raised.
drill-payments: install
	DATABASE_URL=$${BENCH_PAYMENTS_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/techstore} \
	PAYMENTS_DRILL_SIZE=$${PAYMENTS_DRILL_SIZE:-600} $(VENV)/bin/pytest -q -s tests/e2e/test_payments_cutover_drill.py $(PYTEST_ARGS)

# Stage 2 end to end (tests/e2e/test_product_sync.py) at full size (make test seeds 3,000 products): backfill
# while staff writes go on, follow, verify, the route moved and back, and the service stopped under reads.
drill-product-sync: install
	PRODUCT_SYNC_SIZE=$${PRODUCT_SYNC_SIZE:-10000} $(TEST_ENV) $(VENV)/bin/pytest -q -s tests/e2e/test_product_sync.py $(PYTEST_ARGS)

# The stock-ownership cutover drill of tests/e2e/test_stock_owner_cutover.py at full size (make test runs 24
# checkouts): the monolith's checkouts go on while stock moves from the monolith to the Product service (README
# "Stock ownership cutover"); its figures are one JSON line ({"checkouts", "paid", "service_stock", ...}).
drill-stock-owner: install
	DATABASE_URL=$${BENCH_STOCK_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/techstore} \
	STOCK_OWNER_DRILL_SIZE=$${STOCK_OWNER_DRILL_SIZE:-600} $(VENV)/bin/pytest -q -s tests/e2e/test_stock_owner_cutover.py $(PYTEST_ARGS)

# The saga chaos drill of tests/e2e/test_saga_drill.py at the issue's size (make test runs 120 checkouts), its traffic
# the stage-4 locust suite's v2 checkouts through the gateway.
drill-saga: install
	DATABASE_URL=$${BENCH_SAGA_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/techstore} \
	SAGA_DRILL_SIZE=$${SAGA_DRILL_SIZE:-1000} $(VENV)/bin/pytest -q -s tests/e2e/test_saga_drill.py $(PYTEST_ARGS)

rollout-controller: install
	$(PY) manage.py migrate --database control --noinput
	$(PY) manage.py rollout run

# The strangler gateway in front of `make monolith` (routes: strangler_proxy/routes.yaml; flags: var/flags.json),
# on GATEWAY_LISTEN or 127.0.0.1:$GATEWAY_PORT; upstreams follow MONOLITH_PORT, PRODUCT_SERVICE_PORT, ...
gateway: install
	$(PY) manage.py gateway $(GATEWAY_ARGS)

# A real Unleash server (the flags integration tests start their own through deploy/unleash/run.sh).
unleash-install:
	bash deploy/unleash/install.sh

# Debian's Chromium: the shadow report's screenshot test opens the HTML report in a real headless browser.
browser-install:
	@if ! test -x /usr/bin/chromium; then \
		echo "installing chromium (Debian package)"; \
		$(APT_SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(APT_SUDO) apt-get install -y -qq --no-install-recommends chromium; \
	fi

unleash-server: unleash-install
	bash deploy/unleash/run.sh

# promtool from Debian's prometheus package, unpacked into .cache/ (no daemon installed or started).
PROMTOOL := .cache/prometheus/usr/bin/promtool
promtool: $(PROMTOOL)
$(PROMTOOL):
	mkdir -p .cache/prometheus
	cd .cache/prometheus && { ls prometheus_*.deb >/dev/null 2>&1 || { $(APT_SUDO) apt-get update -qq && apt-get download prometheus; }; } \
		&& dpkg-deb -x prometheus_*.deb .
	@test -x $(PROMTOOL)

# Production shape: everything is generated from deploy/topology.py and checked offline (no Docker engine or
# cluster needed): check-jsonschema's vendored Compose schema, kubectl kustomize + kubernetes-validate.
deploy-gen: install
	$(PY) -m deploy gen

compose-secrets: install
	$(PY) -m deploy secrets

compose-check: install
	$(PY) -m deploy gen --check
	$(PY) -m deploy validate compose
	$(VENV)/bin/pytest -q -p no:cacheprovider tests/deploy/test_registry.py

prometheus-check: install promtool
	$(PY) -m deploy gen --check
	$(PY) -m deploy validate prometheus
	$(VENV)/bin/pytest -q -p no:cacheprovider tests/deploy/test_observability.py

k8s-check: install
	$(PY) -m deploy gen --check
	$(PY) -m deploy validate k8s
	$(VENV)/bin/pytest -q -p no:cacheprovider tests/deploy/test_manifests.py

# A stage's locust suite, headless, against the gateway (LOAD_HOST, default http://127.0.0.1:8080); the users
# are the seeded customers of DATABASE_URL's monolith. CSV, HTML report and summary under var/load/.
STAGE ?= 1
USERS ?= 20
DURATION ?= 60s
load: install
	$(PY) -m load --stage $(STAGE) --users $(USERS) --duration $(DURATION)

# The restore drill at full size (make test runs it with 300 products): DRILL_ARGS="--products N ...".
drill-restore: install
	DRILL_DATABASE_URL=$${DRILL_DATABASE_URL:-$(TEST_DATABASE_URL)} $(PY) -m deploy.drill restore $(DRILL_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
