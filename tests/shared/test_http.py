"""The app builder ``create_service_app`` on a small orders app over real PostgreSQL, NATS and issuer."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Annotated, Any

import httpx
import msgspec
import pytest
from litestar import Litestar, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.testing import AsyncTestClient

from shared.config import ServiceSettings
from shared.embedded import EmbeddedNats
from shared.http.app import create_service_app
from shared.http.errors import (
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    InvariantViolated,
    NotFound,
    PreconditionFailed,
)
from shared.logging import configure_logging
from shared.testing.issuer import TestIssuer
from shared.testing.plugin import free_port

Client = AsyncTestClient[Litestar]

SECRET = "hetu-010101A123B-card-4111111111111111"
PROBLEM_JSON = "application/problem+json"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


class NewThing(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    display_name: str
    item_count: Annotated[int, msgspec.Meta(ge=1, le=10)]


class ThingOut(msgspec.Struct, frozen=True, rename="camel"):
    display_name: str
    item_count: int


@post("/things", operation_id="createThing")
async def create_thing(data: JSONBody[NewThing]) -> ThingOut:
    return ThingOut(display_name=data.display_name, item_count=data.item_count)


@get("/things", operation_id="listThings")
async def list_things(limit: FromQuery[int] = 10) -> dict[str, int]:
    return {"limit": limit}


@get("/things/{thing_id:int}", operation_id="getThing")
async def get_thing(thing_id: FromPath[int]) -> dict[str, int]:
    return {"id": thing_id}


REFUSALS: dict[str, type[DomainError]] = {
    "not-found": NotFound,
    "forbidden": Forbidden,
    "conflict": Conflict,
    "precondition-failed": PreconditionFailed,
    "invariant-violated": InvariantViolated,
}


@get("/refusals/{slug:str}", operation_id="refuse")
async def refuse(slug: FromPath[str]) -> None:
    raise REFUSALS[slug]("the rule said no", errors=[FieldError("body.itemCount", "too many")])


@get("/boom", operation_id="boom")
async def boom() -> None:
    raise RuntimeError(f"could not bill {SECRET}")


def orders_app(settings: ServiceSettings) -> Litestar:
    return create_service_app(settings, route_handlers=[create_thing, list_things, get_thing, refuse, boom])


@pytest.fixture(scope="module")
async def client(settings_for: Callable[[str], ServiceSettings]) -> AsyncIterator[Client]:
    async with AsyncTestClient(orders_app(settings_for("orders"))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def auth(issuer: TestIssuer) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(tenant_id=uuid.uuid4(), roles=['buyer_admin'])}"}


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Log output of the test, as JSON lines.

    ``create_service_app`` calls ``configure_logging`` with the settings' level and stderr, so
    this runs after the app is built and points the same JSON pipeline at a buffer.
    """
    buffer = io.StringIO()
    configure_logging("info", stream=buffer)
    yield buffer
    configure_logging("warning")


