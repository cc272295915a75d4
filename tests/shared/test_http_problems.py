"""One problem vocabulary for every service: API-named fields, a ``urn:tila:problem:*`` type for
every answer, 415 for a body of the wrong media type, 400 for JSON nested too deeply, and 422
for text XML 1.0 cannot carry — on an app from ``create_service_app`` over real servers."""

from __future__ import annotations

import importlib
import pkgutil
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Annotated

import msgspec
import pytest
from litestar import Litestar, get, post
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter
from litestar.testing import AsyncTestClient

import services
from shared.config import ServiceSettings
from shared.errors import DomainError, NotAllowed, RuleBroken, WrongState, fields_at
from shared.http.app import create_service_app
from shared.http.dependencies import Caller
from shared.http.errors import PROBLEM_TYPES
from shared.testing.issuer import TestIssuer

Client = AsyncTestClient[Litestar]
PROBLEM_JSON = "application/problem+json"


class Address(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    street: str
    post_code: str


class NewTenant(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    name: str
    address: Address
    tags: list[str] = []


@post("/tenants", operation_id="createTenant")
async def create_tenant(
    data: JSONBody[NewTenant],
    idempotency_key: Annotated[str | None, HeaderParameter(name="idempotency-key", max_length=8)] = None,
) -> dict[str, str]:
    return {"name": data.name}


@get("/tenants", operation_id="listTenants")
async def list_tenants(
    period_from: Annotated[int | None, QueryParameter(name="periodFrom")] = None,
    q: FromQuery[str | None] = None,
) -> dict[str, str | None]:
    return {"q": q}


@get("/things/{name:str}", operation_id="getThing")
async def get_thing(name: FromPath[str]) -> dict[str, str]:
    return {"name": name}


@get("/refusals/{kind:str}", operation_id="refuse")
async def refuse(kind: FromPath[str], principal: Caller) -> dict[str, str]:
    """A domain's refusals, raised as they are: the app maps each; the principal comes from the app."""
    assert principal.subject
    if kind == "not-allowed":
        raise NotAllowed("the actor may not")
    if kind == "wrong-state":
        raise WrongState("not in this state")
    if kind == "full-name":
        raise RuleBroken("body.startsAt", "too early")
    with fields_at("order"), fields_at("body"):  # the innermost location wins
        raise RuleBroken("durationMinutes", "no price for this duration")


def _body(name: str = "Tila Oy", street: str = "Katu 2", tags: list[str] | None = None) -> dict[str, object]:
    return {"name": name, "address": {"street": street, "postCode": "00100"}, "tags": tags or []}


@pytest.fixture(scope="module")
async def client(settings_for: Callable[[str], ServiceSettings]) -> AsyncIterator[Client]:
    app = create_service_app(
        settings_for("orders"), route_handlers=[create_tenant, list_tenants, get_thing, refuse]
    )
    async with AsyncTestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def auth(issuer: TestIssuer) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(tenant_id=uuid.uuid4(), roles=['buyer_admin'])}"}


def fields(response: object) -> list[str]:
    problem = response.json()  # type: ignore[attr-defined]
    return [e["field"] for e in problem.get("errors") or []]


# --- the shared refusal vocabulary ---


@pytest.mark.parametrize(
    ("kind", "status", "slug", "errors"),
    [
        ("not-allowed", 403, "forbidden", []),
        ("wrong-state", 409, "conflict", []),
        ("full-name", 422, "invariant-violated", ["body.startsAt"]),
        ("located", 422, "invariant-violated", ["body.durationMinutes"]),
    ],
)
async def test_a_domains_refusal_is_mapped_once(
    client: Client, auth: dict[str, str], kind: str, status: int, slug: str, errors: list[str]
) -> None:
    response = await client.get(f"/orders/refusals/{kind}", headers=auth)
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["type"] == f"urn:tila:problem:{slug}"
    assert fields(response) == errors


# --- field names ---


async def test_a_missing_field_is_named_itself_not_body_data(client: Client, auth: dict[str, str]) -> None:
    body = _body()
    del body["name"]
    response = await client.post("/orders/tenants", json=body, headers=auth)
    assert response.status_code == 400
    assert fields(response) == ["body.name"]


async def test_a_missing_nested_field_is_named_by_its_path(client: Client, auth: dict[str, str]) -> None:
    body = _body()
    body["address"] = {"street": "Katu 2"}
    response = await client.post("/orders/tenants", json=body, headers=auth)
    assert fields(response) == ["body.address.postCode"]


async def test_an_unknown_nested_field_is_named_by_its_path(client: Client, auth: dict[str, str]) -> None:
    body = _body()
    body["address"] = {"street": "Katu 2", "postCode": "00100", "floor": 3}
    response = await client.post("/orders/tenants", json=body, headers=auth)
    assert fields(response) == ["body.address.floor"]


async def test_a_query_parameter_is_named_as_the_api_names_it(client: Client, auth: dict[str, str]) -> None:
    response = await client.get("/orders/tenants", params={"periodFrom": "soon"}, headers=auth)
    assert response.status_code == 400
    assert fields(response) == ["query.periodFrom"]


async def test_a_header_is_named_as_the_api_names_it(client: Client, auth: dict[str, str]) -> None:
    headers = {**auth, "Idempotency-Key": "much-too-long-a-key"}
    response = await client.post("/orders/tenants", json=_body(), headers=headers)
    assert response.status_code == 400
    assert fields(response) == ["header.Idempotency-Key"]


# --- one type vocabulary ---


async def test_every_problem_has_a_documented_urn_type(
    client: Client, auth: dict[str, str], settings_for: Callable[[str], ServiceSettings]
) -> None:
    documented = {kind.type for kind in PROBLEM_TYPES}
    answers = [
        await client.get("/orders/tenants"),  # 401
        await client.get("/orders/nowhere", headers=auth),  # 404
        await client.put("/orders/tenants", json=_body(), headers=auth),  # 405
        await client.post(
            "/orders/tenants", content=b'{"name": ', headers={**auth, "Content-Type": "application/json"}
        ),
        await client.post(
            "/orders/tenants",
            content=b"[" * 3_000_000,
            headers={**auth, "Content-Type": "application/json"},
        ),  # 413
        await client.post("/orders/tenants", data={"name": "x"}, headers=auth),  # 415
        await client.post("/orders/tenants", json=_body(name="a\u0008"), headers=auth),  # 422
    ]
    statuses = [a.status_code for a in answers]
    assert statuses == [401, 404, 405, 400, 413, 415, 422]
    for answer in answers:
        assert answer.headers["content-type"] == PROBLEM_JSON
        problem = answer.json()
        assert problem["type"] in documented, problem
        assert problem["type"].startswith("urn:tila:problem:")


async def test_the_problem_types_are_listed_at_problems_without_a_token(client: Client) -> None:
    response = await client.get("/orders/problems")
    assert response.status_code == 200
    listed = response.json()
    assert {k["type"] for k in listed} == {k.type for k in PROBLEM_TYPES}
    assert all(k["description"] and k["title"] and k["status"] for k in listed)


def _all_subclasses(cls: type[DomainError]) -> set[type[DomainError]]:
    found: set[type[DomainError]] = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_all_subclasses(sub)}
    return found


