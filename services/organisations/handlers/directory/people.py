"""Use cases inside a tenant: org units, cost centres and their approvers, people, supervisor profiles.

The tenant is always the caller's own (``principal.tenant_id``), so another tenant's ids are
simply not found. Each use case is one transaction; its events go to the outbox in it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Collection, Iterable
from typing import TypeVar
from zoneinfo import ZoneInfo

import asyncpg
from msgspec import UNSET, UnsetType

from services.organisations.domain.directory import (
    ADMIN_ROLE,
    CostCentre,
    CostCentreChanges,
    OrgUnit,
    Person,
    PersonChanges,
    Role,
    StoryTraining,
    SupervisorOffer,
    SupervisorOfferChanges,
    SupervisorProfile,
    ValviraRegistration,
    change_cost_centre,
    change_org_unit,
    change_person,
    change_supervisor_profile,
    check_may_approve,
    deactivate_cost_centre,
    deactivate_person,
    new_cost_centre,
    new_org_unit,
    new_person,
    new_supervisor_profile,
    set_availability,
    verifiers_needed,
    withdraw_if_not_supervising,
)
from services.organisations.domain.invitations import IdentityAction
from services.organisations.domain.tenants import Tenant, TenantKind
from services.organisations.handlers.tenants import announce
from services.organisations.store import directory as store
from services.organisations.store import identity as identity_store
from services.organisations.store import tenants as tenant_store
from services.organisations.store.directory import ApproverRow
from shared.auth.principal import Principal
from shared.contracts import Event
from shared.contracts import organisations as contracts
from shared.db.tenant import tenant_transaction
from shared.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvariantViolated,
    NotFound,
    check_version,
    fields_at,
)
from shared.http.pagination import decode_cursor, encode_cursor
from shared.ids import new_id

__all__ = [
    "assign_approver",
    "create_cost_centre",
    "create_org_unit",
    "create_person",
    "create_supervisor_profile",
    "deactivate_cost_centre_by_id",
    "deactivate_person_by_id",
    "delete_org_unit",
    "get_cost_centre",
    "get_org_unit",
    "get_own_person",
    "get_own_supervisor_profile",
    "get_person",
    "get_supervisor_profile",
    "list_approvers",
    "list_cost_centres",
    "list_org_units",
    "list_people",
    "list_supervisor_profiles",
    "remove_approver",
    "set_own_availability",
    "update_cost_centre",
    "update_org_unit",
    "update_person",
    "update_supervisor_profile",
]

HELSINKI = ZoneInfo("Europe/Helsinki")
BUYER_READERS = (Role.BUYER_ADMIN, Role.APPROVER)
"""Who in a buyer tenant may read its org units and cost centres."""

T = TypeVar("T")
Paged = tuple[list[T], str | None]


# --- what every use case here starts with ---


async def _tenant(
    conn: asyncpg.Connection,
    principal: Principal,
    *,
    kind: TenantKind | None = None,
    roles: Collection[str] | None = None,
    writes: bool = True,
) -> Tenant:
    """The caller's tenant, if the caller may act here; ``roles=None`` means the tenant's admin."""
    tenant = await tenant_store.fetch_tenant(conn, principal.tenant_id)
    if tenant is None:
        raise NotFound("tenant not found")
    if kind is not None and tenant.kind is not kind:
        raise Forbidden(f"only {kind} tenants keep these")
    allowed = roles if roles is not None else (ADMIN_ROLE[tenant.kind],)
    if not principal.has_role(*allowed):
        raise Forbidden("insufficient role")
    if writes and not tenant.active:
        raise Forbidden("the tenant is deactivated")
    return tenant


def _after(cursor: str | None) -> uuid.UUID | None:
    return decode_cursor(cursor, uuid.UUID)[0] if cursor else None


def _page(rows: list[T], limit: int, key: Callable[[T], uuid.UUID]) -> Paged[T]:
    """``rows`` were fetched with ``limit + 1``: one more means there is a next page."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(key(rows[-1]))


def _unknown(field: str, what: str) -> InvariantViolated:
    """A body names a row this tenant does not have (another tenant's rows included)."""
    return InvariantViolated(
        f"no such {what} in this tenant", errors=[FieldError(f"body.{field}", f"no such {what}")]
    )


def _changed_meanwhile() -> Conflict:
    return Conflict("changed by another request meanwhile; read it again and retry")


