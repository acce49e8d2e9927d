# PolkaCompute: one entry point for setting up, testing and benchmarking.
# Everything comes from the package registries (npm for forge/anvil/solc, PyPI for Python tools);
# stamps make re-runs fast when nothing changed.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NODE_MODULES := contracts/node_modules
FOUNDRY_BIN := $(abspath $(NODE_MODULES)/@foundry-rs/forge-linux-amd64/bin):$(abspath $(NODE_MODULES)/@foundry-rs/anvil-linux-amd64/bin):$(abspath $(NODE_MODULES)/@foundry-rs/cast-linux-amd64/bin)
export PATH := $(FOUNDRY_BIN):$(PATH)

.PHONY: setup build test test-contracts size-check slither coverage bench-gas clean

setup: $(NODE_MODULES)/.stamp $(VENV)/.stamp

$(NODE_MODULES)/.stamp: contracts/package.json contracts/package-lock.json
	@# npm ci rejects this lockfile: the foundry packages list platform binaries the registry lacks.
	cd contracts && npm install --no-audit --no-fund --loglevel=error
	@test -x $(NODE_MODULES)/@foundry-rs/forge-linux-amd64/bin/forge || \
		{ echo "forge binary missing after npm install (this Makefile expects linux-amd64)"; exit 1; }
	touch $@

$(VENV)/.stamp: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

build: setup
	cd contracts && forge build

size-check: build
	$(PYTHON) contracts/tools/check_sizes.py

test-contracts: build
	cd contracts && forge test

## Static analysis: fails on any medium or high finding not justified inline (see contracts/README.md).
slither: build
	cd contracts && $(abspath $(VENV))/bin/slither . --config-file slither.config.json --fail-medium

## Line coverage of contracts/src, at least 90%.
coverage: setup
	cd contracts && rm -f lcov.info && forge coverage --report lcov --report-file lcov.info --no-match-path "test/invariant/*" >/dev/null && \
		$(PYTHON) tools/coverage_gate.py lcov.info 90

## Runs every test of the repository.
test: setup size-check test-contracts slither coverage

## Gas of complete job lifecycles on a real anvil -> bench/results/gas.json
bench-gas: build
	$(PY) bench/gas.py

clean:
	rm -rf contracts/out contracts/cache
