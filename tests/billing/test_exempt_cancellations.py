"""What the employer may infer from billing about an illness-exempt late cancellation: nothing.

Billing shows the buyer what it charges (the specification lists billed sessions only, with their
charge and its percent) and never what it does not charge or why. A late cancellation the terms
exempt (illness) reads, in everything the buyer gets from billing — invoices, the list, the
specification, UBL, Finvoice, billing's events — exactly as an on-time cancellation: absent.

(This pins what billing already did; the inference the issue describes comes from the sessions
API showing the buyer ``category: late`` for the exempt cancellation too.)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NATS

from shared.db.provision import DatabaseLayout
from shared.events.envelope import decode_envelope
from shared.testing.issuer import TestIssuer
from tests.billing.support import Scene, deliver, make_scene, session_event

Client = AsyncTestClient[Litestar]
UTC = dt.UTC


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
async def scenes(billing_pool: asyncpg.Pool, issuer: TestIssuer) -> tuple[Scene, Scene]:
    return await make_scene(billing_pool, issuer), await make_scene(billing_pool, issuer)


def _blank(value: Any, ids: dict[str, str]) -> Any:
    """The value with every id, number and date that differs between two scenes made neutral."""
    if isinstance(value, dict):
        return {k: _blank(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank(v, ids) for v in value]
    if isinstance(value, str):
        for real, neutral in ids.items():
            value = value.replace(real, neutral)
    return value


async def test_an_exempt_late_cancellation_reads_like_an_on_time_one_to_the_buyer(
    client: Client,
    nc: NATS,
    billing_pool: asyncpg.Pool,
    scenes: tuple[Scene, Scene],
    layout: DatabaseLayout,
) -> None:
    views: list[Any] = []
    for scene, second in zip(scenes, ("exempt", "on_time"), strict=True):
        day = dt.datetime(2025, 10, 6, 9, 0, tzinfo=UTC)
        billed = session_event(scene, "cancelled", day, category="late")
        uncharged = session_event(
            scene,
            "cancelled",
            day + dt.timedelta(days=1),
            category="late" if second == "exempt" else "on_time",
            charge_exempt=second == "exempt",
        )
        consumer = await deliver(nc, billing_pool, [billed, uncharged])
        assert consumer.dead_lettered == 0
        [draft] = ok(await client.post("/billing/invoice-runs", json={}, headers=scene.provider_admin()))
        invoice = ok(
            await client.post(f"/billing/invoices/{draft['id']}/issue", headers=scene.provider_admin())
        )
        billed_id, uncharged_id = str(billed.subject), str(uncharged.subject)

        texts: list[str] = []
        seen: dict[str, Any] = {}
        for reader, headers in (("buyer", scene.buyer_admin()), ("approver", scene.approver_headers())):
            path = f"/billing/invoices/{invoice['id']}"
            for part in ("", "/specification"):
                response = await client.get(path + part, headers=headers)
                texts.append(response.text)
                seen[f"{reader}{part}"] = ok(response)
            listed = await client.get("/billing/invoices", headers=headers)
            texts.append(listed.text)
            seen[f"{reader}/list"] = ok(listed)["items"]
            for document in ("ubl", "finvoice"):
                response = await client.get(f"{path}/{document}", headers=headers)
                assert response.status_code == 200, response.text
                texts.append(response.text)
        # The events billing emits about the invoice (to the seller and the buyer).
        relay = await asyncpg.connect(layout.relay_url)
        try:
            rows = await relay.fetch("select payload from outbox where tenant_id = $1", scene.provider)
        finally:
            await relay.close()
        events = [decode_envelope(bytes(r["payload"])) for r in rows]
        assert [e.type for e in events] == ["billing.invoice.issued.v1"]
        texts += [bytes(r["payload"]).decode() for r in rows]

        # Only the billed session is named anywhere; the uncharged one — and why — nowhere.
        assert [s["sessionId"] for s in seen["buyer/specification"]["sessions"]] == [billed_id]
        assert seen["buyer/specification"]["sessions"][0]["charge"] == "late_cancellation"
        for text in texts:
            assert uncharged_id not in text
            for word in ("exempt", "illness", "sairau", "on_time", '"category"'):
                assert word not in text.lower(), word
        ids = {
            billed_id: "<billed>",
            invoice["id"]: "<invoice>",
            str(scene.buyer): "<buyer>",
            str(scene.provider): "<provider>",
            str(scene.agreement): "<agreement>",
            str(scene.cost_centre): "<cost centre>",
            str(scene.orders[0]): "<order>",
            invoice["number"]: "<number>",
            invoice["paymentReference"]: "<reference>",
            invoice["rfReference"]: "<rf>",
        }
        views.append(_blank(seen, ids))

    # Side by side, the two buyers read the same thing from billing, whatever the second was.
    exempt, on_time = views
    for key in exempt:
        strip = ("version", "paymentReference", "rfReference", "number")
        left = _drop(exempt[key], strip)
        right = _drop(on_time[key], strip)
        assert left == right, key


def _drop(value: Any, keys: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {k: _drop(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [_drop(v, keys) for v in value]
    return value