def _own_person_id(principal: Principal) -> uuid.UUID:
    # Until login links identities, a person's token carries their person id as ``sub``.
    try:
        return uuid.UUID(principal.subject)
    except ValueError:
        raise NotFound("no person record for this caller") from None


def _today() -> dt.date:
    return dt.datetime.now(HELSINKI).date()


# --- org units ---


async def create_org_unit(
    pool: asyncpg.Pool, principal: Principal, *, name: str, parent_id: uuid.UUID | None
) -> OrgUnit:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.BUYER)
        if parent_id is not None and await store.fetch_org_unit(conn, tenant.tenant_id, parent_id) is None:
            raise _unknown("parentId", "org unit")
        with fields_at("body"):
            unit = new_org_unit(new_id(), name=name, parent_id=parent_id)
        await store.insert_org_unit(conn, tenant.tenant_id, unit)
    return unit


async def list_org_units(
    pool: asyncpg.Pool, principal: Principal, *, cursor: str | None, limit: int
) -> Paged[OrgUnit]:
    after = _after(cursor)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.BUYER, roles=BUYER_READERS, writes=False)
        units = await store.list_org_units(conn, tenant.tenant_id, after=after, limit=limit + 1)
    return _page(units, limit, lambda unit: unit.org_unit_id)


async def get_org_unit(pool: asyncpg.Pool, principal: Principal, org_unit_id: uuid.UUID) -> OrgUnit:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.BUYER, roles=BUYER_READERS, writes=False)
        unit = await store.fetch_org_unit(conn, tenant.tenant_id, org_unit_id)
    if unit is None:
        raise NotFound("org unit not found")
    return unit


async def update_org_unit(
    pool: asyncpg.Pool,
    principal: Principal,
    org_unit_id: uuid.UUID,
    *,
    name: str | UnsetType = UNSET,
    parent_id: uuid.UUID | UnsetType | None = UNSET,
    expected_version: int | None = None,
) -> OrgUnit:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.BUYER)
        unit = await store.fetch_org_unit(conn, tenant.tenant_id, org_unit_id)
        if unit is None:
            raise NotFound("org unit not found")
        check_version(unit.version, expected_version)
        ancestors: list[uuid.UUID] = []
        if isinstance(parent_id, uuid.UUID):
            if await store.fetch_org_unit(conn, tenant.tenant_id, parent_id) is None:
                raise _unknown("parentId", "org unit")
            ancestors = await store.ancestors_of_org_unit(conn, tenant.tenant_id, parent_id)
        with fields_at("body"):
            changed = change_org_unit(unit, name=name, parent_id=parent_id, ancestors_of_parent=ancestors)
        if changed is unit:
            return unit
        if not await store.update_org_unit(conn, tenant.tenant_id, changed, expected_version=unit.version):
            raise _changed_meanwhile()
    return changed


async def delete_org_unit(
    pool: asyncpg.Pool,
    principal: Principal,
    org_unit_id: uuid.UUID,
    *,
    expected_version: int | None = None,
) -> None:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.BUYER)
        if expected_version is not None:
            unit = await store.fetch_org_unit(conn, tenant.tenant_id, org_unit_id)
            if unit is None:
                raise NotFound("org unit not found")
            check_version(unit.version, expected_version)
        try:
            deleted = await store.delete_org_unit(conn, tenant.tenant_id, org_unit_id)
        except asyncpg.ForeignKeyViolationError:
            raise Conflict("the org unit still has sub-units or cost centres") from None
    if not deleted:
        raise NotFound("org unit not found")


# --- cost centres ---

CF = TypeVar("CF", bound=contracts.CostCentreFacts)


def _cost_centre_event(cls: type[CF], cost_centre: CostCentre) -> CF:
    return cls(
        cost_centre_id=cost_centre.cost_centre_id,
        org_unit_id=cost_centre.org_unit_id,
        code=cost_centre.code,
        name=cost_centre.name,
        yearly_budget_cents=cost_centre.yearly_budget_cents,
        active=cost_centre.active,
    )


def _code_taken() -> Conflict:
    return Conflict(
        "another cost centre of this tenant has the code", errors=[FieldError("body.code", "already in use")]
    )


