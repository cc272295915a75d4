"""deploy/container/Dockerfile, read as instructions (building it needs base images this machine
cannot pull): one slim image, installed with pip, run as a numeric non-root user, no secrets."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "deploy" / "container" / "Dockerfile"


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(
        r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    )
    result = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


INSTRUCTIONS = _instructions(DOCKERFILE.read_text())


def _final_stage() -> list[tuple[str, str]]:
    starts = [i for i, (keyword, _) in enumerate(INSTRUCTIONS) if keyword == "FROM"]
    return INSTRUCTIONS[starts[-1] :]


def test_every_stage_builds_from_python_3_11_slim() -> None:
    bases = [args.split()[0] for keyword, args in INSTRUCTIONS if keyword == "FROM"]
    assert bases
    assert all(base == "python:3.11-slim" for base in bases)


def test_the_image_runs_as_a_numeric_non_root_user() -> None:
    users = [args for keyword, args in _final_stage() if keyword == "USER"]
    assert users, "the final stage sets no USER"
    user, _, group = users[-1].partition(":")
    # Numeric, so the kubelet can check runAsNonRoot; the manifests run as the same uid.
    assert user.isdigit()
    assert int(user) != 0
    assert group.isdigit()
    assert int(group) != 0
    manifests = (REPO / "deploy" / "k8s" / "base" / "orders.yaml").read_text()
    assert f"runAsUser: {user}" in manifests


def test_the_image_installs_the_project_with_pip_and_enters_through_tila() -> None:
    runs = " ".join(args for keyword, args in INSTRUCTIONS if keyword == "RUN")
    assert re.search(r"pip install \.(\s|$)", runs)
    (entrypoint,) = [args for keyword, args in _final_stage() if keyword == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["tila"]


@pytest.mark.parametrize("keyword", ["ENV", "ARG", "LABEL"])
def test_no_secret_is_baked_into_the_image(keyword: str) -> None:
    for found, args in INSTRUCTIONS:
        if found == keyword:
            assert not re.search(r"(?i)password|secret|token|private|_key\b|keys|://[^/\s]*@", args), args


def test_only_the_sources_are_copied_never_local_state() -> None:
    copies = [args for keyword, args in INSTRUCTIONS if keyword in ("COPY", "ADD")]
    assert not [args for keyword, args in INSTRUCTIONS if keyword == "ADD"], (
        "ADD fetches and unpacks: use COPY"
    )
    sources = {part for args in copies if "--from=" not in args for part in args.split()[:-1]}
    assert sources == {"pyproject.toml", "README.md", "shared", "services", "tila"}


def test_the_build_context_leaves_out_local_state_and_keys() -> None:
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines() if line.strip()}
    for pattern in (
        "**/.git",
        "**/.venv",
        "**/.data",
        "**/.env",
        "**/*.pem",
        "**/*.key",
        "**/signing-keys.json",
    ):
        assert pattern in ignored, pattern
