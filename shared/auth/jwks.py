"""A cached, rate-limited client for an issuer's JSON Web Key Set (JWKS)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

import httpx
import msgspec
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from shared.auth.errors import JwksUnavailable
from shared.http.outbound import OutboundClient, OutboundError, TargetRefused, fetch_capped
from shared.logging import get_logger

__all__ = ["JwksClient"]

_log = get_logger(__name__)

MAX_JWKS_BYTES = 256 * 1024
"""A key set larger than this is not one (a few keys are a few kilobytes)."""


class _JwksDocument(msgspec.Struct, frozen=True):
    # Members stay loosely typed: joserfc validates each key, and RFC 7517 lets an issuer add
    # members of any type that a stricter schema here would reject along with the whole set.
    keys: list[dict[str, Any]]


class JwksClient:
    """Fetches and caches the key set published at ``url``.

    :meth:`get_key_set` serves the cached set and refetches it when it is older than
    ``max_age`` or does not contain the ``kid`` asked for. Every fetch attempt, successful or
    not, starts a ``min_refresh_interval`` during which no other is made: tokens carrying
    random ``kid`` values (or an issuer that is down) must not turn each request into a request
    to the issuer. The price is that a key first used less than ``min_refresh_interval`` after
    the previous fetch is unknown until the interval ends; issuers publish a key before signing
    with it, and ``max_age`` picks it up in the meantime.

    When a refetch fails the previous set is kept and served, stale or not: an issuer outage
    should not log every caller out. Only when no set has ever been fetched does
    :meth:`get_key_set` raise :class:`JwksUnavailable`.

    The answer is read at most ``max_bytes`` and the whole fetch ends within twice ``timeout``
    (``shared.http.outbound``). A key set at an address a third party chose (a tenant's identity
    provider) is fetched through ``outbound``, which also applies the address policy; Tila's own
    issuer is fetched with ``http_client`` (or a plain client of its own).
    """

    def __init__(
        self,
        url: str,
        *,
        min_refresh_interval: float = 30.0,
        max_age: float = 300.0,
        timeout: float = 5.0,
        http_client: httpx.AsyncClient | None = None,
        outbound: OutboundClient | None = None,
        max_bytes: int = MAX_JWKS_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._outbound = outbound
        self._max_bytes = max_bytes
        self._deadline = 2 * timeout
        self._min_refresh_interval = min_refresh_interval
        self._max_age = max_age
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.AsyncClient(timeout=timeout)
        self._clock = clock
        self._lock = asyncio.Lock()
        self._key_set: KeySet | None = None
        self._fetched_at = -math.inf
        self._attempted_at = -math.inf

    @property
    def url(self) -> str:
        return self._url

    async def get_key_set(self, kid: str | None = None) -> KeySet:
        """The issuer's keys, refetched if stale or if ``kid`` is not among them (rate-limited).

        The returned set may still lack ``kid``; the caller treats that as an unknown key.

        :raises JwksUnavailable: if no key set has ever been fetched successfully.
        """
        key_set = self._key_set
        if key_set is not None and not self._needs_refresh(key_set, kid):
            return key_set
        async with self._lock:
            # Re-read under the lock: the task that held it may just have refreshed the set.
            key_set = self._key_set
            if (key_set is None or self._needs_refresh(key_set, kid)) and self._may_fetch():
                key_set = await self._fetch()
            if key_set is None:
                raise JwksUnavailable(f"no key set could be fetched from {self._url}")
            return key_set

    async def aclose(self) -> None:
        """Close the HTTP client if this instance created it."""
        if self._owns_http:
            await self._http.aclose()

    def _needs_refresh(self, key_set: KeySet, kid: str | None) -> bool:
        if self._clock() - self._fetched_at >= self._max_age:
            return True
        return kid is not None and not any(key.kid == kid for key in key_set)

    def _may_fetch(self) -> bool:
        return self._clock() - self._attempted_at >= self._min_refresh_interval

    async def _fetch(self) -> KeySet | None:
        """Fetch the set; on failure log it and return the previous one (possibly None)."""
        self._attempted_at = self._clock()
        headers = {"Accept": "application/json"}
        try:
            if self._outbound is not None:
                answer = await self._outbound.request(
                    "GET", self._url, headers=headers, max_bytes=self._max_bytes, deadline=self._deadline
                )
            else:
                answer = await fetch_capped(
                    self._http,
                    "GET",
                    self._url,
                    headers=headers,
                    max_bytes=self._max_bytes,
                    deadline=self._deadline,
                )
            if not answer.is_success:
                raise ValueError(f"HTTP {answer.status_code}")
            document = msgspec.json.decode(answer.content, type=_JwksDocument)
            key_set = KeySet.import_key_set({"keys": document.keys})
        except TargetRefused as exc:
            _log.warning("jwks_fetch_refused", url=self._url, error=exc.detail)
            return self._key_set
        except (OutboundError, msgspec.DecodeError, JoseError, ValueError, TypeError, KeyError) as exc:
            _log.warning("jwks_fetch_failed", url=self._url, error=getattr(exc, "reason", type(exc).__name__))
            return self._key_set
        self._key_set = key_set
        self._fetched_at = self._clock()
        return key_set