async def create_cost_centre(
    pool: asyncpg.Pool,
    principal: Principal,
    *,
    org_unit_id: uuid.UUID,
    code: str,
    name: str,
    yearly_budget_cents: int,
) -> CostCentre:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.BUYER)
        if await store.fetch_org_unit(conn, tenant.tenant_id, org_unit_id) is None:
            raise _unknown("orgUnitId", "org unit")
        with fields_at("body"):
            cost_centre = new_cost_centre(
                new_id(),
                org_unit_id=org_unit_id,
                code=code,
                name=name,
                yearly_budget_cents=yearly_budget_cents,
            )
        try:
            await store.insert_cost_centre(conn, tenant.tenant_id, cost_centre)
        except asyncpg.UniqueViolationError:
            raise _code_taken() from None
        await announce(
            conn,
            tenant.tenant_id,
            _cost_centre_event(contracts.CostCentreCreated, cost_centre),
            subject=cost_centre.cost_centre_id,
            version=cost_centre.version,
        )
    return cost_centre


async def list_cost_centres(
    pool: asyncpg.Pool, principal: Principal, *, cursor: str | None, limit: int, active: bool | None
) -> Paged[CostCentre]:
    after = _after(cursor)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.BUYER, roles=BUYER_READERS, writes=False)
        rows = await store.list_cost_centres(
            conn, tenant.tenant_id, after=after, limit=limit + 1, active=active
        )
    return _page(rows, limit, lambda cost_centre: cost_centre.cost_centre_id)


async def _cost_centre(conn: asyncpg.Connection, tenant: Tenant, cost_centre_id: uuid.UUID) -> CostCentre:
    cost_centre = await store.fetch_cost_centre(conn, tenant.tenant_id, cost_centre_id)
    if cost_centre is None:
        raise NotFound("cost centre not found")
    return cost_centre


async def get_cost_centre(pool: asyncpg.Pool, principal: Principal, cost_centre_id: uuid.UUID) -> CostCentre:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.BUYER, roles=BUYER_READERS, writes=False)
        return await _cost_centre(conn, tenant, cost_centre_id)


async def _save_cost_centre(
    conn: asyncpg.Connection, tenant: Tenant, before: CostCentre, after: CostCentre
) -> None:
    try:
        saved = await store.update_cost_centre(conn, tenant.tenant_id, after, expected_version=before.version)
    except asyncpg.UniqueViolationError:
        raise _code_taken() from None
    if not saved:
        raise _changed_meanwhile()


async def update_cost_centre(
    pool: asyncpg.Pool,
    principal: Principal,
    cost_centre_id: uuid.UUID,
    changes: CostCentreChanges,
    *,
    expected_version: int | None = None,
) -> CostCentre:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.BUYER)
        cost_centre = await _cost_centre(conn, tenant, cost_centre_id)
        check_version(cost_centre.version, expected_version)
        if isinstance(changes.org_unit_id, uuid.UUID) and (
            await store.fetch_org_unit(conn, tenant.tenant_id, changes.org_unit_id) is None
        ):
            raise _unknown("orgUnitId", "org unit")
        with fields_at("body"):
            changed = change_cost_centre(cost_centre, changes)
        if changed is cost_centre:
            return cost_centre
        await _save_cost_centre(conn, tenant, cost_centre, changed)
        await announce(
            conn,
            tenant.tenant_id,
            _cost_centre_event(contracts.CostCentreUpdated, changed),
            subject=changed.cost_centre_id,
            version=changed.version,
        )
    return changed


async def deactivate_cost_centre_by_id(
    pool: asyncpg.Pool,
    principal: Principal,
    cost_centre_id: uuid.UUID,
    *,
    expected_version: int | None = None,
) -> CostCentre:
    """No new orders on it; approvers stay recorded, as history of who could approve."""
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.BUYER)
        cost_centre = await _cost_centre(conn, tenant, cost_centre_id)
        check_version(cost_centre.version, expected_version)
        deactivated = deactivate_cost_centre(cost_centre)
        if deactivated is cost_centre:
            return cost_centre
        await _save_cost_centre(conn, tenant, cost_centre, deactivated)
        event = contracts.CostCentreDeactivated(cost_centre_id=cost_centre_id)
        await announce(conn, tenant.tenant_id, event, subject=cost_centre_id, version=deactivated.version)
    return deactivated


# --- approvers ---


async def list_approvers(
    pool: asyncpg.Pool, principal: Principal, cost_centre_id: uuid.UUID, *, cursor: str | None, limit: int
) -> Paged[ApproverRow]:
    after = _after(cursor)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.BUYER, roles=BUYER_READERS, writes=False)
        await _cost_centre(conn, tenant, cost_centre_id)
        rows = await store.list_approvers(
            conn, tenant.tenant_id, cost_centre_id, after=after, limit=limit + 1
        )
    return _page(rows, limit, lambda row: row.person_id)


