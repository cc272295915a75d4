"""Resolving a webhook's host, and the check every resolved address must pass (SSRF)."""

from __future__ import annotations

import asyncio
import socket

from services.integrations.domain.webhooks import Target, TargetNotAllowed, check_addresses

__all__ = ["resolve_allowed"]

_RESOLVE_TIMEOUT = 5.0


async def resolve_allowed(target: Target, *, allow_loopback: bool) -> list[str]:
    """The addresses ``target.host`` resolves to now, if every one of them may be called."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(_RESOLVE_TIMEOUT):
            infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError):
        raise TargetNotAllowed("the host does not resolve") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    check_addresses(addresses, allow_loopback=allow_loopback)
    return addresses