def test_every_domain_error_of_every_service_has_a_listed_type() -> None:
    for module in pkgutil.walk_packages(services.__path__, "services."):
        importlib.import_module(module.name)
    documented = {kind.type.removeprefix("urn:tila:problem:"): kind.status for kind in PROBLEM_TYPES}
    kinds: set[type[DomainError]] = {DomainError, *_all_subclasses(DomainError)}
    for cls in kinds:
        assert documented.get(cls.slug) == cls.status, f"{cls.__qualname__}: {cls.slug} ({cls.status})"


async def test_a_form_body_to_a_json_operation_is_a_415(client: Client, auth: dict[str, str]) -> None:
    response = await client.post("/orders/tenants", data={"name": "Tila Oy"}, headers=auth)
    assert response.status_code == 415
    assert response.json()["type"] == "urn:tila:problem:unsupported-media-type"
    other = await client.post(
        "/orders/tenants", content=b"name=Tila", headers={**auth, "Content-Type": "text/plain"}
    )
    assert other.status_code == 415


# --- nesting ---


@pytest.mark.parametrize("depth", [100, 100_000])
async def test_deeply_nested_json_is_a_400_problem(client: Client, auth: dict[str, str], depth: int) -> None:
    body = (
        b'{"name": "x", "address": {"street": "x", "postCode": "1"}, "tags": ' + b"[" * depth + b"]" * depth
    )
    body += b"}"
    response = await client.post(
        "/orders/tenants", content=body, headers={**auth, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["type"] == "urn:tila:problem:bad-request"
    assert "nest" in response.json()["detail"]


# --- text XML cannot carry ---


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_body(name="Attacker\u0008Buyer"), "body.name"),
        (_body(street="Katu\u000b2"), "body.address.street"),
        (_body(tags=["fine", "bad\u0000"]), "body.tags[1]"),
        (_body(name="noncharacter \uffff"), "body.name"),
        (_body(name="noncharacter \ufffe"), "body.name"),
        (_body(name="escape \u001b[31m"), "body.name"),
    ],
)
async def test_text_xml_cannot_carry_is_a_422_naming_the_field(
    client: Client, auth: dict[str, str], body: dict[str, object], field: str
) -> None:
    response = await client.post("/orders/tenants", json=body, headers=auth)
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "urn:tila:problem:invalid-text"
    assert fields(response) == [field]


