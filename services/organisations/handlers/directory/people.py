"""Use cases for people and their supervisor profiles."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TypeVar

import asyncpg
from msgspec import UnsetType

from services.organisations.domain.directory import (
    Person,
    PersonChanges,
    Role,
    StoryTraining,
    SupervisorOffer,
    SupervisorOfferChanges,
    SupervisorProfile,
    ValviraRegistration,
    change_person,
    change_supervisor_profile,
    deactivate_person,
    new_person,
    new_supervisor_profile,
    set_availability,
    verifiers_needed,
    withdraw_if_not_supervising,
)
from services.organisations.domain.invitations import IdentityAction
from services.organisations.domain.tenants import Tenant, TenantKind
from services.organisations.handlers.directory.common import (
    Paged,
    _after,
    _announce_approvers,
    _changed_meanwhile,
    _own_person_id,
    _page,
    _person,
    _tenant,
    _today,
    _unknown,
)
from services.organisations.handlers.tenants import announce
from services.organisations.store import directory as store
from services.organisations.store import identity as identity_store
from shared.auth.principal import Principal
from shared.contracts import Event
from shared.contracts import organisations as contracts
from shared.db.tenant import tenant_transaction
from shared.errors import (
    Conflict,
    FieldError,
    NotFound,
    check_version,
    fields_at,
)
from shared.ids import new_id

__all__ = [
    "create_person",
    "create_supervisor_profile",
    "deactivate_person_by_id",
    "get_own_person",
    "get_own_supervisor_profile",
    "get_person",
    "get_supervisor_profile",
    "list_people",
    "list_supervisor_profiles",
    "set_own_availability",
    "update_person",
    "update_supervisor_profile",
]


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
