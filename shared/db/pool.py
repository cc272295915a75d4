"""asyncpg pools whose json/jsonb columns speak msgspec."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec

__all__ = ["create_pool", "init_connection"]

_encoder = msgspec.json.Encoder()


def _encode_json(value: Any) -> str:
    return _encoder.encode(value).decode()


async def init_connection(conn: asyncpg.Connection) -> None:
    """Register msgspec JSON codecs on a new connection."""
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, schema="pg_catalog", encoder=_encode_json, decoder=msgspec.json.decode, format="text"
        )


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """Create a pool; each connection gets the JSON codecs."""
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=init_connection)
    assert pool is not None
    return pool
