"""The `tila` CLI as a user meets it when nothing runs yet (issue 13, item 15): every command reads
the settings `tila run` reads (TILA_PORT, TILA_PG_PORT, …), options override them before or after
the command's name, and a refusal is one line on stderr with a non-zero exit code — no traceback.

(With the platform running, tests/e2e/test_platform.py drives the same commands by environment only.)
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from shared.testing.plugin import free_port
from tests.e2e.support import TILA


def _tila(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TILA_")}
    return subprocess.run(
        [TILA, *args], capture_output=True, text=True, env=clean | env, cwd=cwd, timeout=120, check=False
    )


def _one_line_refusal(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("tila: ")
    return lines[0]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.mark.parametrize("command", [["login", "--tenant", "demo-buyer", "--user", "aino.admin"]])
def test_a_refused_connection_is_one_line_naming_the_url_from_tila_port(
    tmp_path: Path, data_dir: Path, command: list[str]
) -> None:
    port = free_port()
    result = _tila(*command, env={"TILA_PORT": str(port), "TILA_DATA_DIR": str(data_dir)}, cwd=tmp_path)
    assert _one_line_refusal(result) == (
        f"tila: cannot reach http://127.0.0.1:{port} (connection refused) — is `make run` running?"
    )


def test_an_option_after_the_command_overrides_the_environment(tmp_path: Path, data_dir: Path) -> None:
    env_port, flag_port = free_port(), free_port()
    result = _tila(
        "login",
        "--port",
        str(flag_port),
        "--tenant",
        "demo-buyer",
        "--user",
        "aino.admin",
        env={"TILA_PORT": str(env_port), "TILA_DATA_DIR": str(data_dir)},
        cwd=tmp_path,
    )
    assert f"http://127.0.0.1:{flag_port} " in _one_line_refusal(result)
    before = _tila(
        "--port",
        str(flag_port),
        "login",
        "--tenant",
        "demo-buyer",
        "--user",
        "aino.admin",
        env={"TILA_PORT": str(env_port), "TILA_DATA_DIR": str(data_dir)},
        cwd=tmp_path,
    )
    assert f"http://127.0.0.1:{flag_port} " in _one_line_refusal(before)


def test_audit_verify_reads_tila_pg_port_and_says_when_postgres_is_not_there(
    tmp_path: Path, data_dir: Path
) -> None:
    data_dir.mkdir()
    (data_dir / "role-secret").write_text("local-secret")
    port = free_port()
    tenant = str(uuid.uuid4())
    env = {"TILA_PG_PORT": str(port), "TILA_DATA_DIR": str(data_dir)}
    result = _tila("audit-verify", "--tenant", tenant, env=env, cwd=tmp_path)
    assert _one_line_refusal(result) == (
        f"tila: cannot reach PostgreSQL at 127.0.0.1:{port} (connection refused) — is `make run` running?"
    )
    other = free_port()
    flagged = _tila("audit-verify", "--pg-port", str(other), "--tenant", tenant, env=env, cwd=tmp_path)
    assert f"127.0.0.1:{other} " in _one_line_refusal(flagged)


def test_commands_without_a_local_stack_say_so_in_one_line(tmp_path: Path, data_dir: Path) -> None:
    env = {"TILA_DATA_DIR": str(data_dir), "TILA_PG_PORT": str(free_port())}
    token = _one_line_refusal(_tila("token", "--role", "platform_admin", env=env, cwd=tmp_path))
    assert "no signing keys" in token
    assert "make run" in token
    audit = _one_line_refusal(_tila("audit-verify", "--tenant", str(uuid.uuid4()), env=env, cwd=tmp_path))
    assert "no local stack" in audit
    bad = _one_line_refusal(
        _tila("audit-verify", "--tenant", "not-a-uuid", env=env | {"TILA_PG_ROLE_SECRET": "x"}, cwd=tmp_path)
    )
    assert "not a tenant id" in bad