async def _person(conn: asyncpg.Connection, tenant: Tenant, person_id: uuid.UUID) -> Person:
    person = await store.fetch_person(conn, tenant.tenant_id, person_id)
    if person is None:
        raise NotFound("person not found")
    return person


async def assign_approver(
    pool: asyncpg.Pool,
    principal: Principal,
    cost_centre_id: uuid.UUID,
    person_id: uuid.UUID,
    *,
    expected_version: int | None = None,
) -> int:
    """Idempotent: assigning an approver twice changes nothing and announces nothing. An approver
    change is a change of the cost centre (``expected_version`` is its); its version after."""
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.BUYER)
        cost_centre = await _cost_centre(conn, tenant, cost_centre_id)
        check_version(cost_centre.version, expected_version)
        if not cost_centre.active:
            raise Conflict("a deactivated cost centre gets no new approvers")
        person = await _person(conn, tenant, person_id)
        with fields_at("path"):
            check_may_approve(person)
        if not await store.add_approver(conn, tenant.tenant_id, cost_centre_id, person_id):
            return cost_centre.version
        versions = await _announce_approvers(
            conn, tenant, contracts.ApproverAssigned, [cost_centre_id], person_id
        )
    return versions[cost_centre_id]


async def remove_approver(
    pool: asyncpg.Pool,
    principal: Principal,
    cost_centre_id: uuid.UUID,
    person_id: uuid.UUID,
    *,
    expected_version: int | None = None,
) -> int:
    """The cost centre's version after (``expected_version`` is the cost centre's too)."""
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.BUYER)
        cost_centre = await _cost_centre(conn, tenant, cost_centre_id)
        check_version(cost_centre.version, expected_version)
        if not await store.remove_approver(conn, tenant.tenant_id, cost_centre_id, person_id):
            raise NotFound("the person is not an approver of this cost centre")
        versions = await _announce_approvers(
            conn, tenant, contracts.ApproverRemoved, [cost_centre_id], person_id
        )
    return versions[cost_centre_id]


async def _announce_approvers(
    conn: asyncpg.Connection,
    tenant: Tenant,
    cls: type[contracts.ApproverAssigned] | type[contracts.ApproverRemoved],
    cost_centre_ids: Collection[uuid.UUID],
    person_id: uuid.UUID,
) -> dict[uuid.UUID, int]:
    """An approver change is a change of each cost centre: it counts in their versions (returned)."""
    versions = await store.bump_cost_centre_versions(conn, tenant.tenant_id, cost_centre_ids)
    for cost_centre_id in sorted(versions):
        event = cls(cost_centre_id=cost_centre_id, person_id=person_id)
        await announce(
            conn, tenant.tenant_id, event, subject=cost_centre_id, version=versions[cost_centre_id]
        )
    return versions


# --- people ---

PF = TypeVar("PF", bound=contracts.PersonFacts)


def _person_event(cls: type[PF], person: Person) -> PF:
    # No name, no e-mail: consumers need to know what a person may do, not who they are.
    return cls(
        person_id=person.person_id,
        roles=[role.value for role in person.roles],
        hr_employee_number=person.hr_employee_number,
        active=person.active,
    )


def _person_taken(exc: asyncpg.UniqueViolationError) -> Conflict:
    if exc.constraint_name == "people_hr_employee_number":
        field, what = "hrEmployeeNumber", "HR employee number"
    else:
        field, what = "email", "e-mail address"
    return Conflict(
        f"another person of this tenant has the {what}",
        errors=[FieldError(f"body.{field}", "already in use")],
    )


async def create_person(
    pool: asyncpg.Pool,
    principal: Principal,
    *,
    name: str,
    email: str,
    roles: Iterable[Role],
    hr_employee_number: str | None,
) -> Person:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal)
        with fields_at("body"):
            person = new_person(
                new_id(),
                kind=tenant.kind,
                name=name,
                email=email,
                roles=roles,
                hr_employee_number=hr_employee_number,
            )
        try:
            await store.insert_person(conn, tenant.tenant_id, person)
        except asyncpg.UniqueViolationError as exc:
            raise _person_taken(exc) from None
        await announce(
            conn,
            tenant.tenant_id,
            _person_event(contracts.PersonCreated, person),
            subject=person.person_id,
            version=person.version,
        )
    return person


