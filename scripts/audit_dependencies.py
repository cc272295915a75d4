"""`make lint`'s dependency audit: pip-audit over the installed environment, failing on any known
advisory, and saying plainly what it could not audit.

pip-audit asks PyPI's per-version JSON API (``/pypi/<name>/<version>/json``) for advisories. Where
that API does not answer (some mirrors and sandboxes serve only the project JSON), pip-audit
reports the package as skipped and still says "No known vulnerabilities found"; this script does not
let that pass as green: a skipped package is audited from the project JSON's ``vulnerabilities``
when the installed version is the latest release (that list is the latest release's), and whatever
is still unaudited is listed. ``TILA_AUDIT_STRICT=1`` (for CI with full network) makes unaudited
packages an error too.

Exit status: 1 on a known advisory (or, when strict, on anything unaudited), else 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from typing import Any

import httpx

PYPI = os.environ.get("TILA_AUDIT_PYPI", "https://pypi.org/pypi")


def run_pip_audit() -> dict[str, Any]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip_audit",
            "-s",
            "pypi",
            "--skip-editable",
            "-l",
            "-f",
            "json",
            "--progress-spinner",
            "off",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError:
        print(result.stderr, file=sys.stderr)
        raise SystemExit("pip-audit did not produce a report") from None
    return report


def project_advisories(client: httpx.Client, name: str, version: str) -> list[dict[str, Any]] | None:
    """The latest release's advisories if ``version`` is the latest release, else None (unknown)."""
    try:
        response = client.get(f"{PYPI}/{name}/json")
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    data = response.json()
    if data.get("info", {}).get("version") != version:
        return None
    advisories: list[dict[str, Any]] = data.get("vulnerabilities") or []
    return advisories


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def main() -> int:
    report = run_pip_audit()
    found: list[str] = []
    unaudited: list[str] = []
    audited = 0
    with httpx.Client(timeout=20) as client:
        for dep in report.get("dependencies", []):
            name = dep["name"]
            version = dep.get("version") or _installed(name)
            if "skip_reason" in dep:
                if "editable" in dep["skip_reason"]:
                    continue
                advisories = project_advisories(client, name, version) if version else None
                if advisories is None:
                    unaudited.append(f"{name} {version}")
                    continue
                vulns = [{"id": a.get("id"), "fix_versions": a.get("fixed_in")} for a in advisories]
            else:
                vulns = dep.get("vulns", [])
            audited += 1
            for vuln in vulns:
                found.append(f"{name} {version}: {vuln.get('id')} (fixed in {vuln.get('fix_versions')})")
    print(f"dependency audit: {audited} packages audited, {len(found)} known advisories")
    for line in found:
        print(f"  ADVISORY {line}")
    if unaudited:
        print(
            f"dependency audit: {len(unaudited)} packages could NOT be audited from this machine (the"
            " advisory"
            " service did not answer for their installed version): " + ", ".join(unaudited)
        )
    if found:
        return 1
    if unaudited and os.environ.get("TILA_AUDIT_STRICT") == "1":
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
