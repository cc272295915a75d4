"""The README's journey, run exactly as a reader runs it (issue 13, item 7).

Every ``sh`` snippet of the README's journey sections (from "Log in as a demo user" up to "The
whole journey in one test") runs as written, in order, in one ``bash -euo pipefail`` session,
against a ``tila run`` of its own. The session's working directory stands in for the reader's
checkout: ``.venv`` is this checkout's, ``.data`` the platform's data directory; the only change
to the text is the base URL (the platform serves on a free port instead of 8000), and the ``tila``
commands find the platform by ``TILA_PORT`` and ``TILA_DATA_DIR`` as they would after ``make run``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.testing.plugin import Stack
from tests.billing.einvoice import assert_valid_finvoice, assert_valid_ubl, finvoice_schema
from tests.e2e.support import Platform, running_platform

README = Path(__file__).resolve().parents[2] / "README.md"
FIRST, AFTER_LAST = "### Log in as a demo user", "### The whole journey in one test"
README_BASE = "http://127.0.0.1:8000"
END_OF_SNIPPET = "::tila-readme-snippet-done::"


def journey_snippets(text: str) -> list[str]:
    """The ``sh`` blocks between the journey's first section and the journey test's section."""
    start, end = text.index(FIRST), text.index(AFTER_LAST)
    return re.findall(r"^```sh\n(.*?)^```$", text[start:end], flags=re.MULTILINE | re.DOTALL)


@pytest.fixture(scope="module")
def platform(stack: Stack) -> Iterator[Platform]:
    with running_platform(stack.root / "readme-data") as running:
        yield running


def _wait_for_the_demo_world(platform: Platform) -> None:
    """A reader reads the banner before typing: by then the seeded cost centres have reached
    orders. The test is quicker than any reader, so it waits for what the reader's pause gives."""
    token = platform.token_from_login("demo-buyer", "aino.admin")
    deadline = time.monotonic() + 60
    with httpx.Client(timeout=10) as client:
        while time.monotonic() < deadline:
            page = client.get(
                f"{platform.base}/orders/cost-centres", headers={"Authorization": f"Bearer {token}"}
            )
            if page.status_code == 200 and len(page.json()["items"]) == 2:
                return
            time.sleep(0.5)
    raise AssertionError("the demo cost centres never reached orders")


def test_the_readme_has_its_journey_as_runnable_snippets() -> None:
    snippets = journey_snippets(README.read_text())
    assert len(snippets) >= 8, len(snippets)
    text = "\n".join(snippets)
    for absent in ("uuidgen", "<order>", "<id>", "<etag>", "<tenant id>", "2027-", "2024-"):
        assert absent not in text, absent
    assert "tila demo" in README.read_text().split(FIRST)[0]


def test_the_readme_journey_runs_as_written_against_tila_run(platform: Platform, tmp_path: Path) -> None:
    _wait_for_the_demo_world(platform)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / ".venv").symlink_to(Path(sys.executable).parent.parent)
    (checkout / ".data").symlink_to(platform.data_dir)
    snippets = journey_snippets(README.read_text())
    env = platform.env() | {"TILA_PORT": str(platform.http_port), "TILA_DATA_DIR": str(platform.data_dir)}
    env.pop("TILA_PG_ADMIN_URL", None)
    shell = subprocess.Popen(
        ["bash", "--norc", "--noprofile", "-euo", "pipefail"],
        cwd=checkout,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert shell.stdin is not None
    assert shell.stdout is not None
    outputs: list[str] = []
    try:
        for number, snippet in enumerate(snippets, 1):
            shell.stdin.write(snippet.replace(README_BASE, platform.base))
            shell.stdin.write(f"\necho {END_OF_SNIPPET}\n")
            shell.stdin.flush()
            lines: list[str] = []
            for line in shell.stdout:  # a snippet that loops for ever is ended by pytest's timeout
                if line.strip() == END_OF_SNIPPET:
                    break
                lines.append(line)
            else:
                code = shell.wait(timeout=30)
                output = "".join(lines)[-4000:]
                raise AssertionError(f"snippet {number} failed (exit {code}):\n{snippet}\n---\n{output}")
            outputs.append("".join(lines))
    finally:
        shell.stdin.close()
        try:
            shell.wait(timeout=30)
        except subprocess.TimeoutExpired:
            shell.kill()
    assert shell.returncode == 0
    everything = "\n".join(outputs)
    assert "\naccepted\n" in everything  # `json status` after the provider accepted
    assert re.search(r"\nTO-\d{4}-000001\n", everything)
    issued = [json.loads(line) for line in everything.splitlines() if '"status":"issued"' in line]
    assert any(i.get("kind") == "invoice" and i["number"] for i in issued), issued
    assert any(i.get("kind") == "credit_note" for i in issued), issued
    assert "\ncredit_note\n" in everything
    assert '"employeeNumber": "H1002"' in everything
    assert '"reasonCode": "TYONOHJAUS"' in everything
    assert "/start?invitation=tila_inv_" in everything
    assert_valid_ubl((checkout / "invoice-ubl.xml").read_bytes())
    assert_valid_finvoice((checkout / "invoice-finvoice.xml").read_bytes(), finvoice_schema())
