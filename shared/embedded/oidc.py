"""A real OpenID provider process for local logins and tests: ``oidc-provider-mock`` from PyPI.

It is a full OIDC provider (discovery, JWKS, authorization code flow, RS256 ID tokens) whose
login page asks only which user to be; users and their claims are given at start.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

__all__ = ["EmbeddedOidcProvider"]


class EmbeddedOidcProvider:
    def __init__(
        self, port: int, users: Sequence[Mapping[str, Any]], *, log_file: Path | None = None
    ) -> None:
        self.port = port
        self.users = list(users)
        self.log_file = log_file
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [sys.executable, "-W", "ignore", "-m", "oidc_provider_mock", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--require-nonce", "true", "--no-refresh-token", "true"]
        for user in self.users:
            command += ["--user-claims", json.dumps(dict(user))]
        output = self.log_file.open("ab") if self.log_file else subprocess.DEVNULL
        self._process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the OpenID provider on port {self.port} exited at start")
            try:
                if httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the OpenID provider on port {self.port} did not start")

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None
