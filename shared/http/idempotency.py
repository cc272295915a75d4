"""``Idempotency-Key`` for creating POSTs, once for every service that takes it.

A key is the caller's own, kept per ``(tenant, caller subject, key)`` in ``idempotent_requests``
(the migration :data:`MIGRATIONS`, applied to each service database that uses it). Within the
transaction that creates: :func:`replay` first (the same key and body from the same caller answer
the stored response; another body is a 422 on ``header.Idempotency-Key``), then :func:`remember`
the response (a concurrent request that took the key first makes it a 409: retry).
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Annotated, TypeVar

import asyncpg
import msgspec
from litestar.params import HeaderParameter

from shared.auth.principal import Principal
from shared.db.migrate import MigrationSource
from shared.errors import Conflict, FieldError, InvariantViolated

__all__ = [
    "MIGRATIONS",
    "IdempotencyKey",
    "IdempotentRequest",
    "idempotent_request",
    "remember",
    "replay",
    "request_hash",
]

MIGRATIONS = MigrationSource("idempotency", Path(__file__).parent / "migrations" / "idempotency")

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="idempotency-key",
        min_length=1,
        max_length=200,
        pattern=r"^[!-~]+$",
        description=(
            "Optional; send one to retry safely. The same key and body from the same caller answer the "
            "first response again without creating anything; the same key with another body is a 422; "
            "a request with it still in flight a 409. Without a key every POST creates anew, so a "
            "retry after a lost answer can create a second one."
        ),
    ),
]
"""The header a creating POST takes: ``idempotency_key: IdempotencyKey = None``."""

T = TypeVar("T")


def request_hash(subject: str, body: bytes) -> str:
    """The request as far as idempotency goes: who sent which body (path ids included)."""
    return hashlib.sha256(subject.encode() + b"\0" + body).hexdigest()


class IdempotentRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One caller's request under one key."""

    tenant_id: uuid.UUID
    subject: str
    key: str
    request_hash: str


def idempotent_request(principal: Principal, key: str | None, body_hash: str) -> IdempotentRequest | None:
    """The request under the caller's key; ``None`` when the caller sent none."""
    if key is None:
        return None
    return IdempotentRequest(
        tenant_id=principal.tenant_id, subject=principal.subject, key=key, request_hash=body_hash
    )


async def replay(conn: asyncpg.Connection, request: IdempotentRequest | None, type: type[T]) -> T | None:
    """The response stored under the request's key, if any; 422 if the key came with another body."""
    if request is None:
        return None
    row = await conn.fetchrow(
        "select request_hash, response::text as response from idempotent_requests"
        " where tenant_id = $1 and subject = $2 and key = $3",
        request.tenant_id,
        request.subject,
        request.key,
    )
    if row is None:
        return None
    if row["request_hash"] != request.request_hash:
        raise InvariantViolated(
            "this Idempotency-Key was used with another request body",
            errors=[FieldError("header.Idempotency-Key", "used with another body")],
        )
    return msgspec.json.decode(row["response"], type=type)


async def remember(conn: asyncpg.Connection, request: IdempotentRequest | None, response: object) -> None:
    """Store the response under the request's key; 409 if a concurrent request took the key first
    (it waited for that one's transaction: the caller retries and gets its answer)."""
    if request is None:
        return
    result = await conn.execute(
        """
        insert into idempotent_requests (tenant_id, subject, key, request_hash, response)
        values ($1, $2, $3, $4, $5::jsonb) on conflict (tenant_id, subject, key) do nothing
        """,
        request.tenant_id,
        request.subject,
        request.key,
        request.request_hash,
        response,  # the pool's jsonb codec encodes it with msgspec
    )
    if result != "INSERT 0 1":
        raise Conflict("a request with this Idempotency-Key is in flight; retry")
