"""Per-tenant rate limiting: a tenant over its budget gets 429 with Retry-After; others do not notice."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import cast

import msgspec
import pytest
from litestar import Litestar, get
from litestar.enums import ScopeType
from litestar.exceptions import TooManyRequestsException
from litestar.testing import AsyncTestClient
from litestar.types import Message, Receive, ReceiveMessage, Scope, Send

from shared.auth.principal import Principal
from shared.config import ServiceSettings
from shared.http.app import create_service_app
from shared.http.ratelimit import RateLimiter, RateLimitMiddleware
from shared.testing.issuer import TestIssuer

Client = AsyncTestClient[Litestar]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_admits_its_burst_then_asks_to_wait_until_a_token_refills() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=2, burst=3, max_in_flight=100, clock=clock)
    for _ in range(3):
        assert limiter.acquire("a") is None
        limiter.release("a")
    assert limiter.acquire("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.acquire("a") is None


def test_one_keys_empty_bucket_leaves_another_keys_full() -> None:
    limiter = RateLimiter(rate=1, burst=1, max_in_flight=100, clock=FakeClock())
    assert limiter.acquire("a") is None
    assert limiter.acquire("a") is not None
    assert limiter.acquire("b") is None


def test_requests_in_flight_are_capped_per_key_and_released() -> None:
    limiter = RateLimiter(rate=100, burst=100, max_in_flight=2, clock=FakeClock())
    assert limiter.acquire("a") is None
    assert limiter.acquire("a") is None
    assert limiter.acquire("a") == 1.0
    assert limiter.acquire("b") is None
    limiter.release("a")
    assert limiter.acquire("a") is None


def test_refill_never_exceeds_the_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=10, burst=2, max_in_flight=100, clock=clock)
    clock.now += 3600
    assert limiter.acquire("a") is None
    assert limiter.acquire("a") is None
    assert limiter.acquire("a") is not None


@pytest.mark.parametrize(("rate", "burst", "in_flight"), [(0, 1, 1), (1, 0, 1), (1, 1, 0)])
def test_a_limiter_needs_positive_limits(rate: float, burst: int, in_flight: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(rate=rate, burst=burst, max_in_flight=in_flight)


# --- over HTTP, through the app builder ---


@get("/quick", operation_id="quick")
async def quick() -> dict[str, str]:
    return {"ok": "yes"}


@get("/open", operation_id="open")
async def open_route() -> dict[str, str]:
    return {"ok": "public"}


@pytest.fixture(scope="module")
async def client(settings_for: Callable[[str], ServiceSettings]) -> AsyncIterator[Client]:
    settings = msgspec.structs.replace(
        settings_for("orders"), rate_limit_per_second=0.01, rate_limit_burst=3, rate_limit_in_flight=2
    )
    app = create_service_app(settings, route_handlers=[quick, open_route], public_paths=["/open"])
    async with AsyncTestClient(app) as test_client:
        yield test_client


def _auth(issuer: TestIssuer, tenant_id: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(tenant_id=tenant_id, roles=['buyer_admin'])}"}


async def test_a_tenant_over_its_budget_gets_429_while_another_tenant_is_served(
    client: Client, issuer: TestIssuer
) -> None:
    noisy, quiet = _auth(issuer, uuid.uuid4()), _auth(issuer, uuid.uuid4())
    answers = [(await client.get("/orders/quick", headers=noisy)).status_code for _ in range(6)]
    assert answers == [200, 200, 200, 429, 429, 429]

    refused = await client.get("/orders/quick", headers=noisy)
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["status"] == 429

    assert (await client.get("/orders/quick", headers=quiet)).status_code == 200


async def test_a_tenant_holding_every_slot_with_slow_requests_does_not_block_another() -> None:
    gate = asyncio.Event()

    async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
        await gate.wait()

    limiter = RateLimiter(rate=100, burst=100, max_in_flight=2)
    middleware = RateLimitMiddleware(slow_app, limiter, exclude=[])

    async def call(tenant_id: uuid.UUID) -> None:
        principal = Principal(subject="someone", tenant_id=tenant_id)
        scope = {"type": ScopeType.HTTP, "path": "/orders/slow", "user": principal}
        await middleware(cast("Scope", scope), _never_receive, _discard)

    slow_tenant, other = uuid.uuid4(), uuid.uuid4()
    held = [asyncio.create_task(call(slow_tenant)) for _ in range(2)]
    await asyncio.sleep(0.05)
    with pytest.raises(TooManyRequestsException) as refused:
        await call(slow_tenant)
    assert refused.value.headers == {"Retry-After": "1"}
    admitted = asyncio.create_task(call(other))
    await asyncio.sleep(0.05)
    assert not admitted.done()  # admitted and waiting in the app, not refused
    gate.set()
    await asyncio.gather(*held, admitted)
    await call(slow_tenant)  # the slots were given back


async def _never_receive() -> ReceiveMessage:
    raise AssertionError("not read")


async def _discard(message: Message) -> None:
    return None


async def test_health_probes_are_never_limited(client: Client) -> None:
    answers = {(await client.get("/orders/health/live")).status_code for _ in range(10)}
    assert answers == {200}


async def test_requests_to_public_routes_are_limited_by_client_address(client: Client) -> None:
    answers = [(await client.get("/orders/open")).status_code for _ in range(5)]
    assert answers == [200, 200, 200, 429, 429]
