"""A test client that behaves like a careful API client about ``If-Match``.

Every change of a versioned resource needs ``If-Match`` (428 without it). Most tests are about
something else — a transition, a rule, a tenant boundary — and send none; this client answers a
428 the way a client that reads before it writes does: it GETs the resource (the path, else its
parent: ``/orders/orders/{id}/submit`` → ``/orders/orders/{id}``, else the parent's parent:
``/cost-centres/{id}/approvers/{person}`` → ``/cost-centres/{id}``) with the same credentials, and
sends the request again with the ETag it read. When the caller cannot read it (another tenant's
id), it sends an ETag of no version, so the answer is what the API says to that caller (404)
rather than the missing header. A 428 leaves nothing changed, so sending again is safe.

Tests of ``If-Match`` itself send their own header (or ``If-Match: *``), which this never touches.
"""

from __future__ import annotations

from typing import Any

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

__all__ = ["ReadBeforeWriteClient", "read_before_write"]

_NO_VERSION = '"0"'
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def _etag(client: httpx.AsyncClient, request: httpx.Request) -> str | None:
    headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "x-request-id")}
    path = request.url.path
    for candidate in (path, path.rsplit("/", 1)[0], path.rsplit("/", 2)[0]):
        answer = await client.get(candidate, headers=headers)
        if answer.status_code == 200 and "etag" in answer.headers:
            return answer.headers["etag"]
    return None


async def read_before_write(
    client: httpx.AsyncClient, request: httpx.Request, response: httpx.Response, resend: Any
) -> httpx.Response:
    """``response``, or when it is a 428 for a missing ``If-Match``, the answer to ``request`` sent
    again with the ETag the caller can read (see the module docstring)."""
    if (
        response.status_code != 428
        or request.method not in _WRITES
        or "if-match" in request.headers
        or "If-Match" not in response.text
    ):
        return response
    await response.aread()
    etag = await _etag(client, request) or _NO_VERSION
    headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
    again = client.build_request(
        request.method, request.url, headers={**headers, "If-Match": etag}, content=request.content
    )
    answer: httpx.Response = await resend(again)
    return answer


class ReadBeforeWriteClient(AsyncTestClient[Litestar]):
    """``AsyncTestClient`` that answers a missing-``If-Match`` 428 as :func:`read_before_write` does
    (unless :attr:`careful` is off: then it sends exactly what it is given)."""

    careful = True

    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        response = await super().send(request, **kwargs)
        if not self.careful:
            return response

        async def resend(again: httpx.Request) -> httpx.Response:
            return await super(ReadBeforeWriteClient, self).send(again, **kwargs)

        return await read_before_write(self, request, response, resend)