def records(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


# --- validation ---


async def test_a_body_out_of_bounds_is_a_400_problem_naming_the_camel_case_field(
    client: Client, auth: dict[str, str]
) -> None:
    response = await client.post(
        "/orders/things", json={"displayName": "Sauna", "itemCount": 0}, headers=auth
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["type"] == "urn:tila:problem:validation"
    assert problem["title"] == "Invalid request"
    assert problem["status"] == 400
    assert problem["instance"] == "/orders/things"
    assert problem["requestId"] == response.headers["x-request-id"]
    [error] = problem["errors"]
    assert error["field"] == "body.itemCount"
    assert ">= 1" in error["message"]


async def test_a_body_field_of_the_wrong_type_is_named_in_camel_case(
    client: Client, auth: dict[str, str]
) -> None:
    response = await client.post(
        "/orders/things", json={"displayName": "Sauna", "itemCount": "three"}, headers=auth
    )
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["body.itemCount"]


async def test_an_unknown_body_field_is_a_400_naming_it(client: Client, auth: dict[str, str]) -> None:
    response = await client.post(
        "/orders/things", json={"displayName": "Sauna", "itemCount": 2, "priceCents": 5}, headers=auth
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_JSON
    [error] = response.json()["errors"]
    assert error["field"] == "body.priceCents"
    assert "priceCents" in error["message"]


async def test_malformed_json_is_a_400_problem(client: Client, auth: dict[str, str]) -> None:
    response = await client.post(
        "/orders/things", content=b'{"displayName": ', headers={**auth, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["status"] == 400
    assert problem["instance"] == "/orders/things"
    assert problem["requestId"] == response.headers["x-request-id"]


async def test_a_query_parameter_of_the_wrong_type_is_named_as_query_field(
    client: Client, auth: dict[str, str]
) -> None:
    response = await client.get("/orders/things", params={"limit": "lots"}, headers=auth)
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_JSON
    assert [e["field"] for e in response.json()["errors"]] == ["query.limit"]


async def test_a_valid_body_reaches_the_handler(client: Client, auth: dict[str, str]) -> None:
    response = await client.post(
        "/orders/things", json={"displayName": "Sauna", "itemCount": 10}, headers=auth
    )
    assert response.status_code == 201, response.text
    assert response.json() == {"displayName": "Sauna", "itemCount": 10}


# --- domain errors and unexpected ones ---


@pytest.mark.parametrize(
    ("slug", "status"),
    [
        ("not-found", 404),
        ("forbidden", 403),
        ("conflict", 409),
        ("precondition-failed", 412),
        ("invariant-violated", 422),
    ],
)
async def test_domain_errors_become_problems_with_their_status_and_type(
    client: Client, auth: dict[str, str], slug: str, status: int
) -> None:
    response = await client.get(f"/orders/refusals/{slug}", headers=auth)
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json() == {
        "type": f"urn:tila:problem:{slug}",
        "title": REFUSALS[slug].title,
        "status": status,
        "detail": "the rule said no",
        "instance": f"/orders/refusals/{slug}",
        "errors": [{"field": "body.itemCount", "message": "too many"}],
        "requestId": response.headers["x-request-id"],
    }


async def test_an_unexpected_error_is_a_500_that_leaks_its_message_neither_to_the_caller_nor_the_logs(
    client: Client, auth: dict[str, str], logs: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        response = await client.get("/orders/boom", headers=auth)
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_JSON
    assert SECRET not in response.text
    request_id = response.headers["x-request-id"]
    problem = response.json()
    assert problem["status"] == 500
    assert problem["requestId"] == request_id
    assert SECRET not in logs.getvalue()
    assert SECRET not in caplog.text
    [error] = [r for r in records(logs) if r["event"] == "unhandled_error"]
    assert error["request_id"] == request_id
    assert error["error_type"] == "RuntimeError"
    assert error["level"] == "error"


async def test_an_unknown_route_is_a_404_problem(client: Client, auth: dict[str, str]) -> None:
    response = await client.get("/orders/nowhere", headers=auth)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["status"] == 404


# --- authentication ---


async def test_a_request_without_a_token_is_a_401_problem_with_a_bearer_challenge(client: Client) -> None:
    response = await client.get("/orders/things")
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["status"] == 401


async def test_a_401_carries_the_request_id_and_is_logged_as_401(client: Client, logs: io.StringIO) -> None:
    response = await client.get("/orders/things", headers={"X-Request-Id": "no-token-1"})
    assert response.headers.get("x-request-id") == "no-token-1"
    [line] = [r for r in records(logs) if r["event"] == "request" and r["request_id"] == "no-token-1"]
    assert line["status"] == 401
    assert response.json()["requestId"] == "no-token-1"


async def test_an_unknown_path_is_logged_counted_and_carries_the_request_id(
    client: Client, logs: io.StringIO
) -> None:
    response = await client.get("/orders/no/such/thing", headers={"X-Request-Id": "lost-1"})
    assert response.status_code == 404
    assert response.headers.get("x-request-id") == "lost-1"
    [line] = [r for r in records(logs) if r["event"] == "request" and r["request_id"] == "lost-1"]
    assert (line["status"], line["route"]) == (404, "unmatched")


async def test_an_expired_token_is_refused_with_invalid_token(client: Client, issuer: TestIssuer) -> None:
    expired = issuer.token(tenant_id=uuid.uuid4(), expires_in=-3600)
    response = await client.get("/orders/things", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert expired not in response.text


# --- health, metrics ---


async def test_liveness_needs_no_token(client: Client) -> None:
    response = await client.get("/orders/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readiness_checks_database_and_nats(client: Client) -> None:
    response = await client.get("/orders/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "nats": "ok"}}


async def test_readiness_is_a_503_problem_once_nats_goes_away(
    settings_for: Callable[[str], ServiceSettings], nats_server_factory: Callable[[], EmbeddedNats]
) -> None:
    server = nats_server_factory()
    app = orders_app(msgspec.structs.replace(settings_for("orders"), nats_url=server.url))
    async with AsyncTestClient(app) as own_client:
        assert (await own_client.get("/orders/health/ready")).status_code == 200
        server.stop()
        async with asyncio.timeout(5):
            while (response := await own_client.get("/orders/health/ready")).status_code == 200:
                await asyncio.sleep(0.1)
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["status"] == 503
    assert "nats" in problem["detail"]
    assert "database" not in problem["detail"]


async def test_metrics_count_requests_by_route_template_not_raw_path_on_their_own_port(
    settings_for: Callable[[str], ServiceSettings], auth: dict[str, str]
) -> None:
    port = free_port()
    app = orders_app(msgspec.structs.replace(settings_for("orders"), metrics_port=port))
    async with AsyncTestClient(app) as own_client:
        assert (await own_client.get("/orders/things/4242", headers=auth)).status_code == 200
        assert (await own_client.get("/orders/health/live")).status_code == 200
        # Not on the public app, where the ingress routes /orders/… from the internet.
        public = await own_client.get("/orders/metrics", headers=auth)
        assert public.status_code == 404
        assert public.headers["content-type"] == PROBLEM_JSON
        async with httpx.AsyncClient(timeout=10) as scraper:
            response = await scraper.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _metric_samples(response.text)
    counted = [labels for name, labels in samples if name == "tila_http_requests_total"]
    assert any(
        labels.get("route") == "/orders/health/live" and labels.get("status") == "200" for labels in counted
    )
    assert any(labels.get("route") == "/orders/things/{thing_id}" for labels in counted)
    # The raw path never becomes a label (a sample's value, e.g. a timestamp, may hold any digits).
    assert all("4242" not in value for _, labels in samples for value in labels.values())


def _metric_samples(text: str) -> list[tuple[str, dict[str, str]]]:
    """The Prometheus text exposition's samples as (metric name, labels)."""
    samples: list[tuple[str, dict[str, str]]] = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, brace, rest = line.partition("{")
        labels: dict[str, str] = {}
        if brace:
            body = rest[: rest.rindex("}")]
            for key, value in re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', body):
                labels[key] = value
        else:
            name = line.split()[0]
        samples.append((name.strip(), labels))
    return samples


async def test_without_a_metrics_port_the_public_app_has_no_metrics(
    client: Client, auth: dict[str, str]
) -> None:
    assert (await client.get("/orders/metrics", headers=auth)).status_code == 404
    assert (await client.get("/orders/metrics")).status_code == 404


# --- OpenAPI ---


async def test_openapi_31_lists_the_service_paths_and_a_bearer_scheme(client: Client) -> None:
    response = await client.get("/orders/schema/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.1")
    assert schema["paths"]
    assert all(path.startswith("/orders/") for path in schema["paths"])
    assert "/orders/things/{thing_id}" in schema["paths"]
    assert schema["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert schema["security"] == [{"bearer": []}]


async def test_openapi_request_bodies_use_camel_case_properties(client: Client) -> None:
    schema = (await client.get("/orders/schema/openapi.json")).json()
    body = schema["paths"]["/orders/things"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    name = body["$ref"].rsplit("/", 1)[-1]
    component = schema["components"]["schemas"][name]
    assert set(component["properties"]) == {"displayName", "itemCount"}
    assert component["properties"]["itemCount"]["minimum"] == 1


# --- request ids and traces ---


async def test_a_valid_request_id_is_echoed(client: Client) -> None:
    response = await client.get("/orders/health/live", headers={"X-Request-Id": "gw-7f3a.b_1"})
    assert response.headers["x-request-id"] == "gw-7f3a.b_1"


async def test_a_request_id_is_generated_when_none_is_sent(client: Client) -> None:
    first = await client.get("/orders/health/live")
    second = await client.get("/orders/health/live")
    assert is_uuid(first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize("sent", ["x" * 200, "has spaces in it", "semi;colon", ""])
async def test_an_invalid_request_id_is_replaced(client: Client, sent: str) -> None:
    response = await client.get("/orders/health/live", headers={"X-Request-Id": sent})
    assert response.headers["x-request-id"] != sent
    assert is_uuid(response.headers["x-request-id"])


async def test_the_sent_request_id_is_in_the_problem_body(client: Client, auth: dict[str, str]) -> None:
    response = await client.get(
        "/orders/refusals/conflict", headers={**auth, "X-Request-Id": "support-ticket-42"}
    )
    assert response.status_code == 409
    assert response.headers["x-request-id"] == "support-ticket-42"
    assert response.json()["requestId"] == "support-ticket-42"


async def test_the_access_log_carries_request_trace_and_principal_ids_and_the_route_template(
    client: Client, issuer: TestIssuer, logs: io.StringIO
) -> None:
    tenant_id = uuid.uuid4()
    token = issuer.token(tenant_id=tenant_id, subject="user:aino")
    response = await client.get(
        "/orders/things/17",
        headers={
            "Authorization": f"Bearer {token}",
            "X-Request-Id": "trace-me-1",
            "traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01",
        },
    )
    assert response.status_code == 200
    [line] = [r for r in records(logs) if r["event"] == "request" and r.get("request_id") == "trace-me-1"]
    assert line["trace_id"] == TRACE_ID
    assert line["tenant_id"] == str(tenant_id)
    assert line["principal_id"] == "user:aino"
    assert line["route"] == "/orders/things/{thing_id}"
    assert line["status"] == 200
    assert token not in logs.getvalue()


async def test_a_malformed_traceparent_gets_a_fresh_trace_id(client: Client, logs: io.StringIO) -> None:
    await client.get(
        "/orders/health/live", headers={"X-Request-Id": "trace-me-2", "traceparent": "00-nope-01"}
    )
    [line] = [r for r in records(logs) if r["event"] == "request" and r.get("request_id") == "trace-me-2"]
    assert len(line["trace_id"]) == 32
    assert "nope" not in line["trace_id"]


async def test_answers_to_callers_with_credentials_are_never_cached(
    client: Client, auth: dict[str, str]
) -> None:
    for path in ("/orders/things", "/orders/refusals/not-found", "/orders/nowhere"):
        response = await client.get(path, headers=auth)
        assert response.headers["cache-control"] == "no-store", path
    assert (await client.get("/orders/things", headers={"Authorization": "Bearer nonsense"})).headers[
        "cache-control"
    ] == "no-store"


async def test_public_answers_without_credentials_may_be_cached(client: Client) -> None:
    assert "cache-control" not in (await client.get("/orders/health/live")).headers


# --- API docs ---


async def test_the_docs_page_loads_only_same_origin_assets_under_a_strict_csp(client: Client) -> None:
    response = await client.get("/orders/schema")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self';" in csp
    assert "connect-src 'self'" in csp
    page = response.text
    assert "<script>" not in page  # no inline script
    assert "style=" not in page
    assert "http://" not in page
    assert "https://" not in page
    assert "//cdn" not in page
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources
    assert all(source.startswith("/orders/schema/") for source in sources), sources
    scripts = re.findall(r'<script src="([^"]+)" integrity="(sha384-[^"]+)"', page)
    assert len(scripts) == 2
    for src, integrity in scripts:
        asset = await client.get(src)
        assert asset.status_code == 200
        assert asset.headers["content-type"].startswith("text/javascript")
        digest = base64.b64encode(hashlib.sha384(asset.content).digest()).decode()
        assert integrity == f"sha384-{digest}"
    bundle = await client.get(scripts[0][0])
    assert b"SwaggerUIBundle" in bundle.content
    assert len(bundle.content) > 100_000
    (css,) = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page)
    assert (await client.get(css)).headers["content-type"].startswith("text/css")
    assert 'data-openapi-url="/orders/schema/openapi.json"' in page
    assert (await client.get("/orders/schema/openapi.json")).status_code == 200


async def test_only_the_docs_files_are_served_from_the_assets_route(client: Client) -> None:
    page = (await client.get("/orders/schema")).text
    (base,) = set(re.findall(r'src="(/orders/schema/assets/[^/]+/)', page))
    for name in ("index.html", "swagger-initializer.js", "..%2F..%2Fpyproject.toml", "swagger-ui.js.map"):
        assert (await client.get(base + name)).status_code == 404
