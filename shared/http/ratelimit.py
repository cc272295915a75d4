"""Per-tenant rate limiting: one tenant's burst is answered with 429 before it starves the others.

Each tenant (from the verified token; for routes without a token, the client address) has a token
bucket — ``rate`` requests a second, up to ``burst`` at once — and a cap on requests in flight, so a
tenant with slow requests cannot hold every database connection either. A refusal is a
problem+json 429 with ``Retry-After``.

The buckets live in the API process: with N replicas behind a balancer a tenant gets about N
times the configured rate, so configure per replica. Health, metrics and schema routes are never
limited (probes must not be refused under a tenant's load).
"""

from __future__ import annotations

import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from litestar.enums import ScopeType
from litestar.exceptions import TooManyRequestsException
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from shared.auth.principal import Principal

__all__ = ["RateLimitMiddleware", "RateLimiter", "rate_limit_middleware"]

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

    def release(self, key: str) -> None:
        bucket = self._buckets.get(key)
        if bucket is not None and bucket.in_flight > 0:
            bucket.in_flight -= 1


def _key(scope: Scope) -> str:
    user = scope.get("user")
    if isinstance(user, Principal):
        return f"tenant:{user.tenant_id}"
    client = scope.get("client")
    return f"client:{client[0] if client else 'unknown'}"


class RateLimitMiddleware:
    """ASGI middleware placed after authentication, so the tenant is known when it runs."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, exclude: Sequence[str]) -> None:
        self.app = app
        self.limiter = limiter
        self.exclude = [re.compile(rf"^(?:{pattern})\Z") for pattern in exclude]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or any(p.match(scope["path"]) for p in self.exclude):
            await self.app(scope, receive, send)
            return
        key = _key(scope)
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


def rate_limit_middleware(limiter: RateLimiter, *, exclude: Sequence[str] = ()) -> DefineMiddleware:
    """The limiter as Litestar middleware; ``exclude`` holds whole-path regexes never limited."""
    return DefineMiddleware(RateLimitMiddleware, limiter=limiter, exclude=list(exclude))
