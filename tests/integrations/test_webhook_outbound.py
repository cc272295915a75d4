"""A webhook endpoint cannot exhaust the worker: an answer without end, or one that drips, fails
the attempt cleanly (retried by the policy) while the worker's memory stays flat."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from shared.testing.issuer import TestIssuer
from tests.hostile import HostileServer, rss_bytes
from tests.integrations.support import Client, Parties, Producer, admin, order_approved

pytestmark = pytest.mark.usefixtures("worker")

MB = 1024 * 1024
APPROVED = "fi.tila.order.approved.v1"


async def _endpoint_at(client: Client, issuer: TestIssuer, tenant: Any, url: str) -> str:
    response = await client.post(
        "/integrations/webhooks", json={"url": url, "eventTypes": [APPROVED]}, headers=admin(issuer, tenant)
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _attempts(
    client: Client, issuer: TestIssuer, p: Parties, endpoint: str, at_least: int
) -> dict[str, Any]:
    """The endpoint's delivery once it has been attempted ``at_least`` times."""
    url = f"/integrations/webhooks/{endpoint}/deliveries"
    for _ in range(1200):
        items = (await client.get(url, headers=admin(issuer, p.buyer))).json()["items"]
        if items and items[0]["attempts"] >= at_least:
            return dict(items[0])
        await asyncio.sleep(0.05)
    raise AssertionError("the delivery was not attempted often enough")


async def test_an_endpoint_answering_without_end_fails_the_attempt_and_the_worker_stays_small(
    client: Client, issuer: TestIssuer, producer: Producer
) -> None:
    p = Parties()
    with HostileServer("endless") as server:
        endpoint = await _endpoint_at(client, issuer, p.buyer, f"{server.base}/hook")
        before = rss_bytes()
        await producer.publish(order_approved(p))
        delivery = await _attempts(client, issuer, p, endpoint, at_least=3)
        grown = rss_bytes() - before
        offered = len(server.requests)
    assert delivery["lastError"] == "answer_too_large"
    assert delivery["status"] in ("pending", "dead")  # retried by the policy, then dead-lettered
    assert offered >= 3
    assert grown < 50 * MB, f"the worker grew {grown // MB} MB"


async def test_an_endpoint_dripping_its_answer_fails_at_the_deadline_and_is_retried(
    client: Client, issuer: TestIssuer, producer: Producer
) -> None:
    p = Parties()
    # Each byte comes well within the per-read timeout (1 s here): only the deadline ends it.
    with HostileServer("drip", drip_interval=0.1) as server:
        endpoint = await _endpoint_at(client, issuer, p.buyer, f"{server.base}/hook")
        await producer.publish(order_approved(p))
        delivery = await _attempts(client, issuer, p, endpoint, at_least=2)
    assert delivery["lastError"] == "timeout"
    assert delivery["status"] in ("pending", "dead")
