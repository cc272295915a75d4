"""The demo world of the embedded default: two tenants, each logging in through its own provider.

``tila run`` starts one OpenID provider process per demo tenant (oidc-provider-mock: a real
provider whose login page asks only which user to be), creates the tenants, their people and
the buyer's cost centres through the organisations service's own use cases — so every event
flows as in production — and remembers the tenant ids in ``.data/demo.json``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

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

__all__ = ["DEMO_TENANTS", "DemoTenant", "DemoUser", "seed"]


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
            await login.configure_provider(
                pool,
                _acting(uuid.UUID(known["id"]), admin_role),
                allow_loopback_http=True,  # the demo providers run on this machine
                issuer=issuers[demo.key],
                client_id=f"tila-{demo.key}",
                scopes=("openid", "email", "profile"),
                allowed_email_domains=(demo.domain,),
                provisioning="pre_provisioned",
                role_claim=None,
                role_map={},
            )
    finally:
        await pool.close()
    return state


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
