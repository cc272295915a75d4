"""The layout rules (pyproject ``[tool.importlinter]``) hold, and each one catches its violation.

Each case copies the sources to a temporary folder, adds one forbidden import and runs
``lint-imports`` with the project's own contracts there: the contract named must break.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PACKAGES = ("shared", "services", "tila")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "500"}  # no wrapped lines
    return subprocess.run(
        [str(LINT_IMPORTS), str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_tree_keeps_every_contract() -> None:
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


VIOLATIONS = [
    ("services/orders/handlers/orders.py", "import services.billing.store", "independent of each other"),
    ("services/billing/domain/__init__.py", "import asyncpg", "domain is free of I/O"),
    ("services/sessions/domain/__init__.py", "import litestar", "domain is free of I/O"),
    ("services/orders/domain/__init__.py", "import shared.db.pool", "domain is free of I/O"),
    ("services/organisations/domain/__init__.py", "import shared.events.outbox", "domain is free of I/O"),
    ("shared/ids.py", "import services.orders", "shared never knows"),
    ("shared/errors.py", "import tila.composition", "shared never knows"),
    ("services/billing/handlers/__init__.py", "import tila.cli", "never import the composition root"),
    ("services/orders/api/routes.py", "import services.orders.store", "only through its handlers"),
]


@pytest.mark.parametrize(("path", "statement", "contract"), VIOLATIONS)
def test_each_contract_catches_its_violation(
    tmp_path: Path, path: str, statement: str, contract: str
) -> None:
    for package in PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / path
    target.write_text(target.read_text() + f"\n{statement}  # a deliberate violation\n")
    result = _lint(tmp_path)
    assert result.returncode != 0, result.stdout
    broken = [line for line in result.stdout.splitlines() if " BROKEN" in line]
    assert [line for line in broken if contract in line], result.stdout
