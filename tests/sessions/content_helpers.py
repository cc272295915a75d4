"""Builders the content-wall tests share: a process with its people, a keyring on the app, items."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.sessions.adapters.crypto import ContentKeyring
from services.sessions.api.content import CONTENT_KEYRING_STATE_KEY
from services.sessions.handlers import processes as process_handlers
from shared.contracts import orders as orders_events
from shared.db.tenant import tenant_transaction
from shared.testing.issuer import TestIssuer
from tests.sessions.support import Parties, open_process, order_event, orders_envelope

Client = AsyncTestClient[Litestar]
Headers = dict[str, str]


def use_keyring(client: Client, keyring: ContentKeyring | None = None) -> ContentKeyring:
    """Give the app a generated content keyring (tests never use the environment's)."""
    keyring = keyring or ContentKeyring.generate()
    client.app.state[CONTENT_KEYRING_STATE_KEY] = keyring
    return keyring


@dataclass
class World:
    """One process between a buyer and a provider, and tokens for everyone around it."""

    issuer: TestIssuer
    parties: Parties
    process_id: uuid.UUID
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"/sessions/processes/{self.process_id}"

    def headers(self, tenant_id: uuid.UUID, subject: str, *roles: str, **claims: Any) -> Headers:
        token = self.issuer.token(tenant_id=tenant_id, roles=roles, subject=subject, **claims)
        return {"Authorization": f"Bearer {token}"}

    def supervisor(self) -> Headers:
        return self.headers(self.parties.provider_id, str(self.parties.supervisor_id), "supervisor")

    def participant(self, index: int = 0) -> Headers:
        return self.headers(self.parties.buyer_id, str(self.parties.participants[index]), "employee")

    def buyer_admin(self) -> Headers:
        return self.headers(self.parties.buyer_id, str(uuid.uuid4()), "buyer_admin")

    def approver(self) -> Headers:
        """The approver of the process's cost centre."""
        return self.headers(self.parties.buyer_id, str(self.parties.approver_id), "approver")

    def other_approver(self) -> Headers:
        """An approver of the buyer who does not hold the process's cost centre."""
        return self.headers(self.parties.buyer_id, str(uuid.uuid4()), "approver")


async def new_world(pool: asyncpg.Pool, issuer: TestIssuer, *, participants: int = 2) -> World:
    parties = Parties(participants=[uuid.uuid4() for _ in range(participants)])
    process = await open_process(pool, parties)
    return World(issuer=issuer, parties=parties, process_id=process.process_id)


async def close_process(pool: asyncpg.Pool, world: World, closed_at: dt.datetime) -> None:
    """Close the process the way the frame does when its order completes."""
    event = order_event(orders_events.OrderCompleted, world.parties, status="completed")
    envelope = orders_envelope(event, world.parties, version=9, occurred_at=closed_at)
    async with tenant_transaction(pool, world.parties.buyer_id) as conn:
        await process_handlers.apply_order_closed(conn, envelope, event)


def body_of(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()


async def write(
    client: Client, world: World, headers: Headers, kind: str, text: str, phase: str | None = None
) -> dict[str, Any]:
    payload: dict[str, Any] = {"kind": kind, "body": text}
    if phase:
        payload["phase"] = phase
    response = await client.post(f"{world.base}/content", json=payload, headers=headers)
    result: dict[str, Any] = body_of(response, 201)
    return result
