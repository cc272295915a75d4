# Tila: two commands on a fresh machine — `make run` and `make test`.
# Both bootstrap .venv from pyproject.toml; nothing else needs to be installed beforehand.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint fmt bench venv clean-data security audit

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Tila needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/tila run

test: $(STAMP)
	$(BIN)/python -m pytest

# The rules, as CI checks them (.ci/run): style, formatting, strict types (shared, services, tila,
# tests, bench, scripts, deploy), the dependency audit and the layout rules (pyproject
# [tool.importlinter]; docs/architecture.md, "Layout rules").
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python scripts/audit_dependencies.py
	$(BIN)/lint-imports --no-cache

# Known advisories in the installed packages (pip-audit; see scripts/audit_dependencies.py for what
# happens where the advisory service cannot be reached). TILA_AUDIT_STRICT=1 fails on unaudited ones.
audit: $(STAMP)
	$(BIN)/python scripts/audit_dependencies.py

# The security suite at full strength: more generated cases and longer stateful runs (marker "security").
security: $(STAMP)
	$(BIN)/python -m pytest tests/security -m "security or not security"

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m bench.outbox_throughput

clean-data:
	rm -rf .data
