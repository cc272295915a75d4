"""The demo world of the embedded default: two tenants, each logging in through its own provider.

``tila run`` starts one OpenID provider process per demo tenant (oidc-provider-mock: a real
provider whose login page asks only which user to be), creates the tenants, their people and
the buyer's cost centres through the organisations service's own use cases — so every event
flows as in production — and remembers in ``.data/demo.json`` what a reader of the README needs:
each tenant's id, its people (login, id, name, roles) and the buyer's cost centres (id, code,
name). ``tila demo`` adds the framework agreement it made.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from services.organisations.domain.directory import DeliveryMode, Role, SupervisionForm, SupervisorOffer
from services.organisations.domain.tenants import (
    EInvoiceAddress,
    PostalAddress,
    TenantDetails,
    TenantKind,
    TenantSubtype,
)
from services.organisations.handlers import directory, login, tenants
from shared.auth.principal import BUYER_ADMIN, PLATFORM_ADMIN, PROVIDER_ADMIN, Principal
from shared.db.pool import create_pool

__all__ = ["DEMO_TENANTS", "DemoError", "DemoTenant", "DemoUser", "run_journey", "seed"]


@dataclass(frozen=True)
class DemoUser:
    subject: str
    name: str
    email: str
    roles: tuple[Role, ...]
    hr_employee_number: str | None = None

    def claims(self) -> dict[str, Any]:
        return {"sub": self.subject, "name": self.name, "email": self.email, "email_verified": True}


@dataclass(frozen=True)
class DemoTenant:
    key: str
    name: str
    kind: TenantKind
    business_id: str
    domain: str
    users: tuple[DemoUser, ...]
    details: TenantDetails


DEMO_TENANTS = (
    DemoTenant(
        key="demo-buyer",
        name="Demo-hyvinvointialue",
        kind=TenantKind.BUYER,
        business_id="1234567-1",
        domain="hyvinvointialue.example",
        details=TenantDetails(
            subtype=TenantSubtype.WELFARE_AREA,
            vat_id="FI12345671",
            postal_address=PostalAddress(street="Sairaalankatu 1", postcode="33100", city="Tampere"),
            e_invoice_address=EInvoiceAddress(address="003712345671", operator_id="003721291126"),
        ),
        users=(
            DemoUser("aino.admin", "Aino Hankinta", "aino@hyvinvointialue.example", (Role.BUYER_ADMIN,)),
            DemoUser("antti.approver", "Antti Esihenkilö", "antti@hyvinvointialue.example", (Role.APPROVER,)),
            DemoUser(
                "emma.employee", "Emma Sosiaalityö", "emma@hyvinvointialue.example", (Role.EMPLOYEE,), "H1001"
            ),
            DemoUser(
                "eetu.employee",
                "Eetu Lastensuojelu",
                "eetu@hyvinvointialue.example",
                (Role.EMPLOYEE,),
                "H1002",
            ),
        ),
    ),
    DemoTenant(
        key="demo-provider",
        name="Demo Työnohjaus Oy",
        kind=TenantKind.PROVIDER,
        business_id="7654321-2",
        domain="tyonohjaus.example",
        details=TenantDetails(
            subtype=TenantSubtype.SUPERVISOR_COMPANY,
            vat_id="FI76543212",
            postal_address=PostalAddress(street="Hämeenkatu 10", postcode="33200", city="Tampere"),
            e_invoice_address=EInvoiceAddress(address="0216:003776543212"),
            iban="FI2112345600000785",
            bic="NDEAFIHH",
        ),
        users=(
            DemoUser("pia.admin", "Pia Palvelu", "pia@tyonohjaus.example", (Role.PROVIDER_ADMIN,)),
            DemoUser("sami.supervisor", "Sami Ohjaaja", "sami@tyonohjaus.example", (Role.SUPERVISOR,)),
            DemoUser("sari.supervisor", "Sari Ohjaaja", "sari@tyonohjaus.example", (Role.SUPERVISOR,)),
        ),
    ),
)

_COST_CENTRES = (("4100", "Lastensuojelu", 2_500_000), ("4200", "Aikuissosiaalityö", 1_800_000))


def _acting(tenant_id: uuid.UUID, *roles: str) -> Principal:
    return Principal(
        subject="tila-demo",
        tenant_id=tenant_id,
        roles=frozenset(roles),
        scopes=frozenset(),
        token_id="demo-seed",  # noqa: S106 (an id, not a secret)
        is_client=False,
    )


async def seed(database_url: str, issuers: dict[str, str], state_file: Path) -> dict[str, Any]:
    """Create the demo tenants once (their ids stay in ``state_file``); point their logins at
    ``issuers`` every time (the providers' ports may change between runs)."""
    state: dict[str, Any] = await asyncio.to_thread(_read_state, state_file)
    pool: asyncpg.Pool = await create_pool(database_url, max_size=2)
    try:
        for demo in DEMO_TENANTS:
            known = state["tenants"].get(demo.key)
            if known is None:
                known = await _create(pool, demo)
                state["tenants"][demo.key] = known
                await asyncio.to_thread(state_file.write_text, json.dumps(state, indent=1))
            admin_role = BUYER_ADMIN if demo.kind is TenantKind.BUYER else PROVIDER_ADMIN
            known.update(await _directory(pool, demo, _acting(uuid.UUID(known["id"]), admin_role)))
            await asyncio.to_thread(state_file.write_text, json.dumps(state, indent=1, ensure_ascii=False))
            await login.configure_provider(
                pool,
                _acting(uuid.UUID(known["id"]), admin_role),
                login.ProviderRequest(
                    issuer=issuers[demo.key],
                    client_id=f"tila-{demo.key}",
                    scopes=("openid", "email", "profile"),
                    allowed_email_domains=(demo.domain,),
                    provisioning="pre_provisioned",
                    role_claim=None,
                    role_map={},
                ),
                allow_loopback_http=True,  # the demo providers run on this machine
            )
    finally:
        await pool.close()
    return state


async def _directory(pool: asyncpg.Pool, demo: DemoTenant, admin: Principal) -> dict[str, Any]:
    """The tenant's demo people by login (and the buyer's cost centres), as demo.json keeps them."""
    people, _ = await directory.list_people(pool, admin, cursor=None, limit=100, role=None, active=None)
    by_email = {person.email: person for person in people}
    found: dict[str, Any] = {
        "people": {
            user.subject: {
                "id": str(by_email[user.email].person_id),
                "name": user.name,
                "roles": [str(role) for role in user.roles],
            }
            for user in demo.users
            if user.email in by_email
        }
    }
    if demo.kind is TenantKind.BUYER:
        centres, _ = await directory.list_cost_centres(pool, admin, cursor=None, limit=100, active=None)
        found["costCentres"] = [
            {"id": str(c.cost_centre_id), "code": c.code, "name": c.name} for c in centres
        ]
    return found


def _read_state(state_file: Path) -> dict[str, Any]:
    if not state_file.exists():
        return {"tenants": {}}
    state: dict[str, Any] = json.loads(state_file.read_text())
    return state


async def _create(pool: asyncpg.Pool, demo: DemoTenant) -> dict[str, Any]:
    tenant = await tenants.create_tenant(
        pool,
        _acting(uuid.UUID(int=0), PLATFORM_ADMIN),
        name=demo.name,
        kind=demo.kind,
        business_id=demo.business_id,
        details=demo.details,
    )
    admin = _acting(tenant.tenant_id, BUYER_ADMIN if demo.kind is TenantKind.BUYER else PROVIDER_ADMIN)
    people = {}
    for user in demo.users:
        person = await directory.create_person(
            pool,
            admin,
            name=user.name,
            email=user.email,
            roles=user.roles,
            hr_employee_number=user.hr_employee_number,
        )
        people[user.subject] = person.person_id
    if demo.kind is TenantKind.BUYER:
        unit = await directory.create_org_unit(pool, admin, name="Sosiaalipalvelut", parent_id=None)
        for code, name, budget in _COST_CENTRES:
            centre = await directory.create_cost_centre(
                pool, admin, org_unit_id=unit.org_unit_id, code=code, name=name, yearly_budget_cents=budget
            )
            await directory.assign_approver(pool, admin, centre.cost_centre_id, people["antti.approver"])
    else:
        for subject in ("sami.supervisor", "sari.supervisor"):
            offer = SupervisorOffer(
                forms=(SupervisionForm.INDIVIDUAL, SupervisionForm.GROUP),
                languages=("fi", "sv"),
                regions=("pirkanmaa",),
                delivery_modes=(DeliveryMode.REMOTE, DeliveryMode.AT_BUYER),
                available=True,
            )
            await directory.create_supervisor_profile(pool, admin, people[subject], offer)
    return {"id": str(tenant.tenant_id), "name": demo.name}


# --- `tila demo`: the whole journey over HTTP against a running `make run` ---


class DemoError(Exception):
    """The journey cannot go on: one line for the user."""


Say = Callable[[str], None]


class _Caller:
    """A demo user logged in through their tenant's identity provider, calling the one base URL.

    Changes carry ``If-Match`` (the ETag last read); creating POSTs an ``Idempotency-Key``."""

    def __init__(self, client: httpx.Client, tenant_id: str, user: str, person_id: str) -> None:
        self.client = client
        self.user = user
        self.person_id = person_id
        self.token = _login(client, tenant_id, user)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self._checked("GET", path, params=params or None)

    def create(self, path: str, body: Any) -> httpx.Response:
        return self._checked("POST", path, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})

    def change(self, path: str, etag: str, body: Any = None) -> httpx.Response:
        return self._checked("POST", path, json=body, headers={"If-Match": etag})

    def until(self, path: str, found: Callable[[Any], Any], what: str, timeout: float = 60) -> Any:
        """GET ``path`` until ``found`` picks something out of it (events cross services later)."""
        deadline = time.monotonic() + timeout
        while not (hit := found(self.get(path).json())):
            if time.monotonic() > deadline:
                raise DemoError(f"{what}: not there after {timeout:.0f} s")
            time.sleep(0.3)
        return hit

    def _checked(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        response = self.client.request(method, path, headers=headers, **kwargs)
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail") or response.json().get("title")
            except ValueError:
                detail = response.text[:200]
            raise DemoError(f"{method} {path} as {self.user}: {response.status_code} {detail}")
        return response


def _login(client: httpx.Client, tenant_id: str, user: str) -> str:
    started = client.get(f"/organisations/login/{tenant_id}/start")
    if started.status_code != 302:
        raise DemoError(f"could not start the login of {user}: {started.status_code}")
    answer = client.post(started.headers["location"], data={"sub": user})  # the demo provider's page
    if answer.status_code != 302:
        raise DemoError(f"the identity provider refused {user}: {answer.status_code}")
    tokens = client.get(answer.headers["location"])
    if tokens.status_code != 200:
        raise DemoError(f"the login of {user} failed: {tokens.status_code}")
    token: str = tokens.json()["access_token"]
    return token


def _overlaps(session: dict[str, Any], windows: list[tuple[dt.datetime, dt.datetime]]) -> bool:
    if session["status"] == "cancelled":
        return False
    starts, ends = (
        dt.datetime.fromisoformat(session["startsAt"]),
        dt.datetime.fromisoformat(session["endsAt"]),
    )
    return any(starts < end and start < ends for start, end in windows)


def _busy(caller: _Caller, windows: list[tuple[dt.datetime, dt.datetime]]) -> bool:
    """Whether the person already has a live session in one of the windows (an earlier run's)."""
    for process in caller.get("/sessions/processes", limit=100).json()["items"]:
        sessions = caller.get(f"/sessions/processes/{process['id']}/sessions", limit=100).json()["items"]
        if any(_overlaps(s, windows) for s in sessions):
            return True
    return False


def run_journey(base: str, state_file: Path, say: Say, *, session_minutes: int = 60) -> dict[str, Any]:
    """The journey of the README over HTTP, with dates relative to now; prints each step, its id
    and its link, and records the framework agreement in ``state_file``. Returns the ids."""
    if not state_file.exists():
        raise DemoError(f"no demo data in {state_file}: start the platform with `make run` first")
    state = json.loads(state_file.read_text())
    buyer, provider = state["tenants"]["demo-buyer"], state["tenants"]["demo-provider"]
    if "people" not in buyer or "people" not in provider:
        raise DemoError(f"{state_file} predates `tila demo`: restart `make run` once to refresh it")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    today = now.date()
    first = now + dt.timedelta(seconds=3)
    starts = [first, first + dt.timedelta(days=14), first + dt.timedelta(days=28)]
    windows = [(s, s + dt.timedelta(minutes=session_minutes)) for s in starts]
    ids: dict[str, Any] = {}

    def step(text: str, ident: str | None = None, link: str | None = None) -> None:
        say(
            "  ".join(
                part for part in (f"✓ {text}", ident and f"id {ident}", link and f"{base}{link}") if part
            )
        )

    with httpx.Client(base_url=base, timeout=15) as client:

        def caller(tenant: dict[str, Any], user: str) -> _Caller:
            return _Caller(client, tenant["id"], user, tenant["people"][user]["id"])

        aino, antti = caller(buyer, "aino.admin"), caller(buyer, "antti.approver")
        pia = caller(provider, "pia.admin")
        step("logged in through each tenant's own identity provider: aino.admin, antti.approver, pia.admin")
        # A supervisor and a participant free at the sessions' times (an earlier run may hold them).
        pair = None
        for supervisor_user, participant_user in (
            ("sami.supervisor", "emma.employee"),
            ("sari.supervisor", "eetu.employee"),
            ("sami.supervisor", "eetu.employee"),
            ("sari.supervisor", "emma.employee"),
        ):
            supervisor = caller(provider, supervisor_user)
            participant = caller(buyer, participant_user)
            if not _busy(supervisor, windows) and not _busy(participant, windows):
                pair = supervisor, participant
                break
        if pair is None:
            again = (now + dt.timedelta(minutes=session_minutes + 1)).strftime("%H:%M UTC")
            raise DemoError(
                f"every demo supervisor and participant has a session now (earlier runs): try after {again}"
            )
        supervisor, participant = pair
        step(
            f"{supervisor.user} supervises {participant.user}",
            f"{supervisor.person_id}, {participant.person_id}",
        )

        centre = antti.until(
            "/orders/cost-centres",
            lambda page: next((c for c in page["items"] if c["code"] == "4100"), None),
            "the cost centre 4100 in orders",
        )
        lot = "Yksilötyönohjaus"
        agreement = aino.create(
            "/orders/agreements",
            {
                "number": f"DEMO-{now:%Y%m%d-%H%M%S}",
                "title": "Työnohjauspalvelut (demo)",
                "validity": {
                    "startsOn": str(today - dt.timedelta(days=30)),
                    "firstTermEndsOn": str(today + dt.timedelta(days=700)),
                    "hardEndOn": str(today + dt.timedelta(days=1400)),
                },
                "lots": [
                    {
                        "name": lot,
                        "forms": ["individual"],
                        "region": "pirkanmaa",
                        "providers": [{"providerId": provider["id"], "rank": 1}],
                    }
                ],
                "priceItems": [
                    {
                        "lot": lot,
                        "form": "individual",
                        "durationMinutes": session_minutes,
                        "mode": "remote",
                        "unit": "per_session",
                        "netPriceCents": 9500,
                        "validFrom": str(today - dt.timedelta(days=30)),
                    }
                ],
            },
        )
        agreement_id = agreement.json()["id"]
        aino.change(f"/orders/agreements/{agreement_id}/activate", agreement.headers["etag"])
        ids["agreement"] = agreement_id
        state["agreement"] = {"id": agreement_id, "number": agreement.json()["number"], "lot": lot}
        state_file.write_text(json.dumps(state, indent=1, ensure_ascii=False))
        step(
            "framework agreement in force since 30 days ago",
            agreement_id,
            f"/orders/agreements/{agreement_id}",
        )

        order = antti.create(
            "/orders/orders",
            {
                "costCentreId": centre["id"],
                "agreementId": agreement_id,
                "lot": lot,
                "form": "individual",
                "participants": [participant.person_id],
                "plannedSessions": 5,
                "durationMinutes": session_minutes,
                "startsOn": str(today),
                "endsOn": str(today + dt.timedelta(days=180)),
                "mode": "remote",
                "selection": "ranking",
                "providerId": provider["id"],
            },
        )
        order_id, etag = order.json()["id"], order.headers["etag"]
        ids["order"] = order_id
        step(f"order for cost centre {centre['code']}", order_id, f"/orders/orders/{order_id}")
        for who, action, body, text in (
            (antti, "submit", None, "order submitted"),
            (antti, "approve", None, "order approved by the cost centre's approver"),
            (antti, "offer", None, "order offered to the provider"),
            (
                pia,
                "assign-supervisor",
                {"supervisorId": supervisor.person_id},
                f"{supervisor.user} assigned to the order",
            ),
            (
                supervisor,
                "declare-conflict",
                {"relatedParticipants": []},
                f"{supervisor.user} declares no conflict of interest",
            ),
            (pia, "accept", None, "order accepted by the provider"),
        ):
            etag = who.change(f"/orders/orders/{order_id}/{action}", etag, body).headers["etag"]
            step(text, order_id)

        process = supervisor.until(
            "/sessions/processes",
            lambda page: next((p for p in page["items"] if p["orderId"] == order_id), None),
            "the supervision process opened from the accepted order",
        )
        process_path = f"/sessions/processes/{process['id']}"
        ids["process"] = process["id"]
        step("supervision process opened by the sessions service", process["id"], process_path)
        supervisor.change(
            f"{process_path}/agreement",
            supervisor.get(process_path).headers["etag"],
            {
                "signedAt": (now - dt.timedelta(days=1)).isoformat(),
                "midEvaluationOn": str(today + dt.timedelta(days=90)),
                "finalEvaluationOn": str(today + dt.timedelta(days=175)),
            },
        )
        step("supervision agreement recorded (signed yesterday)", process["id"], f"{process_path}")

        sessions = []
        for starts_at in starts:
            slot = {"startsAt": starts_at.isoformat(), "durationMinutes": session_minutes, "mode": "remote"}
            sessions.append(supervisor.create(f"{process_path}/sessions", slot))
            session_id = sessions[-1].json()["id"]
            step(
                f"session scheduled for {starts_at:%Y-%m-%d %H:%M:%S} UTC",
                session_id,
                f"/sessions/sessions/{session_id}",
            )
        ids["sessions"] = [s.json()["id"] for s in sessions]
        time.sleep(max(0.0, (first - dt.datetime.now(dt.UTC)).total_seconds()) + 0.5)
        held = supervisor.change(
            f"/sessions/sessions/{ids['sessions'][0]}/held",
            sessions[0].headers["etag"],
            {"attendance": [{"personId": participant.person_id, "attended": True}]},
        )
        step(
            "first session held, attendance recorded",
            held.json()["id"],
            f"/sessions/sessions/{held.json()['id']}",
        )

        def our_draft() -> Any:
            drafts = pia.create("/billing/invoice-runs", {}).json()
            return next((d for d in drafts if d["agreementId"] == agreement_id), None)

        deadline = time.monotonic() + 60
        while not (draft := our_draft()):
            if time.monotonic() > deadline:
                raise DemoError("billing has not heard of the held session after 60 s")
            time.sleep(0.5)
        invoice_path = f"/billing/invoices/{draft['id']}"
        step("invoice run: a draft invoice for the held session", draft["id"], invoice_path)
        issued = pia.change(f"{invoice_path}/issue", pia.get(invoice_path).headers["etag"]).json()
        ids["invoice"] = draft["id"]
        step(
            f"invoice {issued['number']} issued, {issued['grossCents'] / 100:.2f} € incl. VAT",
            draft["id"],
            invoice_path,
        )
        step("Peppol BIS 3.0 e-invoice (UBL)", draft["id"], f"{invoice_path}/ubl")
    return ids
