"""The PostgreSQL and NATS a process needs: the ones named by URL, or embedded ones of its own."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from shared.embedded.nats import EmbeddedNats
from shared.embedded.postgres import EmbeddedPostgres

__all__ = ["Servers", "free_port", "servers"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Servers:
    pg_admin_url: str
    nats_url: str
    postgres: EmbeddedPostgres | None
    """None when ``TILA_PG_ADMIN_URL`` named an external server."""
    nats: EmbeddedNats | None
    """None when ``TILA_NATS_URL`` named an external server."""


@contextmanager
def servers(
    root: Path,
    *,
    pg_port: int | None = None,
    nats_port: int | None = None,
    durable: bool = True,
    announce: Callable[[str], None] = lambda _: None,
) -> Iterator[Servers]:
    """Use ``TILA_PG_ADMIN_URL`` / ``TILA_NATS_URL`` when set; otherwise start servers under ``root``
    (on free ports unless given) and stop them on exit."""
    postgres = nats = None
    try:
        admin_url = os.environ.get("TILA_PG_ADMIN_URL")
        if not admin_url:
            postgres = EmbeddedPostgres(root / "postgres", pg_port or free_port(), durable=durable)
            where = f"127.0.0.1:{postgres.port}, data in {postgres.data}"
            announce(f"starting PostgreSQL ({postgres.bindir}) on {where}")
            postgres.start()
            admin_url = postgres.admin_url
        nats_url = os.environ.get("TILA_NATS_URL")
        if not nats_url:
            nats = EmbeddedNats(root / "nats", nats_port or free_port())
            announce(f"starting NATS JetStream on 127.0.0.1:{nats.port}, store in {nats.store}")
            nats.start()
            nats_url = nats.url
        yield Servers(pg_admin_url=admin_url, nats_url=nats_url, postgres=postgres, nats=nats)
    finally:
        if nats is not None:
            nats.stop()
        if postgres is not None:
            postgres.stop()
