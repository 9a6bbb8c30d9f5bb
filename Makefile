# Every target creates .venv and installs what it needs first, so a fresh clone needs nothing
# but Python 3.11+ (and Node.js for the CDK synth the tests run).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HASH := $(shell cat pyproject.toml | cksum | cut -d' ' -f1)
RUN_STAMP := $(VENV)/.installed-run-$(HASH)
STAMP := $(VENV)/.installed-dev-$(HASH)
# Show what pip is doing on a first install (a quiet pip looks like a hang), not every line.
PIP_PROGRESS := { grep --line-buffered -E '^(Collecting|Installing|Successfully|ERROR)' || true; }
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled

.PHONY: install install-run run test lint typecheck unit bench backtest synth clean node vendor

$(VENV)/bin/python:
	@echo "creating $(VENV)"
	@$(PYTHON) -m venv $(VENV)

# make run installs only what running needs: the runtime and moto's server.
$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	@echo "installing what the runner needs (first run only)"
	@$(BIN)/python -m pip install --disable-pip-version-check -e '.[local]' | $(PIP_PROGRESS)
	@rm -f $(VENV)/.installed-run-*
	@touch $@

# make test and the other targets install everything: test, lint and CDK tooling too.
$(STAMP): pyproject.toml | $(VENV)/bin/python
	@echo "installing the test, lint and CDK tooling (first time only)"
	@$(BIN)/python -m pip install --disable-pip-version-check -e '.[dev]' | $(PIP_PROGRESS)
	@rm -f $(VENV)/.installed-dev-* $(VENV)/.installed-run-*
	@touch $@ $(RUN_STAMP)

install-run: $(RUN_STAMP)

install: $(STAMP)

run: install-run
	$(BIN)/python -m infra.local

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# The CDK synth (tests/infra, make synth) runs through jsii, which needs Node.js; the runner does not.
node:
	@command -v node >/dev/null || { echo "Node.js 18+ is required for the CDK synth (jsii). Install it, then rerun." >&2; exit 1; }

test: node lint typecheck
	$(BIN)/pytest

unit: install
	$(BIN)/pytest tests/unit

# `make bench` runs every benchmark; `make bench maintenance` (any names of bench/__main__.py) some.
BENCHES := ingest scoring coldstart startup package maintenance contact_reads
bench: install
	$(BIN)/python -m bench $(filter $(BENCHES),$(MAKECMDGOALS))
ifneq ($(filter bench,$(MAKECMDGOALS)),)
$(BENCHES): ; @:
endif

# BG/NBD fit against lifetimes on CDNOW (bench/backtest.py); writes docs/img/backtest-calibration.png.
backtest: install
	$(BIN)/python -m bench.backtest

# The console's chart library, from npm at its pinned version and integrity (infra/vendor.py).
# Its files are committed, so run, test and deploy need no npm: this is only for changing them.
vendor:
	$(PYTHON) -m infra.vendor

synth: node install
	$(BIN)/python -m infra.cloud.app

clean:
	rm -rf $(VENV) cdk.out .build .pytest_cache .mypy_cache .ruff_cache
