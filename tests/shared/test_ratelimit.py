"""Per-tenant rate limiting: a tenant over its budget gets 429 with Retry-After; others do not notice."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Callable
from typing import cast

import httpx
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
from shared.http.ratelimit import RateLimiter, RateLimitMiddleware, client_address, parse_trusted_proxies
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


# --- whose address: the peer's, or a trusted proxy's forwarded one ---


def _scope(peer: str, headers: dict[str, str]) -> Scope:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return cast("Scope", {"type": ScopeType.HTTP, "path": "/x", "client": (peer, 1234), "headers": raw})


PROXIES = parse_trusted_proxies("10.0.0.0/8, fd00::/8")


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        # Without trusted proxies, or from a peer that is not one, the headers are the caller's words.
        ("203.0.113.9", {"X-Forwarded-For": "198.51.100.1"}, "203.0.113.9"),
        ("203.0.113.9", {"Forwarded": "for=198.51.100.1"}, "203.0.113.9"),
        # From the ingress: the nearest address it did not add itself, read from the right.
        ("10.1.2.3", {"X-Forwarded-For": "198.51.100.1"}, "198.51.100.1"),
        ("10.1.2.3", {"X-Forwarded-For": "1.2.3.4, 198.51.100.1"}, "198.51.100.1"),  # a spoofed first hop
        ("10.1.2.3", {"X-Forwarded-For": "198.51.100.1, 10.9.9.9"}, "198.51.100.1"),  # two proxies
        ("10.1.2.3", {"Forwarded": 'for="[2001:db8::1]:4711";proto=https'}, "2001:db8::1"),
        ("10.1.2.3", {"Forwarded": "for=198.51.100.1:80, for=10.2.2.2"}, "198.51.100.1"),
        ("fd00::5", {"X-Forwarded-For": "198.51.100.1"}, "198.51.100.1"),
        ("10.1.2.3", {"X-Forwarded-For": "unknown"}, "10.1.2.3"),  # garbage: the proxy's own
        ("10.1.2.3", {}, "10.1.2.3"),
        ("10.1.2.3", {"X-Forwarded-For": "9.9.9.9," * 2000}, "10.1.2.3"),  # too long to read
    ],
)
def test_the_client_address_comes_from_forwarding_headers_only_behind_a_trusted_proxy(
    peer: str, headers: dict[str, str], expected: str
) -> None:
    assert client_address(_scope(peer, headers), PROXIES) == expected
    assert client_address(_scope(peer, headers), ()) == peer


def test_trusted_proxies_must_be_networks() -> None:
    assert parse_trusted_proxies("") == ()
    with pytest.raises(ValueError, match="does not appear"):
        parse_trusted_proxies("10.0.0.0/8, the-ingress")


@pytest.fixture(scope="module")
async def behind_ingress(settings_for: Callable[[str], ServiceSettings]) -> AsyncIterator[Litestar]:
    settings = msgspec.structs.replace(
        settings_for("orders"), rate_limit_per_second=0.01, rate_limit_burst=3, trusted_proxies="10.0.0.0/8"
    )
    app = create_service_app(settings, route_handlers=[quick, open_route], public_paths=["/open"])
    async with AsyncTestClient(app):
        yield app


def _from(app: Litestar, peer: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://testserver.local")


async def test_a_spoofed_forwarded_for_from_an_untrusted_peer_does_not_buy_a_fresh_bucket(
    behind_ingress: Litestar,
) -> None:
    async with _from(behind_ingress, "203.0.113.50") as direct:
        answers = [
            (await direct.get("/orders/open", headers={"X-Forwarded-For": f"198.51.100.{n}"})).status_code
            for n in range(5)
        ]
    assert answers == [200, 200, 200, 429, 429]


async def test_behind_the_trusted_ingress_each_client_address_has_its_own_bucket(
    behind_ingress: Litestar,
) -> None:
    async with _from(behind_ingress, "10.0.0.7") as ingress:
        noisy = {"X-Forwarded-For": "192.0.2.66"}
        answers = [(await ingress.get("/orders/open", headers=noisy)).status_code for _ in range(5)]
        assert answers == [200, 200, 200, 429, 429]
        # Another client behind the same ingress is not refused; nor by spoofing the noisy one's
        # header in front of its own address does the noisy one reach a fresh bucket.
        quiet = {"X-Forwarded-For": "192.0.2.77"}
        assert (await ingress.get("/orders/open", headers=quiet)).status_code == 200
        spoofing = {"X-Forwarded-For": "192.0.2.99, 192.0.2.66"}
        assert (await ingress.get("/orders/open", headers=spoofing)).status_code == 429


async def test_each_basic_client_id_has_its_own_bucket(behind_ingress: Litestar) -> None:
    def basic(client_id: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:junk".encode()).decode()}

    async with _from(behind_ingress, "203.0.113.60") as same_address:
        answers = [(await same_address.get("/orders/open", headers=basic("a"))).status_code for _ in range(5)]
        assert answers == [200, 200, 200, 429, 429]
        assert (await same_address.get("/orders/open", headers=basic("b"))).status_code == 200


async def test_made_up_client_ids_buy_no_fresh_budget(behind_ingress: Litestar) -> None:
    def basic(client_id: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:junk".encode()).decode()}

    async with _from(behind_ingress, "203.0.113.70") as rotating:
        answers = [
            (await rotating.get("/orders/open", headers=basic(str(uuid.uuid4())))).status_code
            for _ in range(5)
        ]
    assert answers == [200, 200, 200, 429, 429]
