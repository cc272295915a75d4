"""Per-tenant rate limiting: one tenant's burst is answered with 429 before it starves the others.

Each tenant (from the verified token; for routes without a token, the client id of an HTTP Basic
caller, else the client address) has a token bucket — ``rate`` requests a second, up to ``burst``
at once — and a cap on requests in flight, so a tenant with slow requests cannot hold every
database connection either. A refusal is a problem+json 429 with ``Retry-After``.

The buckets live in the API process: with N replicas behind a balancer a tenant gets about N
times the configured rate, so configure per replica. Health, metrics and schema routes are never
limited (probes must not be refused under a tenant's load).

The client address is the direct peer's, unless that peer is one of the configured trusted proxies
(``TILA_TRUSTED_PROXIES``, CIDRs; none by default): then it is the nearest untrusted address in
``X-Forwarded-For`` (or, without it, ``Forwarded: for=``), read from the right, so a client cannot
choose its own bucket by sending the header itself. A caller authenticating with HTTP Basic (a
machine client at the token endpoint) has a bucket of its own per client id, so one client id's
junk does not spend the budget of other clients behind the same address; a client id without a
bucket yet pays one request at its address first, so rotating made-up ids buys no fresh budget.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence

from litestar.enums import ScopeType
from litestar.exceptions import TooManyRequestsException
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from shared.auth.principal import Principal

__all__ = [
    "RateLimitMiddleware",
    "RateLimiter",
    "TrustedProxies",
    "client_address",
    "parse_trusted_proxies",
    "rate_limit_middleware",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
TrustedProxies = tuple[Network, ...]

_MAX_HEADER = 4096
"""Forwarding headers longer than this are not read (a proxy chain is a handful of addresses)."""
_MAX_CLIENT_ID = 200

_MAX_KEYS = 10_000
"""Buckets kept at most; the least recently used go first (client addresses are unbounded)."""


class _Bucket:
    __slots__ = ("in_flight", "tokens", "updated")

    def __init__(self, tokens: float, now: float) -> None:
        self.tokens = tokens
        self.updated = now
        self.in_flight = 0


class RateLimiter:
    """Token buckets and in-flight counts per key; ``clock`` is injectable for tests."""

    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        max_in_flight: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1 or max_in_flight < 1:
            raise ValueError("rate, burst and max_in_flight must be positive")
        self.rate = rate
        self.burst = burst
        self.max_in_flight = max_in_flight
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def _bucket(self, key: str) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(float(self.burst), now)
            self._buckets[key] = bucket
            if len(self._buckets) > _MAX_KEYS:
                # Never evict a bucket with requests in flight: its release must find it.
                for old_key, old in list(self._buckets.items()):
                    if old.in_flight == 0 and old_key != key:
                        del self._buckets[old_key]
                        break
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        return bucket

    def acquire(self, key: str) -> float | None:
        """Admit one request of ``key`` (None), or return the seconds to wait before retrying."""
        bucket = self._bucket(key)
        if bucket.in_flight >= self.max_in_flight:
            return 1.0
        if bucket.tokens < 1.0:
            return (1.0 - bucket.tokens) / self.rate
        bucket.tokens -= 1.0
        bucket.in_flight += 1
        return None

    def known(self, key: str) -> bool:
        """Whether ``key`` has a bucket now (was seen lately)."""
        return key in self._buckets

    def release(self, key: str) -> None:
        bucket = self._buckets.get(key)
        if bucket is not None and bucket.in_flight > 0:
            bucket.in_flight -= 1


def parse_trusted_proxies(value: str | Iterable[str]) -> TrustedProxies:
    """CIDRs (comma or space separated, or a list) of the proxies whose forwarding headers count."""
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value)
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip())


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip().strip('"')
    if value.startswith("["):  # Forwarded: for="[2001:db8::1]:4711"
        value = value[1 : value.find("]")] if "]" in value else ""
    elif value.count(":") == 1:  # an IPv4 address with a port
        value = value.partition(":")[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _header(scope: Scope, name: bytes) -> str | None:
    values = [v for k, v in scope.get("headers", ()) if k.lower() == name]
    if not values:
        return None
    joined = b",".join(values)
    return joined.decode("latin-1") if len(joined) <= _MAX_HEADER else ""


def _forwarded_chain(scope: Scope) -> list[str] | None:
    """The addresses the proxies appended, nearest last; None when no header names any."""
    xff = _header(scope, b"x-forwarded-for")
    if xff is not None:
        return [part.strip() for part in xff.split(",")]
    forwarded = _header(scope, b"forwarded")
    if forwarded is None:
        return None
    chain = []
    for element in forwarded.split(","):
        for pair in element.split(";"):
            key, _, value = pair.strip().partition("=")
            if key.lower() == "for":
                chain.append(value)
    return chain or None


def client_address(scope: Scope, trusted: TrustedProxies = ()) -> str:
    """The caller's address: the peer's, or — only behind a trusted proxy — the one it forwarded."""
    client = scope.get("client")
    peer = client[0] if client else "unknown"
    peer_ip = _ip(peer)
    if not trusted or peer_ip is None or not any(peer_ip in net for net in trusted):
        return peer
    chain = _forwarded_chain(scope)
    if not chain:
        return peer
    address = peer
    for hop in reversed(chain):  # right to left: each entry was appended by the proxy after it
        hop_ip = _ip(hop)
        if hop_ip is None:
            break  # garbage (or "unknown"): stop at the last address a trusted proxy vouched for
        address = str(hop_ip)
        if not any(hop_ip in net for net in trusted):
            break
    return address


def _basic_client_id(scope: Scope) -> str | None:
    authorization = _header(scope, b"authorization")
    if not authorization:
        return None
    kind, _, value = authorization.partition(" ")
    if kind.lower() != "basic":
        return None
    try:
        client_id = base64.b64decode(value.strip(), validate=True).decode().partition(":")[0]
    except (binascii.Error, UnicodeDecodeError):
        return None
    return client_id[:_MAX_CLIENT_ID] or None


def _key(scope: Scope, trusted: TrustedProxies = ()) -> str:
    user = scope.get("user")
    if isinstance(user, Principal):
        return f"tenant:{user.tenant_id}"
    client_id = _basic_client_id(scope)
    if client_id is not None:
        return f"basic:{client_id}"
    return f"client:{client_address(scope, trusted)}"


class RateLimitMiddleware:
    """ASGI middleware placed after authentication, so the tenant is known when it runs."""

    def __init__(
        self,
        app: ASGIApp,
        limiter: RateLimiter,
        exclude: Sequence[str],
        trusted_proxies: TrustedProxies = (),
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.trusted_proxies = tuple(trusted_proxies)
        self.exclude = [re.compile(rf"^(?:{pattern})\Z") for pattern in exclude]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or any(p.match(scope["path"]) for p in self.exclude):
            await self.app(scope, receive, send)
            return
        key = _key(scope, self.trusted_proxies)
        wait = None
        if key.startswith("basic:") and not self.limiter.known(key):
            # A client id not seen lately first pays at its address: made-up ids buy no fresh budget.
            address = f"client:{client_address(scope, self.trusted_proxies)}"
            wait = self.limiter.acquire(address)
            if wait is None:
                self.limiter.release(address)
        if wait is None:
            wait = self.limiter.acquire(key)
        if wait is not None:
            retry_after = str(max(1, math.ceil(wait)))
            raise TooManyRequestsException(
                "too many requests from this tenant; retry later", headers={"Retry-After": retry_after}
            )
        try:
            await self.app(scope, receive, send)
        finally:
            self.limiter.release(key)


def rate_limit_middleware(
    limiter: RateLimiter, *, exclude: Sequence[str] = (), trusted_proxies: TrustedProxies = ()
) -> DefineMiddleware:
    """The limiter as Litestar middleware; ``exclude`` holds whole-path regexes never limited."""
    return DefineMiddleware(
        RateLimitMiddleware, limiter=limiter, exclude=list(exclude), trusted_proxies=tuple(trusted_proxies)
    )
