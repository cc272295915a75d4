"""Tenant details, buyer structure, people and supervisor profiles over HTTP, on real servers.

Every route that takes an id is attacked with another tenant's ids (404, never 403 or their
data), every list is checked for strangers' rows, and every change is checked in the outbox.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.organisations.app import create_app
from shared.config import ServiceSettings
from shared.contracts import organisations as events
from shared.db.provision import DatabaseLayout
from shared.events.envelope import Envelope, decode_envelope
from shared.testing.issuer import TestIssuer
from tests.clients import ReadBeforeWriteClient
from tests.factories import business_id, iban, ovt, vat_id
from tests.organisations.support import outbox_payloads, with_wrong_check_digit

Client = AsyncTestClient[Litestar]
Headers = dict[str, str]

PROBLEM_JSON = "application/problem+json"
TODAY = dt.date.today()


@pytest.fixture(scope="module")
async def client(settings_for: Callable[[str], ServiceSettings]) -> AsyncIterator[Client]:
    async with ReadBeforeWriteClient(create_app(settings_for("organisations"))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def platform_admin(issuer: TestIssuer) -> Headers:
    return {"Authorization": f"Bearer {issuer.token(tenant_id=uuid.uuid4(), roles=['platform_admin'])}"}


@pytest.fixture(scope="module")
def layout(platform_databases: dict[str, DatabaseLayout]) -> DatabaseLayout:
    return platform_databases["organisations"]


@dataclass
class Org:
    """A tenant made through the API, and tokens of its people."""

    id: uuid.UUID
    kind: str
    business_id: str
    issuer: TestIssuer
    ids: dict[str, str] = field(default_factory=dict)

    def as_(self, *roles: str, subject: str | None = None) -> Headers:
        token = self.issuer.token(tenant_id=self.id, roles=roles, subject=subject)
        return {"Authorization": f"Bearer {token}"}

    @property
    def admin(self) -> Headers:
        return self.as_("buyer_admin" if self.kind == "buyer" else "provider_admin")


async def new_org(client: Client, platform_admin: Headers, issuer: TestIssuer, kind: str, **body: Any) -> Org:
    own = business_id()
    response = await client.post(
        "/organisations/tenants",
        json={"name": f"{kind} {own}", "kind": kind, "businessId": own, **body},
        headers=platform_admin,
    )
    assert response.status_code == 201, response.text
    return Org(uuid.UUID(response.json()["id"]), kind, own, issuer)


def created(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def problem_fields(response: httpx.Response, status: int) -> list[str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    return [error["field"] for error in response.json()["errors"]]


async def outbox(layout: DatabaseLayout, tenant_id: uuid.UUID) -> list[Envelope]:
    return [decode_envelope(payload) for payload in await outbox_payloads(layout, tenant_id)]


async def events_of(layout: DatabaseLayout, tenant_id: uuid.UUID, subject: str | uuid.UUID) -> list[Envelope]:
    return [e for e in await outbox(layout, tenant_id) if e.subject == str(subject)]


async def person(client: Client, org: Org, roles: list[str], **body: Any) -> dict[str, Any]:
    email = f"{uuid.uuid4().hex[:8]}@{org.business_id[:7]}.example"
    return created(
        await client.post(
            "/organisations/people",
            json={"name": "Maija Meikäläinen", "email": email, "roles": roles, **body},
            headers=org.admin,
        )
    )


async def org_unit(client: Client, org: Org, name: str = "Lastensuojelu", **body: Any) -> dict[str, Any]:
    return created(
        await client.post("/organisations/org-units", json={"name": name, **body}, headers=org.admin)
    )


async def cost_centre(client: Client, org: Org, unit_id: str, code: str | None = None) -> dict[str, Any]:
    body = {
        "orgUnitId": unit_id,
        "code": code or f"KP-{uuid.uuid4().hex[:6]}",
        "name": "Lastensuojelun avohuolto",
        "yearlyBudgetCents": 2_500_000,
    }
    return created(await client.post("/organisations/cost-centres", json=body, headers=org.admin))


# --- tenants: details, validation, updates and deactivation ---


async def test_a_provider_is_created_with_vat_id_addresses_and_a_bank_account(
    client: Client, platform_admin: Headers, layout: DatabaseLayout
) -> None:
    own = business_id()
    response = await client.post(
        "/organisations/tenants",
        json={
            "name": "Työnohjaus Pysähdys Oy",
            "kind": "provider",
            "subtype": "supervisor_company",
            "businessId": own,
            "vatId": vat_id(own).lower(),
            "postalAddress": {"street": "Hämeenkatu 1 A", "postcode": "33100", "city": "Tampere"},
            "eInvoiceAddress": {"address": f"0216:{ovt(own)}"},
            "iban": "FI21 1234 5600 0007 85",
        },
        headers=platform_admin,
    )
    tenant = created(response)
    assert tenant | {"id": None} == {
        "id": None,
        "name": "Työnohjaus Pysähdys Oy",
        "kind": "provider",
        "subtype": "supervisor_company",
        "businessId": own,
        "vatId": vat_id(own),
        "postalAddress": {
            "street": "Hämeenkatu 1 A",
            "postcode": "33100",
            "city": "Tampere",
            "country": "FI",
        },
        "eInvoiceAddress": {"scheme": "peppol", "address": f"0216:{ovt(own)}", "operatorId": None},
        "iban": "FI2112345600000785",
        "bic": "NDEAFIHH",
        "active": True,
        "version": 1,
    }
    [announced] = await outbox(layout, uuid.UUID(tenant["id"]))
    event = announced.event_as(events.TenantCreated)
    assert (event.subtype, event.vat_id, event.iban, event.bic) == (
        "supervisor_company",
        vat_id(own),
        "FI2112345600000785",
        "NDEAFIHH",
    )
    assert event.e_invoice_address == events.EInvoiceAddress(scheme="peppol", address=f"0216:{ovt(own)}")


def _invalid_tenant_bodies() -> list[Any]:
    own = business_id()
    return [
        pytest.param({"businessId": with_wrong_check_digit(own)}, 422, "body.businessId", id="business-id"),
        pytest.param({"vatId": with_wrong_check_digit(vat_id(own))}, 422, "body.vatId", id="vat-checksum"),
        pytest.param({"vatId": vat_id(business_id())}, 422, "body.vatId", id="vat-of-another-business"),
        pytest.param({"vatId": "FI1"}, 400, "body.vatId", id="vat-too-short"),
        pytest.param({"iban": "FI21 1234 5600 0007 86"}, 422, "body.iban", id="iban-checksum"),
        pytest.param({"iban": "FI21"}, 400, "body.iban", id="iban-too-short"),
        pytest.param({"iban": iban(), "bic": "COBADEFFXXX"}, 422, "body.bic", id="bic-of-another-country"),
        pytest.param(
            {"eInvoiceAddress": {"address": with_wrong_check_digit(ovt(own)), "operatorId": "003721291126"}},
            422,
            "body.eInvoiceAddress.address",
            id="ovt-check-digit",
        ),
        pytest.param(
            {"eInvoiceAddress": {"address": "0192:" + ovt(own)}},
            422,
            "body.eInvoiceAddress.address",
            id="peppol-scheme",
        ),
        pytest.param(
            {"eInvoiceAddress": {"address": ovt(own)}},
            422,
            "body.eInvoiceAddress.operatorId",
            id="ovt-no-operator",
        ),
        pytest.param(
            {"postalAddress": {"street": "Katu 1", "postcode": "331", "city": "Tampere"}},
            422,
            "body.postalAddress.postcode",
            id="postcode",
        ),
        pytest.param({"subtype": "welfare_area"}, 422, "body.subtype", id="subtype-of-the-other-kind"),
    ]


@pytest.mark.parametrize(("body", "status", "field"), _invalid_tenant_bodies())
async def test_an_invalid_identifier_is_refused_on_its_field(
    client: Client, platform_admin: Headers, body: dict[str, Any], status: int, field: str
) -> None:
    payload = {"name": "Tmi Ohjaaja", "kind": "provider", "businessId": business_id(), **body}
    response = await client.post("/organisations/tenants", json=payload, headers=platform_admin)
    assert problem_fields(response, status) == [field]


async def test_a_buyer_has_no_bank_account(client: Client, platform_admin: Headers) -> None:
    body = {"name": "Hyvinvointialue", "kind": "buyer", "businessId": business_id(), "iban": iban()}
    response = await client.post("/organisations/tenants", json=body, headers=platform_admin)
    assert problem_fields(response, 422) == ["body.iban"]


async def test_a_tenant_admin_updates_the_details_with_if_match_and_others_hear_of_it(
    client: Client, platform_admin: Headers, issuer: TestIssuer, layout: DatabaseLayout
) -> None:
    buyer = await new_org(client, platform_admin, issuer, "buyer")
    read = await client.get("/organisations/tenants/me", headers=buyer.admin)
    assert read.headers["etag"] == '"1"'
    changes = {
        "name": "Pirkanmaan hyvinvointialue",
        "subtype": "welfare_area",
        "vatId": vat_id(buyer.business_id),
        "postalAddress": {"street": "PL 272", "postcode": "33101", "city": "Tampere"},
        "eInvoiceAddress": {"address": ovt(buyer.business_id, "1"), "operatorId": "003721291126"},
    }
    response = await client.patch(
        "/organisations/tenants/me", json=changes, headers=buyer.admin | {"If-Match": '"1"'}
    )
    updated = created(response, 200)
    assert response.headers["etag"] == '"2"'
    assert (updated["name"], updated["version"], updated["eInvoiceAddress"]["scheme"]) == (
        "Pirkanmaan hyvinvointialue",
        2,
        "ovt",
    )
    stale = await client.patch(
        "/organisations/tenants/me", json={"name": "X"}, headers=buyer.admin | {"If-Match": '"1"'}
    )
    assert stale.status_code == 412
    same = await client.patch(
        "/organisations/tenants/me", json={"name": "Pirkanmaan hyvinvointialue"}, headers=buyer.admin
    )
    assert created(same, 200)["version"] == 2
    cleared = created(
        await client.patch("/organisations/tenants/me", json={"vatId": None}, headers=buyer.admin), 200
    )
    assert (cleared["vatId"], cleared["version"]) == (None, 3)
    announced = await outbox(layout, buyer.id)
    assert [(e.type, e.version) for e in announced] == [
        ("organisations.tenant.created.v1", 1),
        ("organisations.tenant.updated.v1", 2),
        ("organisations.tenant.updated.v1", 3),
    ]
    assert announced[1].event_as(events.TenantUpdated).name == "Pirkanmaan hyvinvointialue"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"vatId": "FI00000001"}, 422, "body.vatId"),
        (
            {"eInvoiceAddress": {"address": "0037123", "operatorId": "003721291126"}},
            400,
            "body.eInvoiceAddress.address",
        ),
        ({"iban": "FI2112345600000785"}, 422, "body.iban"),
        ({"businessId": "2077474-0"}, 400, "body.businessId"),
        ({"kind": "provider"}, 400, "body.kind"),
    ],
)
async def test_an_update_is_checked_like_a_creation_and_kind_and_business_id_never_change(
    client: Client, platform_admin: Headers, issuer: TestIssuer, body: dict[str, Any], status: int, field: str
) -> None:
    buyer = await new_org(client, platform_admin, issuer, "buyer")
    response = await client.patch("/organisations/tenants/me", json=body, headers=buyer.admin)
    assert problem_fields(response, status) == [field]


async def test_only_the_tenants_own_admin_updates_it(
    client: Client, platform_admin: Headers, issuer: TestIssuer
) -> None:
    buyer = await new_org(client, platform_admin, issuer, "buyer")
    for headers in (
        buyer.as_("employee"),
        buyer.as_("approver"),
        buyer.as_("provider_admin"),
        platform_admin,
    ):
        response = await client.patch("/organisations/tenants/me", json={"name": "X"}, headers=headers)
        assert response.status_code == 403, response.text
    assert (await client.get("/organisations/tenants/me", headers=buyer.admin)).json()["name"] != "X"


async def test_a_platform_admin_deactivates_a_tenant_whose_data_stays(
    client: Client, platform_admin: Headers, issuer: TestIssuer, layout: DatabaseLayout
) -> None:
    buyer = await new_org(client, platform_admin, issuer, "buyer")
    existing = await person(client, buyer, ["employee"])
    assert (
        await client.post(f"/organisations/tenants/{buyer.id}/deactivate", headers=buyer.admin)
    ).status_code == 403
    deactivated = created(
        await client.post(f"/organisations/tenants/{buyer.id}/deactivate", headers=platform_admin), 200
    )
    assert (deactivated["active"], deactivated["version"]) == (False, 2)
    again = created(
        await client.post(f"/organisations/tenants/{buyer.id}/deactivate", headers=platform_admin), 200
    )
    assert again["version"] == 2
    [event] = [e for e in await outbox(layout, buyer.id) if e.type == events.TenantDeactivated.event_type]
    assert (event.version, event.tenant_ids, event.event_as(events.TenantDeactivated).tenant_id) == (
        2,
        (buyer.id,),
        buyer.id,
    )
    # Data stays and can be read; nothing can be changed any more.
    assert (await client.get("/organisations/tenants/me", headers=buyer.admin)).json()["active"] is False
    assert (
        await client.get(f"/organisations/people/{existing['id']}", headers=buyer.admin)
    ).status_code == 200
    renamed = await client.patch("/organisations/tenants/me", json={"name": "X"}, headers=buyer.admin)
    added = await client.post(
        "/organisations/people",
        json={"name": "N", "email": "n@example.fi", "roles": ["employee"]},
        headers=buyer.admin,
    )
    changed = await client.patch(
        f"/organisations/people/{existing['id']}", json={"name": "X"}, headers=buyer.admin
    )
    for refused in (renamed, added, changed):
        assert refused.status_code == 403
        assert refused.json()["detail"] == "the tenant is deactivated"


async def test_deactivating_an_unknown_tenant_is_a_404(client: Client, platform_admin: Headers) -> None:
    response = await client.post(f"/organisations/tenants/{uuid.uuid4()}/deactivate", headers=platform_admin)
    assert response.status_code == 404


# --- org units and cost centres ---


@pytest.fixture(scope="module")
async def buyer(client: Client, platform_admin: Headers, issuer: TestIssuer) -> Org:
    return await new_org(client, platform_admin, issuer, "buyer", subtype="welfare_area")


@pytest.fixture(scope="module")
async def provider(client: Client, platform_admin: Headers, issuer: TestIssuer) -> Org:
    return await new_org(client, platform_admin, issuer, "provider", subtype="network")


async def test_org_units_form_a_tree_that_cannot_loop(client: Client, buyer: Org) -> None:
    top = await org_unit(client, buyer, "Sosiaali- ja terveyspalvelut")
    child = await org_unit(client, buyer, "Lastensuojelu", parentId=top["id"])
    assert (child["parentId"], child["version"]) == (top["id"], 1)
    read = await client.get(f"/organisations/org-units/{child['id']}", headers=buyer.as_("approver"))
    assert (read.json(), read.headers["etag"]) == (child, '"1"')
    loop = await client.patch(
        f"/organisations/org-units/{top['id']}", json={"parentId": child["id"]}, headers=buyer.admin
    )
    assert problem_fields(loop, 422) == ["body.parentId"]
    renamed = await client.patch(
        f"/organisations/org-units/{child['id']}",
        json={"name": "Lastensuojelu ja perhetyö"},
        headers=buyer.admin,
    )
    assert (created(renamed, 200)["name"], renamed.json()["version"]) == ("Lastensuojelu ja perhetyö", 2)
    unknown_parent = await client.post(
        "/organisations/org-units", json={"name": "X", "parentId": str(uuid.uuid4())}, headers=buyer.admin
    )
    assert problem_fields(unknown_parent, 422) == ["body.parentId"]


async def test_an_org_unit_with_sub_units_or_cost_centres_is_not_deleted(client: Client, buyer: Org) -> None:
    top = await org_unit(client, buyer, "Vammaispalvelut")
    leaf = await org_unit(client, buyer, "Asumispalvelut", parentId=top["id"])
    assert (
        await client.delete(f"/organisations/org-units/{top['id']}", headers=buyer.admin)
    ).status_code == 409
    await cost_centre(client, buyer, leaf["id"])
    assert (
        await client.delete(f"/organisations/org-units/{leaf['id']}", headers=buyer.admin)
    ).status_code == 409
    empty = await org_unit(client, buyer, "Tyhjä")
    assert (
        await client.delete(f"/organisations/org-units/{empty['id']}", headers=buyer.admin)
    ).status_code == 204
    assert (
        await client.get(f"/organisations/org-units/{empty['id']}", headers=buyer.admin)
    ).status_code == 404


async def test_a_creation_answers_the_etag_of_the_version_it_made(
    client: Client, buyer: Org, platform_admin: Headers
) -> None:
    unit = await client.post("/organisations/org-units", json={"name": "Perhepalvelut"}, headers=buyer.admin)
    centre = await client.post(
        "/organisations/cost-centres",
        json={
            "orgUnitId": unit.json()["id"],
            "code": f"KP-{uuid.uuid4().hex[:6]}",
            "name": "Perhetyö",
            "yearlyBudgetCents": 100_000,
        },
        headers=buyer.admin,
    )
    email = f"{uuid.uuid4().hex[:8]}@etag.example"
    someone = await client.post(
        "/organisations/people",
        json={"name": "Maija Meikäläinen", "email": email, "roles": ["employee"]},
        headers=buyer.admin,
    )
    tenant = await client.post(
        "/organisations/tenants",
        json={"name": "Kaarnan hyvinvointialue", "kind": "buyer", "businessId": business_id()},
        headers=platform_admin,
    )
    for response in (unit, centre, someone, tenant):
        assert response.status_code == 201, response.text
        assert response.headers["etag"] == f'"{response.json()["version"]}"'


async def test_deactivations_and_approver_changes_take_the_version_read(
    client: Client, buyer: Org, layout: DatabaseLayout
) -> None:
    unit = await org_unit(client, buyer)
    made = await cost_centre(client, buyer, unit["id"])
    approver = await person(client, buyer, ["approver"])
    path = f"/organisations/cost-centres/{made['id']}"
    approvers = f"{path}/approvers/{approver['id']}"
    assigned = await client.put(approvers, headers=buyer.admin | {"If-Match": '"1"'})
    assert (assigned.status_code, assigned.headers["etag"]) == (204, '"2"')
    # An approver change is a change of the cost centre: the ETag read before it is stale now.
    stale = await client.delete(approvers, headers=buyer.admin | {"If-Match": '"1"'})
    assert stale.status_code == 412
    removed = await client.delete(approvers, headers=buyer.admin | {"If-Match": '"2"'})
    assert (removed.status_code, removed.headers["etag"]) == (204, '"3"')
    assert (
        await client.post(f"{path}/deactivate", headers=buyer.admin | {"If-Match": '"2"'})
    ).status_code == 412
    deactivated = await client.post(f"{path}/deactivate", headers=buyer.admin | {"If-Match": '"3"'})
    assert (created(deactivated, 200)["active"], deactivated.headers["etag"]) == (False, '"4"')
    people = f"/organisations/people/{approver['id']}"
    assert (
        await client.post(f"{people}/deactivate", headers=buyer.admin | {"If-Match": '"9"'})
    ).status_code == 412
    gone = await client.post(
        f"{people}/deactivate", headers=buyer.admin | {"If-Match": f'"{approver["version"]}"'}
    )
    assert created(gone, 200)["active"] is False
    lone = await org_unit(client, buyer, "Yksin")
    units = f"/organisations/org-units/{lone['id']}"
    assert (await client.delete(units, headers=buyer.admin | {"If-Match": '"2"'})).status_code == 412
    assert (await client.delete(units, headers=buyer.admin | {"If-Match": '"1"'})).status_code == 204
    assert [e.version for e in await events_of(layout, buyer.id, made["id"])] == [1, 2, 3, 4]


async def test_a_cost_centre_is_created_read_updated_and_deactivated_with_its_events(
    client: Client, buyer: Org, layout: DatabaseLayout
) -> None:
    unit = await org_unit(client, buyer)
    other_unit = await org_unit(client, buyer, "Perheneuvola")
    code = f"4100-{uuid.uuid4().hex[:4]}"
    made = await cost_centre(client, buyer, unit["id"], code)
    assert made | {"id": None} == {
        "id": None,
        "orgUnitId": unit["id"],
        "code": code,
        "name": "Lastensuojelun avohuolto",
        "yearlyBudgetCents": 2_500_000,
        "active": True,
        "version": 1,
    }
    path = f"/organisations/cost-centres/{made['id']}"
    read = await client.get(path, headers=buyer.as_("approver"))
    assert (read.json(), read.headers["etag"]) == (made, '"1"')
    updated = await client.patch(
        path,
        json={"yearlyBudgetCents": 3_000_000, "orgUnitId": other_unit["id"]},
        headers=buyer.admin | {"If-Match": '"1"'},
    )
    assert (
        created(updated, 200)["yearlyBudgetCents"],
        updated.json()["orgUnitId"],
        updated.headers["etag"],
    ) == (
        3_000_000,
        other_unit["id"],
        '"2"',
    )
    stale = await client.patch(path, json={"name": "X"}, headers=buyer.admin | {"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["type"] == "urn:tila:problem:precondition-failed"
    deactivated = created(await client.post(f"{path}/deactivate", headers=buyer.admin), 200)
    assert (deactivated["active"], deactivated["version"]) == (False, 3)
    assert (await client.patch(path, json={"name": "X"}, headers=buyer.admin)).status_code == 409
    announced = await events_of(layout, buyer.id, made["id"])
    assert [(e.type, e.version, e.tenant_ids) for e in announced] == [
        ("organisations.cost_centre.created.v1", 1, (buyer.id,)),
        ("organisations.cost_centre.updated.v1", 2, (buyer.id,)),
        ("organisations.cost_centre.deactivated.v1", 3, (buyer.id,)),
    ]
    assert announced[1].event_as(events.CostCentreUpdated) == events.CostCentreUpdated(
        cost_centre_id=uuid.UUID(made["id"]),
        org_unit_id=uuid.UUID(other_unit["id"]),
        code=code,
        name="Lastensuojelun avohuolto",
        yearly_budget_cents=3_000_000,
        active=True,
    )


async def test_cost_centre_rules_are_field_level_problems(client: Client, buyer: Org) -> None:
    unit = await org_unit(client, buyer)
    taken = await cost_centre(client, buyer, unit["id"])
    base = {"orgUnitId": unit["id"], "code": "OK-1", "name": "Kp", "yearlyBudgetCents": 0}
    cases = [
        ({"code": taken["code"]}, 409, "body.code"),
        ({"code": "41 00"}, 422, "body.code"),
        ({"orgUnitId": str(uuid.uuid4())}, 422, "body.orgUnitId"),
        ({"yearlyBudgetCents": -1}, 400, "body.yearlyBudgetCents"),
        ({"yearlyBudgetCents": 12.5}, 400, "body.yearlyBudgetCents"),
    ]
    for change, status, field_name in cases:
        response = await client.post("/organisations/cost-centres", json=base | change, headers=buyer.admin)
        assert problem_fields(response, status) == [field_name], change


async def test_cost_centres_are_listed_page_by_page(
    client: Client, platform_admin: Headers, issuer: TestIssuer
) -> None:
    fresh = await new_org(client, platform_admin, issuer, "buyer")
    unit = await org_unit(client, fresh)
    made = [(await cost_centre(client, fresh, unit["id"]))["id"] for _ in range(5)]
    await client.post(f"/organisations/cost-centres/{made[0]}/deactivate", headers=fresh.admin)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = created(
            await client.get("/organisations/cost-centres", params=params, headers=fresh.as_("approver")), 200
        )
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page.get("nextCursor")
        if cursor is None:
            break
    assert (seen, pages) == (sorted(made), 3)
    active = created(
        await client.get("/organisations/cost-centres", params={"active": "true"}, headers=fresh.admin), 200
    )
    assert [item["id"] for item in active["items"]] == sorted(made[1:])
    bad = await client.get(
        "/organisations/cost-centres", params={"cursor": "not-a-cursor"}, headers=fresh.admin
    )
    assert problem_fields(bad, 400) == ["query.cursor"]
    too_many = await client.get("/organisations/cost-centres", params={"limit": 201}, headers=fresh.admin)
    assert problem_fields(too_many, 400) == ["query.limit"]


async def test_org_units_and_people_are_listed_page_by_page(
    client: Client, platform_admin: Headers, issuer: TestIssuer
) -> None:
    fresh = await new_org(client, platform_admin, issuer, "buyer")
    units = [(await org_unit(client, fresh, f"Yksikkö {n}"))["id"] for n in range(3)]
    people = [(await person(client, fresh, ["employee"]))["id"] for _ in range(3)]
    for path, expected in (("/organisations/org-units", units), ("/organisations/people", people)):
        first = created(await client.get(path, params={"limit": 2}, headers=fresh.admin), 200)
        rest = created(
            await client.get(path, params={"limit": 2, "cursor": first["nextCursor"]}, headers=fresh.admin),
            200,
        )
        assert [i["id"] for i in first["items"] + rest["items"]] == sorted(expected)
        assert "nextCursor" not in rest


# --- approvers ---


async def test_an_approver_is_assigned_and_removed_and_each_change_counts_on_the_cost_centre(
    client: Client, buyer: Org, layout: DatabaseLayout
) -> None:
    unit = await org_unit(client, buyer)
    centre = await cost_centre(client, buyer, unit["id"])
    esihenkilo = await person(client, buyer, ["approver", "employee"])
    path = f"/organisations/cost-centres/{centre['id']}/approvers"
    assert (await client.put(f"{path}/{esihenkilo['id']}", headers=buyer.admin)).status_code == 204
    assert (
        await client.put(f"{path}/{esihenkilo['id']}", headers=buyer.admin)
    ).status_code == 204  # idempotent
    listed = created(await client.get(path, headers=buyer.as_("approver")), 200)
    assert [(a["personId"], a["name"]) for a in listed["items"]] == [(esihenkilo["id"], "Maija Meikäläinen")]
    assert (await client.get(f"/organisations/cost-centres/{centre['id']}", headers=buyer.admin)).json()[
        "version"
    ] == 2
    assert (await client.delete(f"{path}/{esihenkilo['id']}", headers=buyer.admin)).status_code == 204
    assert (await client.delete(f"{path}/{esihenkilo['id']}", headers=buyer.admin)).status_code == 404
    assert created(await client.get(path, headers=buyer.admin), 200)["items"] == []
    announced = await events_of(layout, buyer.id, centre["id"])
    assert [(e.type, e.version) for e in announced] == [
        ("organisations.cost_centre.created.v1", 1),
        ("organisations.cost_centre.approver_assigned.v1", 2),
        ("organisations.cost_centre.approver_removed.v1", 3),
    ]
    assert announced[1].event_as(events.ApproverAssigned) == events.ApproverAssigned(
        cost_centre_id=uuid.UUID(centre["id"]), person_id=uuid.UUID(esihenkilo["id"])
    )


async def test_only_an_active_person_with_the_approver_role_approves(client: Client, buyer: Org) -> None:
    unit = await org_unit(client, buyer)
    centre = await cost_centre(client, buyer, unit["id"])
    employee = await person(client, buyer, ["employee"])
    response = await client.put(
        f"/organisations/cost-centres/{centre['id']}/approvers/{employee['id']}", headers=buyer.admin
    )
    assert problem_fields(response, 422) == ["path.personId"]
    nobody = await client.put(
        f"/organisations/cost-centres/{centre['id']}/approvers/{uuid.uuid4()}", headers=buyer.admin
    )
    assert nobody.status_code == 404


async def test_an_approver_who_leaves_or_loses_the_role_stops_approving(
    client: Client, buyer: Org, layout: DatabaseLayout
) -> None:
    unit = await org_unit(client, buyer)
    centres = [await cost_centre(client, buyer, unit["id"]) for _ in range(2)]
    leaving, demoted = await person(client, buyer, ["approver"]), await person(client, buyer, ["approver"])
    for centre in centres:
        for approver in (leaving, demoted):
            await client.put(
                f"/organisations/cost-centres/{centre['id']}/approvers/{approver['id']}", headers=buyer.admin
            )
    assert (
        await client.post(f"/organisations/people/{leaving['id']}/deactivate", headers=buyer.admin)
    ).status_code == 200
    demoting = await client.patch(
        f"/organisations/people/{demoted['id']}", json={"roles": ["employee"]}, headers=buyer.admin
    )
    assert demoting.status_code == 200
    for centre in centres:
        listed = created(
            await client.get(f"/organisations/cost-centres/{centre['id']}/approvers", headers=buyer.admin),
            200,
        )
        assert listed["items"] == []
        removed = [
            e.event_as(events.ApproverRemoved).person_id
            for e in await events_of(layout, buyer.id, centre["id"])
            if e.type == events.ApproverRemoved.event_type
        ]
        assert sorted(removed) == sorted([uuid.UUID(leaving["id"]), uuid.UUID(demoted["id"])])


# --- people ---


async def test_a_person_is_created_with_roles_and_announced_without_contact_details(
    client: Client, buyer: Org, layout: DatabaseLayout
) -> None:
    email = f"maija.{uuid.uuid4().hex[:6]}@pirha.example"
    made = created(
        await client.post(
            "/organisations/people",
            json={
                "name": "Maija Meikäläinen",
                "email": email,
                "roles": ["employee", "approver"],
                "hrEmployeeNumber": "100234",
            },
            headers=buyer.admin,
        )
    )
    assert made | {"id": None} == {
        "id": None,
        "name": "Maija Meikäläinen",
        "email": email,
        "roles": ["approver", "employee"],
        "hrEmployeeNumber": "100234",
        "active": True,
        "version": 1,
    }
    renamed = await client.patch(
        f"/organisations/people/{made['id']}",
        json={"email": "m." + email, "roles": ["employee"]},
        headers=buyer.admin,
    )
    assert created(renamed, 200)["version"] == 2
    deactivated = created(
        await client.post(f"/organisations/people/{made['id']}/deactivate", headers=buyer.admin), 200
    )
    assert (deactivated["active"], deactivated["version"]) == (False, 3)
    assert (
        await client.patch(f"/organisations/people/{made['id']}", json={"name": "X"}, headers=buyer.admin)
    ).status_code == 409
    assert (
        await client.delete(f"/organisations/people/{made['id']}", headers=buyer.admin)
    ).status_code == 405
    announced = await events_of(layout, buyer.id, made["id"])
    assert [(e.type, e.version) for e in announced] == [
        ("organisations.person.created.v1", 1),
        ("organisations.person.updated.v1", 2),
        ("organisations.person.deactivated.v1", 3),
    ]
    assert announced[0].event_as(events.PersonCreated) == events.PersonCreated(
        person_id=uuid.UUID(made["id"]),
        roles=["approver", "employee"],
        hr_employee_number="100234",
        active=True,
    )
    for payload in await outbox_payloads(layout, buyer.id):
        assert email.encode() not in payload
        assert b"Meik" not in payload


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"roles": ["supervisor"]}, 422, "body.roles"),
        ({"roles": ["platform_admin"]}, 400, "body.roles[0]"),
        ({"roles": []}, 400, "body.roles"),
        ({"email": "not-an-address"}, 422, "body.email"),
        ({"hrEmployeeNumber": "131052-308T"}, 422, "body.hrEmployeeNumber"),
        ({"hrEmployeeNumber": "100 234"}, 422, "body.hrEmployeeNumber"),
    ],
)
async def test_a_person_is_checked_against_the_tenants_kind(
    client: Client, buyer: Org, layout: DatabaseLayout, body: dict[str, Any], status: int, field: str
) -> None:
    payload = {"name": "N", "email": f"{uuid.uuid4().hex[:8]}@pirha.example", "roles": ["employee"], **body}
    response = await client.post("/organisations/people", json=payload, headers=buyer.admin)
    assert problem_fields(response, status) == [field]
    # A personal identity code is never echoed back or written anywhere.
    assert "131052-308T" not in response.text
    assert all(b"131052-308T" not in p for p in await outbox_payloads(layout, buyer.id))


async def test_a_provider_person_has_provider_roles_and_no_hr_employee_number(
    client: Client, provider: Org
) -> None:
    supervisor = await person(client, provider, ["supervisor"])
    assert supervisor["roles"] == ["supervisor"]
    buyer_role = await client.post(
        "/organisations/people",
        json={"name": "N", "email": "n@tyonohjaus.example", "roles": ["employee"]},
        headers=provider.admin,
    )
    assert problem_fields(buyer_role, 422) == ["body.roles"]
    numbered = await client.post(
        "/organisations/people",
        json={
            "name": "N",
            "email": "n2@tyonohjaus.example",
            "roles": ["supervisor"],
            "hrEmployeeNumber": "1",
        },
        headers=provider.admin,
    )
    assert problem_fields(numbered, 422) == ["body.hrEmployeeNumber"]


async def test_an_email_or_hr_employee_number_is_used_once_per_tenant(
    client: Client, buyer: Org, platform_admin: Headers, issuer: TestIssuer
) -> None:
    first = await person(client, buyer, ["employee"], hrEmployeeNumber=uuid.uuid4().hex[:10])
    same_email = await client.post(
        "/organisations/people",
        json={"name": "N", "email": first["email"].upper(), "roles": ["employee"]},
        headers=buyer.admin,
    )
    assert problem_fields(same_email, 409) == ["body.email"]
    same_number = await client.post(
        "/organisations/people",
        json={
            "name": "N",
            "email": "x" + first["email"],
            "roles": ["employee"],
            "hrEmployeeNumber": first["hrEmployeeNumber"],
        },
        headers=buyer.admin,
    )
    assert problem_fields(same_number, 409) == ["body.hrEmployeeNumber"]
    # Another tenant may have the same people.
    other = await new_org(client, platform_admin, issuer, "buyer")
    again = await client.post(
        "/organisations/people",
        json={
            "name": "N",
            "email": first["email"],
            "roles": ["employee"],
            "hrEmployeeNumber": first["hrEmployeeNumber"],
        },
        headers=other.admin,
    )
    assert again.status_code == 201


async def test_people_are_filtered_by_role_and_active(
    client: Client, platform_admin: Headers, issuer: TestIssuer
) -> None:
    fresh = await new_org(client, platform_admin, issuer, "buyer")
    approver = await person(client, fresh, ["approver"])
    employee = await person(client, fresh, ["employee"])
    await client.post(f"/organisations/people/{employee['id']}/deactivate", headers=fresh.admin)
    by_role = created(
        await client.get("/organisations/people", params={"role": "approver"}, headers=fresh.admin), 200
    )
    assert [p["id"] for p in by_role["items"]] == [approver["id"]]
    inactive = created(
        await client.get("/organisations/people", params={"active": "false"}, headers=fresh.admin), 200
    )
    assert [p["id"] for p in inactive["items"]] == [employee["id"]]


async def test_everyone_reads_their_own_person_record_and_nobody_elses(client: Client, buyer: Org) -> None:
    employee = await person(client, buyer, ["employee"])
    mine = await client.get("/organisations/people/me", headers=buyer.as_("employee", subject=employee["id"]))
    assert created(mine, 200) == employee | {"identities": [], "identityHistory": []}
    no_role = await client.get("/organisations/people/me", headers=buyer.as_(subject=employee["id"]))
    assert no_role.status_code == 200
    for subject in (str(uuid.uuid4()), "user:someone", f"client:{uuid.uuid4()}"):
        response = await client.get(
            "/organisations/people/me", headers=buyer.as_("employee", subject=subject)
        )
        assert response.status_code == 404
    other = await client.get(
        f"/organisations/people/{employee['id']}", headers=buyer.as_("employee", subject=employee["id"])
    )
    assert other.status_code == 403


@pytest.mark.parametrize(
    ("roles", "method", "path", "body"),
    [
        (
            ["employee"],
            "POST",
            "/organisations/people",
            {"name": "N", "email": "n@x.example", "roles": ["employee"]},
        ),
        (
            ["approver"],
            "POST",
            "/organisations/people",
            {"name": "N", "email": "n@x.example", "roles": ["employee"]},
        ),
        (["employee"], "GET", "/organisations/people", None),
        (["employee"], "GET", "/organisations/cost-centres", None),
        (["approver"], "POST", "/organisations/org-units", {"name": "X"}),
        (
            ["provider_admin"],
            "POST",
            "/organisations/cost-centres",
            {"orgUnitId": str(uuid.uuid4()), "code": "X", "name": "X", "yearlyBudgetCents": 0},
        ),
        (["provider_admin"], "POST", "/organisations/org-units", {"name": "X"}),
        (["buyer_admin"], "POST", "/organisations/supervisor-profiles", {"personId": str(uuid.uuid4())}),
        (["supervisor"], "POST", "/organisations/supervisor-profiles", {"personId": str(uuid.uuid4())}),
        (
            ["platform_admin"],
            "POST",
            "/organisations/cost-centres",
            {"orgUnitId": str(uuid.uuid4()), "code": "X", "name": "X", "yearlyBudgetCents": 0},
        ),
        (["platform_admin"], "GET", "/organisations/people", None),
    ],
)
async def test_a_role_without_the_power_is_refused_with_403(
    client: Client, buyer: Org, roles: list[str], method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = await client.request(method, path, json=body, headers=buyer.as_(*roles))
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == PROBLEM_JSON


async def test_a_buyer_admin_token_on_a_provider_tenant_keeps_no_cost_centres(
    client: Client, provider: Org
) -> None:
    # Tokens come from our own issuer, so this should never exist; the handler checks anyway.
    response = await client.get("/organisations/cost-centres", headers=provider.as_("buyer_admin"))
    assert response.status_code == 403


# --- supervisor profiles ---


def _qualifications(verifier: str) -> list[dict[str, Any]]:
    return [
        {"type": "story_training", "institution": "Metropolia", "completedOn": "2019-05-31", "ects": 60},
        {
            "type": "valvira_registration",
            "registrationNumber": "10012345678",
            "verifiedOn": str(TODAY),
            "verifiedBy": verifier,
        },
        {"type": "other", "description": "Ratkaisukeskeinen lyhytterapeutti"},
    ]


async def test_a_supervisor_profile_holds_the_offer_and_typed_evidence(
    client: Client, provider: Org, layout: DatabaseLayout
) -> None:
    admin = await person(client, provider, ["provider_admin"])
    supervisor = await person(client, provider, ["supervisor"])
    body = {
        "personId": supervisor["id"],
        "forms": ["individual", "group", "crisis"],
        "languages": ["fi", "SV"],
        "regions": ["Pirkanmaa"],
        "deliveryModes": ["remote", "at_buyer"],
        "available": True,
        "qualifications": _qualifications(admin["id"]),
    }
    made = created(await client.post("/organisations/supervisor-profiles", json=body, headers=provider.admin))
    assert made == body | {"languages": ["fi", "sv"], "version": 1, "qualifications": made["qualifications"]}
    assert [q["type"] for q in made["qualifications"]] == ["story_training", "valvira_registration", "other"]
    assert made["qualifications"][1]["verifiedBy"] == admin["id"]
    read = await client.get(f"/organisations/supervisor-profiles/{supervisor['id']}", headers=provider.admin)
    assert created(read, 200) == made
    [announced] = [
        e
        for e in await events_of(layout, provider.id, supervisor["id"])
        if e.type == events.SupervisorProfileCreated.event_type
    ]
    event = announced.event_as(events.SupervisorProfileCreated)
    assert (event.available, event.languages, announced.version) == (True, ["fi", "sv"], 1)
    assert event.qualifications == [
        events.QualificationFact(type="story_training", ects=60.0, completed_on=dt.date(2019, 5, 31)),
        events.QualificationFact(type="valvira_registration", verified_on=TODAY),
        events.QualificationFact(type="other"),
    ]
    assert b"10012345678" not in msgspec.json.encode(announced)
    again = await client.post(
        "/organisations/supervisor-profiles", json={"personId": supervisor["id"]}, headers=provider.admin
    )
    assert problem_fields(again, 409) == ["body.personId"]


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        (
            {
                "qualifications": [
                    {"type": "story_training", "institution": "X", "completedOn": "2019-01-01", "ects": -1}
                ]
            },
            400,
            "body.qualifications[0].ects",
        ),
        (
            {
                "qualifications": [
                    {
                        "type": "story_training",
                        "institution": "X",
                        "completedOn": str(TODAY + dt.timedelta(days=2)),
                        "ects": 5,
                    }
                ]
            },
            422,
            "body.qualifications[0].completedOn",
        ),
        ({"qualifications": [{"type": "diploma", "description": "X"}]}, 400, "body.qualifications[0].type"),
        (
            {
                "qualifications": [
                    {
                        "type": "valvira_registration",
                        "registrationNumber": "ABC",
                        "verifiedOn": "2024-01-01",
                        "verifiedBy": "ADMIN",
                    }
                ]
            },
            422,
            "body.qualifications[0].registrationNumber",
        ),
        (
            {
                "qualifications": [
                    {
                        "type": "valvira_registration",
                        "registrationNumber": "10012345678",
                        "verifiedOn": "2024-01-01",
                        "verifiedBy": "SELF",
                    }
                ]
            },
            422,
            "body.qualifications[0].verifiedBy",
        ),
        ({"languages": ["fi", "xx"]}, 422, "body.languages[1]"),
        ({"deliveryModes": ["by_post"]}, 400, "body.deliveryModes[0]"),
        ({"forms": ["therapy"]}, 400, "body.forms[0]"),
        ({"available": True, "forms": []}, 422, "body.forms"),
    ],
)
async def test_supervisor_profile_evidence_is_checked_on_its_field(
    client: Client, provider: Org, change: dict[str, Any], status: int, field: str
) -> None:
    admin = await person(client, provider, ["provider_admin"])
    supervisor = await person(client, provider, ["supervisor"])
    for qualification in change.get("qualifications", []):
        if qualification.get("verifiedBy") == "ADMIN":
            qualification["verifiedBy"] = admin["id"]
        if qualification.get("verifiedBy") == "SELF":  # a supervisor does not verify their own registration
            qualification["verifiedBy"] = supervisor["id"]
    body = {
        "personId": supervisor["id"],
        "forms": ["individual"],
        "languages": ["fi"],
        "deliveryModes": ["remote"],
        **change,
    }
    response = await client.post("/organisations/supervisor-profiles", json=body, headers=provider.admin)
    assert problem_fields(response, status) == [field]


async def test_only_a_supervisor_of_this_tenant_gets_a_profile(client: Client, provider: Org) -> None:
    admin = await person(client, provider, ["provider_admin"])
    for person_id in (admin["id"], str(uuid.uuid4())):
        response = await client.post(
            "/organisations/supervisor-profiles", json={"personId": person_id}, headers=provider.admin
        )
        assert problem_fields(response, 422) == ["body.personId"]


async def test_a_supervisor_reads_their_profile_and_sets_their_availability(
    client: Client, provider: Org, layout: DatabaseLayout
) -> None:
    supervisor = await person(client, provider, ["supervisor"])
    body = {
        "personId": supervisor["id"],
        "forms": ["pair"],
        "languages": ["fi"],
        "deliveryModes": ["at_supervisor"],
    }
    created(await client.post("/organisations/supervisor-profiles", json=body, headers=provider.admin))
    own = provider.as_("supervisor", subject=supervisor["id"])
    mine = await client.get("/organisations/supervisor-profiles/me", headers=own)
    assert (created(mine, 200)["available"], mine.headers["etag"]) == (False, '"1"')
    on = await client.put(
        "/organisations/supervisor-profiles/me/availability",
        json={"available": True},
        headers=own | {"If-Match": '"1"'},
    )
    assert (created(on, 200)["available"], on.headers["etag"]) == (True, '"2"')
    # The rest of the profile is the provider admin's.
    assert (
        await client.patch(
            f"/organisations/supervisor-profiles/{supervisor['id']}", json={"forms": []}, headers=own
        )
    ).status_code == 403
    forms = await client.patch(
        f"/organisations/supervisor-profiles/{supervisor['id']}",
        json={"forms": ["pair", "team"]},
        headers=provider.admin,
    )
    assert (created(forms, 200)["forms"], forms.json()["version"]) == (["pair", "team"], 3)
    # Leaving withdraws the supervisor from being chosen.
    await client.post(f"/organisations/people/{supervisor['id']}/deactivate", headers=provider.admin)
    gone = await client.get(f"/organisations/supervisor-profiles/{supervisor['id']}", headers=provider.admin)
    assert (gone.json()["available"], gone.json()["version"]) == (False, 4)
    back_on = await client.put(
        "/organisations/supervisor-profiles/me/availability", json={"available": True}, headers=own
    )
    assert problem_fields(back_on, 422) == ["body.available"]
    profile_events = (events.SupervisorProfileCreated, events.SupervisorProfileUpdated)
    announced = [
        (e.type, e.version, e.event_as(cls).available)
        for e in await events_of(layout, provider.id, supervisor["id"])
        for cls in profile_events
        if e.type == cls.event_type
    ]
    assert announced == [
        ("organisations.supervisor_profile.created.v1", 1, False),
        ("organisations.supervisor_profile.updated.v1", 2, True),
        ("organisations.supervisor_profile.updated.v1", 3, True),
        ("organisations.supervisor_profile.updated.v1", 4, False),
    ]


async def test_a_supervisor_without_a_profile_or_role_reads_none(client: Client, provider: Org) -> None:
    supervisor = await person(client, provider, ["supervisor"])
    response = await client.get(
        "/organisations/supervisor-profiles/me", headers=provider.as_("supervisor", subject=supervisor["id"])
    )
    assert response.status_code == 404
    assert (
        await client.get("/organisations/supervisor-profiles/me", headers=provider.as_("provider_admin"))
    ).status_code == 403


async def test_supervisor_profiles_are_listed_page_by_page_and_by_availability(
    client: Client, platform_admin: Headers, issuer: TestIssuer
) -> None:
    fresh = await new_org(client, platform_admin, issuer, "provider")
    ids = []
    for available in (True, False, True):
        supervisor = await person(client, fresh, ["supervisor"])
        body = {
            "personId": supervisor["id"],
            "forms": ["team"],
            "languages": ["en"],
            "deliveryModes": ["remote"],
            "available": available,
        }
        ids.append(
            created(await client.post("/organisations/supervisor-profiles", json=body, headers=fresh.admin))[
                "personId"
            ]
        )
    first = created(
        await client.get("/organisations/supervisor-profiles", params={"limit": 2}, headers=fresh.admin), 200
    )
    rest = created(
        await client.get(
            "/organisations/supervisor-profiles", params={"cursor": first["nextCursor"]}, headers=fresh.admin
        ),
        200,
    )
    assert [p["personId"] for p in first["items"] + rest["items"]] == sorted(ids)
    only_available = created(
        await client.get(
            "/organisations/supervisor-profiles", params={"available": "true"}, headers=fresh.admin
        ),
        200,
    )
    assert sorted(p["personId"] for p in only_available["items"]) == sorted([ids[0], ids[2]])


# --- the tenant wall: another tenant's ids are not found, their rows never listed ---


@dataclass
class Strangers:
    """Tenant B's rows, attacked by tenant A's admins."""

    buyer: Org
    provider: Org
    unit: str
    centre: str
    approver: str
    supervisor: str
    own_centre: str


@pytest.fixture(scope="module")
async def strangers(
    client: Client, platform_admin: Headers, issuer: TestIssuer, buyer: Org, provider: Org
) -> Strangers:
    b_buyer = await new_org(client, platform_admin, issuer, "buyer")
    b_provider = await new_org(client, platform_admin, issuer, "provider")
    unit = await org_unit(client, b_buyer)
    centre = await cost_centre(client, b_buyer, unit["id"])
    approver = await person(client, b_buyer, ["approver"])
    await client.put(
        f"/organisations/cost-centres/{centre['id']}/approvers/{approver['id']}", headers=b_buyer.admin
    )
    supervisor = await person(client, b_provider, ["supervisor"])
    body = {
        "personId": supervisor["id"],
        "forms": ["crisis"],
        "languages": ["fi"],
        "deliveryModes": ["remote"],
        "available": True,
    }
    created(await client.post("/organisations/supervisor-profiles", json=body, headers=b_provider.admin))
    own_unit = await org_unit(client, buyer, "Oma yksikkö")
    own_centre = await cost_centre(client, buyer, own_unit["id"])
    return Strangers(
        b_buyer, b_provider, unit["id"], centre["id"], approver["id"], supervisor["id"], own_centre["id"]
    )


ATTACKS = [
    ("buyer", "GET", "/organisations/org-units/{unit}", None),
    ("buyer", "PATCH", "/organisations/org-units/{unit}", {"name": "Kaapattu"}),
    ("buyer", "DELETE", "/organisations/org-units/{unit}", None),
    ("buyer", "GET", "/organisations/cost-centres/{centre}", None),
    ("buyer", "PATCH", "/organisations/cost-centres/{centre}", {"yearlyBudgetCents": 1}),
    ("buyer", "POST", "/organisations/cost-centres/{centre}/deactivate", None),
    ("buyer", "GET", "/organisations/cost-centres/{centre}/approvers", None),
    ("buyer", "PUT", "/organisations/cost-centres/{centre}/approvers/{approver}", None),
    ("buyer", "DELETE", "/organisations/cost-centres/{centre}/approvers/{approver}", None),
    ("buyer", "PUT", "/organisations/cost-centres/{own_centre}/approvers/{approver}", None),
    ("buyer", "GET", "/organisations/people/{approver}", None),
    ("buyer", "PATCH", "/organisations/people/{approver}", {"roles": ["buyer_admin"]}),
    ("buyer", "POST", "/organisations/people/{approver}/deactivate", None),
    ("provider", "GET", "/organisations/people/{supervisor}", None),
    ("provider", "POST", "/organisations/people/{supervisor}/deactivate", None),
    ("provider", "GET", "/organisations/supervisor-profiles/{supervisor}", None),
    ("provider", "PATCH", "/organisations/supervisor-profiles/{supervisor}", {"available": False}),
]


@pytest.mark.parametrize(
    ("side", "method", "path", "body"), ATTACKS, ids=[f"{m} {p}" for _, m, p, _ in ATTACKS]
)
async def test_an_admin_of_tenant_a_gets_404_for_tenant_bs_ids(
    client: Client,
    buyer: Org,
    provider: Org,
    strangers: Strangers,
    side: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    attacker = buyer if side == "buyer" else provider
    url = path.format(**{k: v for k, v in vars(strangers).items() if isinstance(v, str)})
    response = await client.request(method, url, json=body, headers=attacker.admin)
    assert response.status_code == 404, response.text
    problem = response.json()
    assert problem["type"] == "urn:tila:problem:not-found"
    # Apart from ``instance`` (the path the caller asked for), nothing of B's comes back.
    told = msgspec.json.encode({k: v for k, v in problem.items() if k != "instance"}).decode()
    for secret in (
        strangers.unit,
        strangers.centre,
        strangers.approver,
        strangers.supervisor,
        "Maija",
        "Lastensuojelun",
    ):
        assert secret not in told


async def test_tenant_bs_rows_survive_every_attack_unchanged(
    client: Client, strangers: Strangers, buyer: Org, provider: Org
) -> None:
    for side, method, path, body in ATTACKS:  # run them all again, then look from B's side
        attacker = buyer if side == "buyer" else provider
        url = path.format(**{k: v for k, v in vars(strangers).items() if isinstance(v, str)})
        await client.request(method, url, json=body, headers=attacker.admin)
    b = strangers.buyer
    centre = (await client.get(f"/organisations/cost-centres/{strangers.centre}", headers=b.admin)).json()
    assert (centre["active"], centre["yearlyBudgetCents"], centre["version"]) == (True, 2_500_000, 2)
    assert (await client.get(f"/organisations/org-units/{strangers.unit}", headers=b.admin)).json()[
        "version"
    ] == 1
    approver = (await client.get(f"/organisations/people/{strangers.approver}", headers=b.admin)).json()
    assert (approver["roles"], approver["active"], approver["version"]) == (["approver"], True, 1)
    approvers = (
        await client.get(f"/organisations/cost-centres/{strangers.centre}/approvers", headers=b.admin)
    ).json()
    assert [a["personId"] for a in approvers["items"]] == [strangers.approver]
    profile = (
        await client.get(
            f"/organisations/supervisor-profiles/{strangers.supervisor}", headers=strangers.provider.admin
        )
    ).json()
    assert (profile["available"], profile["version"]) == (True, 1)


async def test_tenant_bs_ids_in_a_body_are_unknown_to_tenant_a(
    client: Client, buyer: Org, provider: Org, strangers: Strangers
) -> None:
    unit_of_b = await client.post(
        "/organisations/org-units", json={"name": "X", "parentId": strangers.unit}, headers=buyer.admin
    )
    assert problem_fields(unit_of_b, 422) == ["body.parentId"]
    centre_in_b = await client.post(
        "/organisations/cost-centres",
        json={"orgUnitId": strangers.unit, "code": "X1", "name": "X", "yearlyBudgetCents": 0},
        headers=buyer.admin,
    )
    assert problem_fields(centre_in_b, 422) == ["body.orgUnitId"]
    moved = await client.patch(
        f"/organisations/cost-centres/{strangers.own_centre}",
        json={"orgUnitId": strangers.unit},
        headers=buyer.admin,
    )
    assert problem_fields(moved, 422) == ["body.orgUnitId"]
    profile_of_b = await client.post(
        "/organisations/supervisor-profiles", json={"personId": strangers.supervisor}, headers=provider.admin
    )
    assert problem_fields(profile_of_b, 422) == ["body.personId"]
    verified_by_b = await client.post(
        "/organisations/supervisor-profiles",
        json={
            "personId": (await person(client, provider, ["supervisor"]))["id"],
            "qualifications": [
                {
                    "type": "valvira_registration",
                    "registrationNumber": "10012345678",
                    "verifiedOn": "2024-01-01",
                    "verifiedBy": strangers.approver,
                }
            ],
        },
        headers=provider.admin,
    )
    assert problem_fields(verified_by_b, 422) == ["body.qualifications[0].verifiedBy"]


async def test_a_person_of_tenant_b_is_nobody_in_tenant_a(
    client: Client, buyer: Org, provider: Org, strangers: Strangers
) -> None:
    as_b_person_in_a = buyer.as_("approver", subject=strangers.approver)
    assert (await client.get("/organisations/people/me", headers=as_b_person_in_a)).status_code == 404
    as_b_supervisor_in_a = provider.as_("supervisor", subject=strangers.supervisor)
    assert (
        await client.get("/organisations/supervisor-profiles/me", headers=as_b_supervisor_in_a)
    ).status_code == 404
    off = await client.put(
        "/organisations/supervisor-profiles/me/availability",
        json={"available": False},
        headers=as_b_supervisor_in_a,
    )
    assert off.status_code == 404


@pytest.mark.parametrize(
    ("side", "path"),
    [
        ("buyer", "/organisations/org-units"),
        ("buyer", "/organisations/cost-centres"),
        ("buyer", "/organisations/people"),
        ("provider", "/organisations/people"),
        ("provider", "/organisations/supervisor-profiles"),
    ],
)
async def test_tenant_a_never_lists_tenant_bs_rows(
    client: Client, buyer: Org, provider: Org, strangers: Strangers, side: str, path: str
) -> None:
    attacker = buyer if side == "buyer" else provider
    cursor: str | None = None
    listed = ""
    while True:
        params: dict[str, Any] = {"limit": 200} | ({"cursor": cursor} if cursor else {})
        page = await client.get(path, params=params, headers=attacker.admin)
        assert page.status_code == 200, page.text
        listed += page.text
        cursor = page.json().get("nextCursor")
        if cursor is None:
            break
    assert listed.count('"id"') + listed.count('"personId"') > 0
    for secret in (strangers.unit, strangers.centre, strangers.approver, strangers.supervisor):
        assert secret not in listed


async def test_events_carry_their_own_tenant_only(
    layout: DatabaseLayout, buyer: Org, provider: Org, strangers: Strangers
) -> None:
    for org in (buyer, provider, strangers.buyer, strangers.provider):
        for envelope in await outbox(layout, org.id):
            assert envelope.tenant_ids == (org.id,)
            assert envelope.source == "organisations"
            envelope.event()  # every type is registered and decodes
