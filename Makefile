# arm-sim developer tasks. `make test` is what CI runs (plus `make test-postgres`).
VENV    := .venv
BIN     := $(VENV)/bin
AZ_VENV := .venv-az
AZ      := $(CURDIR)/$(AZ_VENV)/bin/az
AZ_CLI_VERSION := 2.91.0
PG_PORT ?= 55433
PYTEST_ARGS ?=
PYTEST  = ARM_SIM_AZ=$(AZ) $(BIN)/pytest -n 2 -q $(PYTEST_ARGS)

.PHONY: venv az js run test test-postgres lint openapi bench bench-peers bench-all fuzz conformance clean distclean browser \
	screenshots

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

# The Azure CLI is big: install it into its own venv, only when missing.
az: $(AZ)
$(AZ):
	test -x $(AZ_VENV)/bin/python || python3 -m venv $(AZ_VENV)
	$(AZ_VENV)/bin/python -m pip install -q --upgrade pip
	$(AZ_VENV)/bin/python -m pip install -q azure-cli==$(AZ_CLI_VERSION)
	test -x $@

# The Azure SDK for JavaScript that tests/test_proxy_js.py runs through the proxy (node 20+ and npm), pinned in
# tests/js/package-lock.json: installed again only when the lock (or package.json) is newer than the last install;
# --engine-strict: a node older than the lock's "engines" fails here, not as a skipped or failing test.
JS_STAMP := tests/js/node_modules/.installed
js: $(JS_STAMP)
$(JS_STAMP): tests/js/package.json tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund --engine-strict
	touch $@

run: venv
	$(BIN)/arm-sim serve

# The console (/_sim/console/) in a real browser: Playwright for Python driving the system Chromium (Debian's
# `chromium`; `playwright install` is never run). `make screenshots` saves the graph, timeline and explain views
# into docs/images/ (the README shows them). CHROMIUM=/path/to/chromium to use another one.
CHROMIUM ?= /usr/bin/chromium
PLAYWRIGHT_STAMP := $(VENV)/.installed-playwright
$(PLAYWRIGHT_STAMP): $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[test,playwright]'
	touch $@
browser: venv $(PLAYWRIGHT_STAMP)
	ARM_SIM_REQUIRE_BROWSER=1 ARM_SIM_CHROMIUM=$(CHROMIUM) $(BIN)/pytest -q -m browser tests/test_console_browser.py
screenshots: venv $(PLAYWRIGHT_STAMP)
	ARM_SIM_REQUIRE_BROWSER=1 ARM_SIM_CHROMIUM=$(CHROMIUM) ARM_SIM_SCREENSHOTS=$(CURDIR)/docs/images $(BIN)/pytest -q -m browser \
		tests/test_console_browser.py -k seed_story

lint: venv
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test: venv az js lint
	$(PYTEST)

# Throwaway PostgreSQL in a temp dir; stopped on exit whatever happens; pytest's exit code is kept.
test-postgres: venv az js
	@set -e; dir=$$(mktemp -d /tmp/arm-sim-pg.XXXXXX); \
	trap 'bash .ci/pg.sh stop "$$dir"' EXIT; trap 'exit 130' INT TERM; \
	url=$$(bash .ci/pg.sh start "$$dir" $(PG_PORT)); \
	echo "ARM_SIM_TEST_DATABASE_URL=$$url"; \
	ARM_SIM_TEST_DATABASE_URL="$$url" $(PYTEST)

openapi: venv
	$(BIN)/arm-sim openapi --out openapi/

bench: venv
	$(BIN)/python bench/run.py

# Issue 18: the identity cycle against moto's IAM cycle, measured in one run (bench/peers.py). moto and boto3 are
# bench-only: pinned here, installed into a venv of their own inside .venv (ignored by git, removed by distclean),
# again only when a pin changes. PEERS_ARGS="--rounds 1 --duration 1" for a smoke run.
PEERS_VENV := $(VENV)/peers
MOTO_VERSION := 5.2.5
BOTO3_VERSION := 1.44.5
BOTOCORE_VERSION := 1.44.5
PEERS_STAMP := $(PEERS_VENV)/.installed-moto-$(MOTO_VERSION)-boto3-$(BOTO3_VERSION)-botocore-$(BOTOCORE_VERSION)
PEERS_ARGS ?=
bench-peers: venv $(PEERS_STAMP)
	$(BIN)/python bench/peers.py --moto-python $(PEERS_VENV)/bin/python $(PEERS_ARGS)
$(PEERS_STAMP):
	test -x $(PEERS_VENV)/bin/python || python3 -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install -q --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install -q 'moto[server]==$(MOTO_VERSION)' 'boto3==$(BOTO3_VERSION)' \
		'botocore==$(BOTOCORE_VERSION)'
	rm -f $(PEERS_VENV)/.installed-*
	touch $@

# Issue 18: every ratio of the performance table in one command (bench/all.py: run.py, keyvault.py, identity.py,
# peers.py, deploy.py one after the other; ~5 min with the defaults), with its band over rounds and PASS/BELOW. It
# reports, it does not gate: non-zero only when a bench could not run. Smoke run:
# ALL_ARGS="--rounds 1 --duration 1 --large 1000 --deploy 200" (what .ci/run does).
ALL_ARGS ?=
bench-all: venv $(PEERS_STAMP)
	$(BIN)/python bench/all.py --moto-python $(CURDIR)/$(PEERS_VENV)/bin/python $(ALL_ARGS)

# Public Azure recordings (az CLI scenario tests, REST spec examples) replayed against a fresh simulator: prints the
# figures, lists every mismatch in tests/conformance/MISMATCHES.md, fails below tests/conformance/baseline.json.
# CONFORMANCE_ARGS=--update-baseline raises the floor; --only NAME replays some recordings.
CONFORMANCE_ARGS ?=
conformance: venv
	$(BIN)/python -m tests.conformance.replay --out tests/conformance/MISMATCHES.md $(CONFORMANCE_ARGS)

# Schemathesis over openapi/*.json against a fresh simulator, each plane with its own credential: fails on any 5xx,
# a 4xx outside its plane's error shape, or a simulator that no longer answers (bench/fuzz_openapi.py).
# FUZZ_ARGS="--max-examples 10" for a quicker run, "--database-url URL" for an empty PostgreSQL database.
FUZZ_ARGS ?=
fuzz: venv
	$(BIN)/python bench/fuzz_openapi.py $(FUZZ_ARGS)

# SIGKILL under 8 concurrent writers, restart, check every acknowledged write and every lifecycle invariant
# (bench/crashloop.py): on SQLite, then on a throwaway PostgreSQL cluster. CRASHLOOP_ARGS="--cycles 30" for more.
CRASHLOOP_ARGS ?=
.PHONY: crashloop
crashloop: venv
	$(BIN)/python bench/crashloop.py $(CRASHLOOP_ARGS)
	@set -e; dir=$$(mktemp -d /tmp/arm-sim-pg.XXXXXX); \
	trap 'bash .ci/pg.sh stop "$$dir"' EXIT; trap 'exit 130' INT TERM; \
	url=$$(bash .ci/pg.sh start "$$dir" $(PG_PORT)); \
	$(BIN)/python bench/crashloop.py --database-url "$$url" $(CRASHLOOP_ARGS)

clean:
	rm -rf .pytest_cache .ruff_cache build *.egg-info
	find . -path ./$(VENV) -prune -o -path ./$(AZ_VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) $(AZ_VENV)
