# tanxiao — developer commands. `make run` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROTO_FILES := $(shell find protos -name '*.proto' | sort)
PROTO_PACKAGES := tanxiao/common tanxiao/common/v1 tanxiao/registry tanxiao/registry/v1 \
                  tanxiao/scoring tanxiao/scoring/v1 tanxiao/portfolio tanxiao/portfolio/v1
export TANXIAO_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
DEMO_ENTERPRISES ?= 60

.PHONY: help install pdf-deps browser client-deps run test test-heavy test-deploy test-fast lint protos protos-check openapi bench soak clean

help:
	@echo "make run    - venv, install, migrate, demo data, start the services (SQLite)"
	@echo "make test   - the test suite (SQLite and PostgreSQL), installing what it needs (under 10 min)"
	@echo "make test-heavy - the minutes-long suites: real browser, soak, starvation, crash recovery"
	@echo "make test-deploy - registry, two scoring replicas and the console on network namespaces (root)"
	@echo "make lint   - ruff, mypy, import contracts, docs/openapi.yaml current, buf lint and buf breaking when npm is there"
	@echo "make protos - regenerate Python code and docs/openapi.yaml from protos/"
	@echo "make client-deps - Node packages and Debian grpc-java/protoc/JDK for the example clients"
	@echo "make bench  - benchmarks against an echo baseline measured in the same run"
	@echo "make soak   - the long soak test (minutes): concurrent ingest, quotes and reports"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

protos: $(STAMP)
	$(BIN)/python -m tanxiao.protogen --out .
	$(BIN)/python -m tanxiao.httpapi.openapi

# The OpenAPI document of the HTTP/JSON gateway, generated from the protos' google.api.http rules.
openapi: $(STAMP)
	$(BIN)/python -m tanxiao.httpapi.openapi

protos-check: $(STAMP)
	$(BIN)/python -m tanxiao.protogen --check

# make run is development on loopback: plaintext and no tokens (the servers say so in their logs and
# refuse these modes on any other address), Prometheus metrics on :9464 (registry) and :9465 (scoring),
# and the web console beside the services (its URL is printed; TANXIAO_CONSOLE_LISTEN, default
# 127.0.0.1:50080). Production: docs/security.md, docs/operations.md, docs/console.md.
run: export TANXIAO_ALLOW_PLAINTEXT ?= true
run: export TANXIAO_AUTH_REQUIRED ?= false
run: export TANXIAO_REGISTRY_METRICS_LISTEN ?= 127.0.0.1:9464
run: export TANXIAO_SCORING_METRICS_LISTEN ?= 127.0.0.1:9465
run: $(STAMP)
	$(BIN)/tanxiao db upgrade
	$(BIN)/tanxiao demo-data --enterprises $(DEMO_ENTERPRISES) --if-empty
	$(BIN)/tanxiao serve all

# The browser tests drive Debian's chromium (never a browser downloaded by Playwright); CJK fonts so that
# Chinese renders in the screenshots instead of boxes.
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  echo "installing chromium and CJK fonts (apt-get) for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	fi

# PDF exports (WeasyPrint) need Pango and a CJK font from Debian; installed when missing.
PDF_DEBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk poppler-utils
pdf-deps:
	@missing=$$(for p in $(PDF_DEBS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing $$missing"; \
	  (apt-get update -qq && apt-get install -y -qq $$missing) || \
	  (sudo apt-get update -qq && sudo apt-get install -y -qq $$missing); \
	fi

# The client examples' toolchains (tests/integration/test_client_examples.py): Node packages from npm
# (package-lock.json), and grpc-java, protoc, its Java plugin, a JDK and the v1 reflection proto from
# Debian (Maven Central is not needed: examples/java/build.sh compiles against Debian's jars).
CLIENT_DEBS := protobuf-compiler protobuf-compiler-grpc-java-plugin libgrpc-java libprotobuf-java libguava-java \
               libnetty-java libperfmark-java libgeronimo-annotation-1.3-spec-java default-jdk-headless grpc-proto
client-deps:
	@missing=$$(for p in $(CLIENT_DEBS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing $$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) || \
	  (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null); \
	fi
	@if command -v npm >/dev/null 2>&1 && [ ! -d examples/node/node_modules/@grpc/grpc-js ]; then \
	  npm ci --silent --no-audit --no-fund --prefix examples/node; \
	fi

# make test stays under ten minutes on CI's two cores; the minutes-long suites (real browser, soak,
# starvation, crash recovery: marked `heavy`) have their own target, which .ci/run also runs.
test: $(STAMP) pdf-deps client-deps
	$(BIN)/python -m pytest -n 2 --dist loadfile -q -m 'not heavy and not deploy' --durations=15

test-heavy: $(STAMP) pdf-deps browser client-deps
	$(BIN)/python -m pytest -n 2 --dist loadfile -q -m heavy

# The registry, two scoring replicas and the console on network namespaces of the test's own (needs root
# and iproute2), mutual TLS between them, one replica killed mid-load (tests/deploy; docs/operations.md).
test-deploy: $(STAMP)
	@command -v ip >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq iproute2 >/dev/null)
	$(BIN)/python -m pytest -q -m deploy tests/deploy

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m 'not slow and not postgres and not heavy and not deploy'

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m tanxiao.httpapi.openapi --check
	$(BIN)/lint-imports
	@if command -v npm >/dev/null 2>&1; then \
	  [ -x .tools/node_modules/.bin/buf ] || npm install --silent --no-audit --no-fund --prefix .tools @bufbuild/buf@1.75.0; \
	  (cd protos && ../.tools/node_modules/.bin/buf lint && echo "buf lint: ok") && ops/contract/breaking.sh; \
	else echo "npm not found: buf lint and buf breaking skipped"; fi

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

soak: $(STAMP)
	$(BIN)/python tests/soak.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
