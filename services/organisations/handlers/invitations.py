"""Use cases of invitations (issued by platform admins, redeemed at login) and a person's identity record."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.organisations.domain.directory import ADMIN_ROLE, Person, Role, new_person
from services.organisations.domain.invitations import (
    DEFAULT_LIFETIME,
    IdentityAction,
    Invitation,
    InvitationPurpose,
    new_invitation,
)
from services.organisations.handlers.directory import get_own_person
from services.organisations.handlers.tenants import announce
from services.organisations.store import directory as directory_store
from services.organisations.store import identity as store
from services.organisations.store import tenants as tenant_store
from shared.auth.principal import PLATFORM_ADMIN, Principal
from shared.contracts import organisations as contracts
from shared.db.tenant import tenant_transaction
from shared.errors import Conflict, FieldError, Forbidden, InvariantViolated, NotFound, fields_at
from shared.ids import new_id
from shared.logging import get_logger

__all__ = ["IdentityEntry", "LinkedIdentity", "OwnIdentity", "issue_invitation", "own_identity"]

log = get_logger(__name__)

HISTORY_SHOWN = 100
"""The latest identity audit entries a person sees on their own record."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def issue_invitation(
    pool: asyncpg.Pool,
    principal: Principal,
    tenant_id: uuid.UUID,
    *,
    email: str | None,
    name: str | None,
    role: Role | None,
    person_id: uuid.UUID | None,
    lifetime: dt.timedelta = DEFAULT_LIFETIME,
) -> Invitation:
    """A platform admin invites a tenant's first admin (a new person) or re-links an existing person.

    The code is in the answer only; the tenant's admins never hold one, so no tenant admin can
    steer a login into an existing person.
    """
    if not principal.has_role(PLATFORM_ADMIN):
        raise Forbidden("only platform admins issue invitations")
    if (person_id is None) == (email is None):
        raise InvariantViolated(
            "invite either a new admin (email and role) or an existing person (personId)",
            errors=[FieldError("body.personId", "give personId, or email and role, not both")],
        )
    async with tenant_transaction(pool, tenant_id) as conn:
        tenant = await tenant_store.fetch_tenant(conn, tenant_id)
        if tenant is None:
            raise NotFound("tenant not found")
        if not tenant.active:
            raise Conflict("the tenant is deactivated")
        if person_id is not None:
            person = await directory_store.fetch_person(conn, tenant_id, person_id)
            if person is None:
                raise NotFound("person not found")
            if not person.active:
                raise Conflict("the person is deactivated")
            purpose = InvitationPurpose.RELINK
        else:
            person = await _new_admin(conn, tenant_id, tenant.kind, email or "", name, role)
            purpose = InvitationPurpose.FIRST_ADMIN
        invitation, secret_hash = new_invitation(
            tenant_id, new_id(), person.person_id, purpose, now=_now(), lifetime=lifetime
        )
        await store.insert_invitation(conn, invitation, secret_hash, principal.subject)
        await store.append_audit(
            conn,
            tenant_id,
            person.person_id,
            IdentityAction.INVITATION_ISSUED,
            actor=principal.subject,
            detail={
                "invitationId": str(invitation.invitation_id),
                "purpose": purpose.value,
                "expiresAt": invitation.expires_at.isoformat(),
            },
        )
    log.info("invitation_issued", tenant_id=str(tenant_id), person_id=str(person.person_id))
    return invitation


async def _new_admin(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    kind: Any,
    email: str,
    name: str | None,
    role: Role | None,
) -> Person:
    admin_role = ADMIN_ROLE[kind]
    if role is None or role != admin_role:
        raise InvariantViolated(
            f"this tenant's first admin is a {admin_role.value}",
            errors=[FieldError("body.role", f"must be {admin_role.value}")],
        )
    with fields_at("body"):
        person = new_person(new_id(), kind=kind, name=name or email, email=email, roles=[admin_role])
    try:
        await directory_store.insert_person(conn, tenant_id, person)
    except asyncpg.UniqueViolationError:
        raise Conflict(
            "a person of this tenant has the e-mail address; invite them by personId",
            errors=[FieldError("body.email", "already in use")],
        ) from None
    # Only the invitation links them: not whoever shows up with this e-mail.
    await store.stop_email_links(conn, tenant_id, person.person_id)
    event = contracts.PersonCreated(
        person_id=person.person_id,
        roles=[r.value for r in person.roles],
        hr_employee_number=person.hr_employee_number,
        active=person.active,
    )
    await announce(conn, tenant_id, event, subject=person.person_id, version=person.version)
    return person


@dataclass(frozen=True)
class LinkedIdentity:
    issuer: str
    linked_at: dt.datetime
    last_login_at: dt.datetime | None


@dataclass(frozen=True)
class IdentityEntry:
    action: str
    actor: str
    at: dt.datetime
    detail: dict[str, Any]


@dataclass(frozen=True)
class OwnIdentity:
    person: Person
    identities: list[LinkedIdentity]
    history: list[IdentityEntry]


async def own_identity(pool: asyncpg.Pool, principal: Principal) -> OwnIdentity:
    """The caller's person record, the logins linked to it and what happened to those links."""
    person = await get_own_person(pool, principal)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        identities = await store.identities_of(conn, principal.tenant_id, person.person_id)
        history = await store.list_audit(conn, principal.tenant_id, person.person_id, limit=HISTORY_SHOWN)
    return OwnIdentity(
        person=person,
        identities=[
            LinkedIdentity(issuer=r["issuer"], linked_at=r["created_at"], last_login_at=r["last_login_at"])
            for r in identities
        ],
        history=[
            IdentityEntry(action=r["action"], actor=r["actor"], at=r["at"], detail=dict(r["detail"]))
            for r in history
        ],
    )
