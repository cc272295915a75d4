"""Webhook rules: which URLs may be called, when a failed delivery is tried again, secrets.

No I/O here: the delivery loop resolves host names and hands the addresses to
:func:`forbidden_address`; the clock and the random source are parameters.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import random
import secrets
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass

from shared.errors import DomainError, FieldError

__all__ = [
    "SECRET_PREFIX",
    "RetryPolicy",
    "Target",
    "TargetNotAllowed",
    "check_addresses",
    "check_url",
    "forbidden_address",
    "new_secret",
]

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
_SECRET_BYTES = 32
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


class TargetNotAllowed(DomainError):
    """A webhook URL or the addresses it resolves to may not be called."""


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int


def _field_error(message: str) -> TargetNotAllowed:
    return TargetNotAllowed(message, errors=[FieldError("body.url", message)])


def _is_loopback_host(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, allow_loopback_http: bool) -> Target:
    """The URL's scheme, host and port if a webhook may point at it, else :class:`TargetNotAllowed`.

    Production: https only, no credentials in the URL, no literal address outside the public
    internet. With ``allow_loopback_http`` (development and tests only): also http and https to
    the loopback interface.
    """
    if len(url) > 2000:
        raise _field_error("the URL is longer than 2000 characters")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        raise _field_error("not a URL") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if not host:
        raise _field_error("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise _field_error("credentials may not be part of the URL")
    if parts.fragment:
        raise _field_error("the URL may not have a fragment")
    loopback = _is_loopback_host(host)
    if scheme == "http":
        if not (allow_loopback_http and loopback):
            raise _field_error("the URL must use https")
    elif scheme != "https":
        raise _field_error("the URL must use https")
    if loopback and not allow_loopback_http:
        raise _field_error("loopback addresses are not allowed")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None and forbidden_address(literal, allow_loopback=allow_loopback_http):
        raise _field_error("private, loopback and link-local addresses are not allowed")
    return Target(scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80))


def forbidden_address(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, *, allow_loopback: bool
) -> bool:
    """True for anything but a public unicast address (private, loopback, link-local, CGNAT,
    multicast, reserved, unspecified, documentation); loopback passes with ``allow_loopback``."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return not allow_loopback
    return not address.is_global or address.is_multicast


def check_addresses(addresses: Iterable[str], *, allow_loopback: bool) -> None:
    """Every address a host resolved to must be allowed (else one answer could be an internal one)."""
    seen = False
    for text in addresses:
        seen = True
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if forbidden_address(address, allow_loopback=allow_loopback):
            raise TargetNotAllowed(f"the host resolves to a non-public address ({address})")
    if not seen:
        raise TargetNotAllowed("the host does not resolve")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; a delivery is dead-lettered once ``window`` has passed
    since its window started (at least 24 hours by default): its first attempt, or its first
    attempt after it last waited behind an earlier event that went ahead of it in the line."""

    base: dt.timedelta = dt.timedelta(seconds=30)
    cap: dt.timedelta = dt.timedelta(hours=3)
    window: dt.timedelta = dt.timedelta(hours=27)

    def delay(self, attempts: int, rng: random.Random | None = None) -> dt.timedelta:
        """Wait after the ``attempts``-th failed attempt: base·2^(n-1), capped, times 0.5–1.0."""
        exponent = min(max(attempts - 1, 0), 40)
        ceiling = min(self.cap, self.base * (2**exponent))
        factor: float = rng.uniform(0.5, 1.0) if rng else random.uniform(0.5, 1.0)
        return dt.timedelta(seconds=ceiling.total_seconds() * factor)

    def after_failure(
        self,
        *,
        attempts: int,
        window_started_at: dt.datetime,
        now: dt.datetime,
        rng: random.Random | None = None,
    ) -> dt.datetime | None:
        """When to try again after ``attempts`` failures, or None: dead-letter it."""
        if now - window_started_at >= self.window:
            return None
        return now + self.delay(attempts, rng)