async def list_people(
    pool: asyncpg.Pool,
    principal: Principal,
    *,
    cursor: str | None,
    limit: int,
    role: Role | None,
    active: bool | None,
) -> Paged[Person]:
    after = _after(cursor)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, writes=False)
        people = await store.list_people(
            conn, tenant.tenant_id, after=after, limit=limit + 1, role=role, active=active
        )
    return _page(people, limit, lambda person: person.person_id)


async def get_person(pool: asyncpg.Pool, principal: Principal, person_id: uuid.UUID) -> Person:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, writes=False)
        return await _person(conn, tenant, person_id)


async def get_own_person(pool: asyncpg.Pool, principal: Principal) -> Person:
    """Anyone reads their own record, whatever their roles."""
    person_id = _own_person_id(principal)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        person = await store.fetch_person(conn, principal.tenant_id, person_id)
    if person is None:
        raise NotFound("no person record for this caller")
    return person


async def _save_person(
    conn: asyncpg.Connection, tenant: Tenant, before: Person, after: Person, event: Event
) -> None:
    """Write and announce the change, then what follows from it: approvals and availability that end."""
    try:
        saved = await store.update_person(conn, tenant.tenant_id, after, expected_version=before.version)
    except asyncpg.UniqueViolationError as exc:
        raise _person_taken(exc) from None
    if not saved:
        raise _changed_meanwhile()
    await announce(conn, tenant.tenant_id, event, subject=after.person_id, version=after.version)
    if not (after.active and after.has_role(Role.APPROVER)):
        removed = await store.remove_approver_everywhere(conn, tenant.tenant_id, after.person_id)
        await _announce_approvers(conn, tenant, contracts.ApproverRemoved, removed, after.person_id)
    profile = await store.fetch_supervisor_profile(conn, tenant.tenant_id, after.person_id)
    if profile is not None:
        await _save_profile(conn, tenant, profile, withdraw_if_not_supervising(profile, after))


async def update_person(
    pool: asyncpg.Pool,
    principal: Principal,
    person_id: uuid.UUID,
    changes: PersonChanges,
    *,
    expected_version: int | None = None,
) -> Person:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal)
        person = await _person(conn, tenant, person_id)
        check_version(person.version, expected_version)
        with fields_at("body"):
            changed = change_person(person, tenant.kind, changes)
        if changed is person:
            return person
        # Announced even when only the name or e-mail changed (which it does not carry): every
        # version has its event, so consumers can tell a gap from a quiet change.
        await _save_person(conn, tenant, person, changed, _person_event(contracts.PersonUpdated, changed))
        if changed.email.lower() != person.email.lower():
            # From now on no login links to this person by e-mail: an admin's edit must not decide
            # who becomes them. Only an invitation (issued by Tila's platform admins) re-links.
            await identity_store.stop_email_links(conn, tenant.tenant_id, person_id)
            await identity_store.append_audit(
                conn,
                tenant.tenant_id,
                person_id,
                IdentityAction.EMAIL_CHANGED,
                actor=principal.subject,
                detail={"previous": person.email, "current": changed.email},
            )
    return changed


async def deactivate_person_by_id(
    pool: asyncpg.Pool,
    principal: Principal,
    person_id: uuid.UUID,
    *,
    expected_version: int | None = None,
) -> Person:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal)
        person = await _person(conn, tenant, person_id)
        check_version(person.version, expected_version)
        deactivated = deactivate_person(person)
        if deactivated is person:
            return person
        event = contracts.PersonDeactivated(person_id=person_id)
        await _save_person(conn, tenant, person, deactivated, event)
    return deactivated


# --- supervisor profiles ---

SF = TypeVar("SF", bound=contracts.SupervisorProfileFacts)


def _qualification_fact(qualification: object) -> contracts.QualificationFact:
    if isinstance(qualification, StoryTraining):
        return contracts.QualificationFact(
            type="story_training", ects=qualification.ects, completed_on=qualification.completed_on
        )
    if isinstance(qualification, ValviraRegistration):
        return contracts.QualificationFact(type="valvira_registration", verified_on=qualification.verified_on)
    return contracts.QualificationFact(type="other")


def _profile_event(cls: type[SF], profile: SupervisorProfile) -> SF:
    return cls(
        person_id=profile.person_id,
        forms=[form.value for form in profile.forms],
        languages=list(profile.languages),
        regions=list(profile.regions),
        delivery_modes=[mode.value for mode in profile.delivery_modes],
        available=profile.available,
        qualifications=[_qualification_fact(q) for q in profile.qualifications],
    )


