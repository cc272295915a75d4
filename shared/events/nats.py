"""Connecting to NATS so that a restarting server is waited for, not fatal."""

from __future__ import annotations

import nats
from nats.aio.client import Client as NATS

from shared.logging import get_logger

__all__ = ["connect_nats", "inbox_prefix"]

log = get_logger(__name__)


def inbox_prefix(service: str) -> str:
    """Each service's replies arrive under its own prefix, so its NATS user may read only those."""
    return f"_INBOX_{service}"


async def connect_nats(url: str, *, name: str, service: str | None = None) -> NATS:
    connected = True  # one warning per outage, not one per reconnect attempt

    async def disconnected() -> None:
        nonlocal connected
        if connected:
            log.warning("nats_disconnected", client=name)
        connected = False

    async def reconnected() -> None:
        nonlocal connected
        connected = True
        log.info("nats_reconnected", client=name)

    async def error(exc: Exception) -> None:
        log.warning("nats_error", client=name, error=repr(exc))

    return await nats.connect(
        url,
        name=name,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=2,
        disconnected_cb=disconnected,
        reconnected_cb=reconnected,
        error_cb=error,
        **({"inbox_prefix": inbox_prefix(service)} if service else {}),
    )