async def test_a_lone_surrogate_is_a_422(client: Client, auth: dict[str, str]) -> None:
    raw = b'{"name": "half \\ud800 a pair", "address": {"street": "x", "postCode": "1"}}'
    response = await client.post(
        "/orders/tenants", content=raw, headers={**auth, "Content-Type": "application/json"}
    )
    # The JSON decoder refuses a lone surrogate escape itself: the body is not JSON it can read.
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["type"] == "urn:tila:problem:bad-request"


async def test_every_bad_field_is_named_at_once(client: Client, auth: dict[str, str]) -> None:
    response = await client.post("/orders/tenants", json=_body("a\u0001", "b\u0002"), headers=auth)
    assert fields(response) == ["body.address.street", "body.name"]


async def test_a_query_value_xml_cannot_carry_is_a_422(client: Client, auth: dict[str, str]) -> None:
    response = await client.get("/orders/tenants", params={"q": "bell\u0007"}, headers=auth)
    assert response.status_code == 422
    assert fields(response) == ["query.q"]


async def test_tab_line_feed_carriage_return_and_any_language_are_fine(
    client: Client, auth: dict[str, str]
) -> None:
    name = "Tila\tOy\r\nÅbo – 東京 😀"
    response = await client.post("/orders/tenants", json=_body(name=name), headers=auth)
    assert response.status_code == 201, response.text
    assert response.json() == {"name": name}


async def test_a_path_value_xml_cannot_carry_is_a_422(client: Client, auth: dict[str, str]) -> None:
    response = await client.get("/orders/things/na%08me", headers=auth)
    assert response.status_code == 422
    assert fields(response) == ["path.name"]


async def test_the_openapi_documents_every_problem_type_and_the_415(client: Client) -> None:
    doc = (await client.get("/orders/schema/openapi.json")).json()
    described = doc["components"]["schemas"]["Problem"]["properties"]["type"]["description"]
    assert all(kind.type in described for kind in PROBLEM_TYPES)
    create = doc["paths"]["/orders/tenants"]["post"]["responses"]
    assert create["415"]["content"]["application/problem+json"]
