# Every target creates .venv and installs what it needs first, so a fresh clone needs nothing
# but Python 3.11+ (and Node.js for the CDK synth the tests run).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled

.PHONY: install run test lint typecheck unit bench backtest synth clean node vendor

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

run: install
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

bench: install
	$(BIN)/python -m bench

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
