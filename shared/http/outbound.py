"""Calling third parties over HTTP: every answer read with a byte cap and within a deadline.

Every read of a third party's HTTP answer goes through here (webhook endpoints, tenants'
identity providers, the JWKS of a token issuer):

- the body is streamed and reading stops once it passes ``max_bytes`` (so a 300 MB answer
  costs at most the cap in memory), compressed answers included: they are decoded here,
  bounded, never by the HTTP library;
- the whole exchange (resolving, connecting, sending, every byte of the answer) ends at
  ``deadline`` seconds, so a body dripping one byte a second does not hold the caller forever;
- :class:`OutboundClient` also applies the address policy of :mod:`shared.addresses`:
  it resolves the host, refuses if any address is not public and connects to the checked
  address itself (no second lookup an attacker's DNS could answer differently), never
  following redirects.
"""

from __future__ import annotations

import asyncio
import json
import socket
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from shared.addresses import Target, TargetNotAllowed, check_addresses, check_url

__all__ = [
    "Answer",
    "AnswerTooLarge",
    "DeadlineExceeded",
    "OutboundClient",
    "OutboundError",
    "TargetRefused",
    "fetch_capped",
    "read_capped",
    "resolve_allowed",
]

_RESOLVE_TIMEOUT = 5.0
_ADDRESSES_TRIED = 3
"""A host's addresses tried in turn when a connection is refused (e.g. ::1 before 127.0.0.1)."""


class OutboundError(Exception):
    """A call to a third party failed. ``reason`` is a short code, safe to log and to store."""

    reason = "connection_error"

    def __init__(self, detail: str, *, reason: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if reason is not None:
            self.reason = reason


class AnswerTooLarge(OutboundError):
    reason = "answer_too_large"


class DeadlineExceeded(OutboundError):
    reason = "timeout"


class TargetRefused(OutboundError):
    reason = "target_refused"


@dataclass(frozen=True)
class Answer:
    status_code: int
    headers: httpx.Headers
    content: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    def json(self) -> Any:
        """The body as JSON (ValueError if it is not)."""
        return json.loads(self.content)


def _decoder(encoding: str) -> Any:
    """A bounded decoder for the answer's Content-Encoding, or None for identity."""
    name = encoding.strip().lower()
    if name in ("", "identity"):
        return None
    if name in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if name == "deflate":
        return zlib.decompressobj()
    raise OutboundError(f"unsupported content encoding {name[:20]!r}", reason="unsupported_encoding")


async def read_capped(response: httpx.Response, *, max_bytes: int) -> bytes:
    """The answer's body, decoded, if it is at most ``max_bytes``; else :class:`AnswerTooLarge`
    as soon as more has arrived (what was read is dropped)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes and not response.headers.get("content-encoding"):
        raise AnswerTooLarge(f"the answer declares {declared} bytes, more than {max_bytes}")
    decoder = _decoder(response.headers.get("content-encoding", ""))
    chunks: list[bytes] = []
    size = 0
    try:
        async for raw in response.aiter_raw():
            data = raw if decoder is None else decoder.decompress(raw, max_bytes - size + 1)
            size += len(data)
            if size > max_bytes:
                raise AnswerTooLarge(f"the answer is larger than {max_bytes} bytes")
            chunks.append(data)
        if decoder is not None:
            tail = decoder.flush(max_bytes - size + 1)
            size += len(tail)
            if size > max_bytes:
                raise AnswerTooLarge(f"the answer is larger than {max_bytes} bytes")
            chunks.append(tail)
    except zlib.error:
        raise OutboundError("the answer's compression is broken", reason="malformed_answer") from None
    return b"".join(chunks)


def _failure(exc: BaseException) -> OutboundError:
    if isinstance(exc, OutboundError):
        return exc
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return DeadlineExceeded("the call did not finish in time")
    return OutboundError(f"connection_error: {type(exc).__name__}")


async def fetch_capped(
    client: httpx.AsyncClient,
    method: str,
    url: str | httpx.URL,
    *,
    max_bytes: int,
    deadline: float,
    **request: Any,
) -> Answer:
    """One request through ``client`` (no address policy: for Tila's own services), its answer
    read with a cap and the whole exchange within ``deadline`` seconds.

    :raises OutboundError: too large, too slow, unreachable, or not HTTP."""
    try:
        async with asyncio.timeout(deadline):
            return await _exchange(client, method, url, max_bytes=max_bytes, **request)
    except (OutboundError, TimeoutError, httpx.HTTPError) as exc:
        raise _failure(exc) from None


async def _exchange(
    client: httpx.AsyncClient, method: str, url: str | httpx.URL, *, max_bytes: int, **request: Any
) -> Answer:
    headers = httpx.Headers(request.pop("headers", None) or {})
    headers.setdefault("accept-encoding", "identity")
    async with client.stream(method, url, headers=headers, **request) as response:
        body = await read_capped(response, max_bytes=max_bytes)
        return Answer(status_code=response.status_code, headers=response.headers, content=body)


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


class OutboundClient:
    """HTTP to addresses third parties chose: the address policy, a cap and a deadline on every
    answer, no redirects, no proxies from the environment, no connection reuse (a connection is
    made to one checked address for one host name)."""

    def __init__(
        self,
        *,
        allow_loopback: bool,
        timeout: float = 10.0,
        max_connections: int = 32,
        user_agent: str = "Tila/1",
    ) -> None:
        self.allow_loopback = allow_loopback
        self.timeout = timeout
        self.user_agent = user_agent
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            limits=httpx.Limits(max_keepalive_connections=0, max_connections=max_connections),
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        url: str,
        *,
        max_bytes: int,
        deadline: float | None = None,
        headers: Mapping[str, str] | None = None,
        field: str = "url",
        **request: Any,
    ) -> Answer:
        """Call ``url`` if the policy allows it; the answer, at most ``max_bytes``, within
        ``deadline`` seconds (default: twice the per-operation timeout) for the whole exchange.

        :raises TargetRefused: the URL or an address of its host may not be called.
        :raises OutboundError: too large, too slow, unreachable, or not HTTP."""
        try:
            target = check_url(url, allow_loopback_http=self.allow_loopback, field=field)
        except TargetNotAllowed as exc:
            raise TargetRefused(exc.detail) from None
        default_port = 443 if target.scheme == "https" else 80
        host = f"[{target.host}]" if ":" in target.host else target.host
        sent = httpx.Headers(headers or {})
        sent["host"] = host if target.port == default_port else f"{host}:{target.port}"
        sent.setdefault("user-agent", self.user_agent)
        # Certificates are checked against the host name, while the connection goes to the
        # checked address.
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        try:
            async with asyncio.timeout(deadline if deadline is not None else 2 * self.timeout):
                try:
                    addresses = await resolve_allowed(target, allow_loopback=self.allow_loopback)
                except TargetNotAllowed as exc:
                    raise TargetRefused(exc.detail) from None
                tried = addresses[:_ADDRESSES_TRIED]
                for address in tried:
                    try:
                        return await _exchange(
                            self._http,
                            method,
                            httpx.URL(url).copy_with(host=address),
                            max_bytes=max_bytes,
                            headers=sent,
                            extensions=extensions,
                            **request,
                        )
                    except httpx.ConnectError:
                        if address == tried[-1]:
                            raise
        except (OutboundError, TimeoutError, httpx.HTTPError) as exc:
            raise _failure(exc) from None
        raise OutboundError("the host has no address to call")  # unreachable: check_addresses