async def _verifiers(conn: asyncpg.Connection, tenant: Tenant, needed: set[uuid.UUID]) -> set[uuid.UUID]:
    """Of the people named as verifiers, those who may verify: active provider admins."""
    if not needed:
        return set()
    people = await store.fetch_people(conn, tenant.tenant_id, needed)
    return {p.person_id for p in people if p.active and p.has_role(Role.PROVIDER_ADMIN)}


async def _save_profile(
    conn: asyncpg.Connection, tenant: Tenant, before: SupervisorProfile, after: SupervisorProfile
) -> None:
    if after is before:
        return
    if not await store.update_supervisor_profile(
        conn, tenant.tenant_id, after, expected_version=before.version
    ):
        raise _changed_meanwhile()
    await announce(
        conn,
        tenant.tenant_id,
        _profile_event(contracts.SupervisorProfileUpdated, after),
        subject=after.person_id,
        version=after.version,
    )


async def create_supervisor_profile(
    pool: asyncpg.Pool, principal: Principal, person_id: uuid.UUID, offer: SupervisorOffer
) -> SupervisorProfile:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.PROVIDER)
        person = await store.fetch_person(conn, tenant.tenant_id, person_id)
        if person is None:
            raise _unknown("personId", "person")
        verifiers = await _verifiers(conn, tenant, verifiers_needed(offer.qualifications))
        with fields_at("body"):
            profile = new_supervisor_profile(person, offer, today=_today(), verifiers=verifiers)
        try:
            await store.insert_supervisor_profile(conn, tenant.tenant_id, profile)
        except asyncpg.UniqueViolationError:
            raise Conflict(
                "the supervisor has a profile already",
                errors=[FieldError("body.personId", "has a profile already")],
            ) from None
        await announce(
            conn,
            tenant.tenant_id,
            _profile_event(contracts.SupervisorProfileCreated, profile),
            subject=person_id,
            version=profile.version,
        )
    return profile


async def list_supervisor_profiles(
    pool: asyncpg.Pool, principal: Principal, *, cursor: str | None, limit: int, available: bool | None
) -> Paged[SupervisorProfile]:
    after = _after(cursor)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.PROVIDER, writes=False)
        profiles = await store.list_supervisor_profiles(
            conn, tenant.tenant_id, after=after, limit=limit + 1, available=available
        )
    return _page(profiles, limit, lambda profile: profile.person_id)


async def _profile(conn: asyncpg.Connection, tenant_id: uuid.UUID, person_id: uuid.UUID) -> SupervisorProfile:
    profile = await store.fetch_supervisor_profile(conn, tenant_id, person_id)
    if profile is None:
        raise NotFound("supervisor profile not found")
    return profile


async def get_supervisor_profile(
    pool: asyncpg.Pool, principal: Principal, person_id: uuid.UUID
) -> SupervisorProfile:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.PROVIDER, writes=False)
        return await _profile(conn, tenant.tenant_id, person_id)


async def get_own_supervisor_profile(pool: asyncpg.Pool, principal: Principal) -> SupervisorProfile:
    person_id = _own_person_id(principal)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        return await _profile(conn, principal.tenant_id, person_id)


async def update_supervisor_profile(
    pool: asyncpg.Pool,
    principal: Principal,
    person_id: uuid.UUID,
    changes: SupervisorOfferChanges,
    *,
    expected_version: int | None = None,
) -> SupervisorProfile:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.PROVIDER)
        profile = await _profile(conn, tenant.tenant_id, person_id)
        check_version(profile.version, expected_version)
        person = await _person(conn, tenant, person_id)
        qualifications = changes.qualifications if not isinstance(changes.qualifications, UnsetType) else ()
        verifiers = await _verifiers(conn, tenant, verifiers_needed(qualifications))
        with fields_at("body"):
            changed = change_supervisor_profile(profile, person, changes, today=_today(), verifiers=verifiers)
        await _save_profile(conn, tenant, profile, changed)
    return changed


async def set_own_availability(
    pool: asyncpg.Pool, principal: Principal, available: bool, *, expected_version: int | None = None
) -> SupervisorProfile:
    """A supervisor says whether they take new orders; the rest of the profile is the provider's."""
    person_id = _own_person_id(principal)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.PROVIDER, roles=(Role.SUPERVISOR,))
        profile = await _profile(conn, tenant.tenant_id, person_id)
        check_version(profile.version, expected_version)
        person = await _person(conn, tenant, person_id)
        with fields_at("body"):
            changed = set_availability(profile, person, available)
        await _save_profile(conn, tenant, profile, changed)
    return changed
