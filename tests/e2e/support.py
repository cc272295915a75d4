"""What the end-to-end tests share: ``tila run`` as real processes, started and stopped the way
a newcomer does it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from shared.testing.plugin import free_port

__all__ = ["TILA", "Platform", "running_platform"]

TILA = str(Path(sys.executable).parent / "tila")


class Platform:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.http_port, self.pg_port, self.nats_port = free_port(), free_port(), free_port()
        self.metrics_port = free_port()
        self.idp_ports = f"{free_port()},{free_port()}"
        self.base = f"http://127.0.0.1:{self.http_port}"
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("TILA_PG_ADMIN_URL", "TILA_NATS_URL")}
        env |= {
            "TILA_PG_PORT": str(self.pg_port),
            "TILA_NATS_PORT": str(self.nats_port),
            "TILA_DEMO_IDP_PORTS": self.idp_ports,
            "TILA_METRICS_PORT": str(self.metrics_port),
        }
        env.pop("TILA_LOG_LEVEL", None)  # `tila run`'s own default: quiet
        return env

    def start(self) -> None:
        self.output = []
        self.process = subprocess.Popen(
            [TILA, "--data-dir", str(self.data_dir), "--port", str(self.http_port), "run"],
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # Drain the output all along: a full pipe would block the platform's processes.
        threading.Thread(target=self._drain, args=(self.process,), daemon=True).start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.process.poll() is None:
            if any("Press Ctrl-C" in line for line in self.output):
                return
            time.sleep(0.1)
        raise AssertionError("tila run did not come up:\n" + "".join(self.output[-60:]))

    def _drain(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.output.append(line)

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=60)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        return code

    def token_from_login(self, tenant: str, user: str) -> str:
        return self._tila("login", "--tenant", tenant, "--user", user)

    def token(self, *args: str) -> str:
        return self._tila("token", *args)

    def _tila(self, *args: str) -> str:
        out = subprocess.run(
            [TILA, "--data-dir", str(self.data_dir), "--port", str(self.http_port), *args],
            capture_output=True,
            text=True,
            check=True,
            env=self.env(),
        )
        return out.stdout.strip()


@contextlib.contextmanager
def running_platform(data_dir: Path) -> Iterator[Platform]:
    """A ``tila run`` on ``data_dir`` for the block; stopped (Ctrl-C) after it unless already stopped."""
    running = Platform(data_dir)
    running.start()
    try:
        yield running
    finally:
        if running.process is not None and running.process.poll() is None:
            running.stop()
