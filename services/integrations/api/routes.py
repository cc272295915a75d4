"""Routes of the integrations API."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import msgspec
from litestar import get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery

from services.integrations import handlers
from shared.auth.guards import provide_principal, requires_scope
from shared.auth.principal import Principal
from shared.http.pagination import Page, PageSize

__all__ = ["FeedEntryOut", "list_events"]

EVENTS_READ = "events:read"


class FeedEntryOut(msgspec.Struct, frozen=True, rename="camel"):
    position: int
    id: uuid.UUID
    type: str
    subject: str
    occurred_at: dt.datetime


@get(
    "/events",
    operation_id="listEvents",
    tags=["events"],
    summary="The caller's event feed, oldest first; resume with the returned cursor",
    guards=[requires_scope(EVENTS_READ)],
    dependencies={"principal": Provide(provide_principal)},
)
async def list_events(
    pool: NamedDependency[asyncpg.Pool],
    principal: NamedDependency[Principal],
    cursor: FromQuery[str | None] = None,
    limit: PageSize = 50,
) -> Page[FeedEntryOut]:
    rows, next_cursor = await handlers.read_feed(pool, principal, cursor=cursor, limit=limit)
    items = [
        FeedEntryOut(
            position=r["position"],
            id=r["event_id"],
            type=r["type"],
            subject=r["subject"],
            occurred_at=r["occurred_at"],
        )
        for r in rows
    ]
    return Page(items=items, next_cursor=next_cursor)
