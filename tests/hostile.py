"""A hostile HTTP server for tests of outbound calls: a raw asyncio TCP server, on its own thread
and event loop (so a test client that blocks the test's loop cannot stall it), that answers
every request with a body that never ends, drips, or decompresses into far more than it sends.

``answers`` can give a path an ordinary JSON answer instead (a discovery document pointing
elsewhere, say); every request line and its headers are kept in ``requests``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import zlib
from collections.abc import Callable
from typing import Any

from shared.testing.plugin import free_port

__all__ = ["HostileServer", "rss_bytes"]

CHUNK = b"[" * (1024 * 1024)
"""One MiB; an endless body is this, again and again."""


def rss_bytes() -> int:
    """This process's resident set size now (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _gzip_bomb(size: int) -> bytes:
    """``size`` bytes of zeros, gzip-compressed (a few hundred kilobytes for 300 MB)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1024 * 1024)
    parts = [compressor.compress(zeros) for _ in range(size // len(zeros))]
    parts.append(compressor.flush())
    return b"".join(parts)


class HostileServer:
    """``mode``: ``endless`` (200, chunked, 1 MiB chunks until the peer goes away), ``drip``
    (200, one byte every ``drip_interval`` seconds, forever) or ``gzip`` (200, ``Content-Encoding:
    gzip``, 300 MB of zeros in a few hundred kilobytes)."""

    def __init__(self, mode: str = "endless", *, drip_interval: float = 0.2) -> None:
        self.mode = mode
        self.drip_interval = drip_interval
        self.port = free_port()
        self.sent = 0
        """Body bytes written so far, over all connections."""
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.answers: dict[str, Callable[[], dict[str, Any]]] = {}
        self._bomb = _gzip_bomb(300 * 1024 * 1024) if mode == "gzip" else b""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HostileServer:
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"hostile-{self.mode}")
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the hostile server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(30)

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self._ready.set()
        async with server:
            await self._stop.wait()
            server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines[1:] if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
            self.requests.append((lines[0], headers, body))
            path = lines[0].split(" ")[1] if " " in lines[0] else "/"
            if path in self.answers:
                payload = json.dumps(self.answers[path]()).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
                    + f"content-length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
                return
            await getattr(self, f"_{self.mode}")(writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def _endless(self, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        frame = f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n"
        while True:
            writer.write(frame)
            await writer.drain()
            self.sent += len(CHUNK)

    async def _drip(self, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        while True:
            writer.write(b"1\r\n \r\n")
            await writer.drain()
            self.sent += 1
            await asyncio.sleep(self.drip_interval)

    async def _gzip(self, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n"
            + f"content-length: {len(self._bomb)}\r\n\r\n".encode()
        )
        writer.write(self._bomb)
        await writer.drain()
        self.sent += len(self._bomb)
