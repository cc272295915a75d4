"""Onboarding routes of Tila's platform admins: a tenant's first admin and its identity provider.

A new tenant has no admin and no login. The platform admin sets its identity provider and invites
its first admin; the invitee opens the invitation's login URL, logs in at the tenant's provider,
and that login is linked to the invited person (whatever its e-mail); the invitation is spent.
The same invitation re-links an existing person whose e-mail a tenant admin changed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec
from litestar import Controller, Response, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from services.organisations.api.login import (
    IdentityProviderIn,
    IdentityProviderOut,
    provider_out,
    provider_request,
)
from services.organisations.domain.directory import Role
from services.organisations.domain.invitations import DEFAULT_LIFETIME, MAX_LIFETIME, Invitation
from services.organisations.handlers import invitations as handlers
from services.organisations.handlers import login as login_handlers
from services.organisations.handlers.login import LoginContext
from shared.auth.guards import requires_role
from shared.auth.principal import PLATFORM_ADMIN
from shared.http.dependencies import Caller, Pool

__all__ = ["InvitationCreate", "InvitationOut", "OnboardingController"]

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class InvitationCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """Either a new first admin (``email`` and ``role``, optionally ``name``) or ``personId``."""

    email: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=3,
                max_length=254,
                description="The new admin's e-mail (a new person; it does not decide who logs in)",
                examples=["hallinto@pirha.fi"],
            ),
        ]
        | None
    ) = None
    name: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1, max_length=200, description="The new admin's name (the e-mail if absent)"
            ),
        ]
        | None
    ) = None
    role: (
        Annotated[
            Literal["buyer_admin", "provider_admin"],
            msgspec.Meta(
                description="The new admin's role: buyer_admin of a buyer, provider_admin of a provider"
            ),
        ]
        | None
    ) = None
    person_id: (
        Annotated[
            uuid.UUID,
            msgspec.Meta(
                description="An existing person of the tenant to (re)link, e.g. after an e-mail change"
            ),
        ]
        | None
    ) = None
    valid_hours: Annotated[
        int,
        msgspec.Meta(
            ge=1,
            le=int(MAX_LIFETIME.total_seconds() // 3600),
            description="How long the invitation can be redeemed, in hours (at most two weeks)",
        ),
    ] = int(DEFAULT_LIFETIME.total_seconds() // 3600)


class InvitationOut(msgspec.Struct, frozen=True, rename="camel"):
    id: Annotated[
        uuid.UUID, msgspec.Meta(description="The invitation's id (in the person's identity history)")
    ]
    tenant_id: Annotated[uuid.UUID, msgspec.Meta(description="The tenant the invitation is for")]
    person_id: Annotated[uuid.UUID, msgspec.Meta(description="The person whom the redeeming login becomes")]
    purpose: Annotated[
        Literal["first_admin", "relink"],
        msgspec.Meta(description="first_admin: a new admin was created; relink: an existing person"),
    ]
    code: Annotated[
        str,
        msgspec.Meta(
            description="The single-use secret, shown only now (Tila keeps its hash); for the invitee"
        ),
    ]
    expires_at: Annotated[dt.datetime, msgspec.Meta(description="After this the invitation is refused")]
    login_url: Annotated[
        str,
        msgspec.Meta(description="Where the invitee starts: the tenant's login carrying the code"),
    ]


def _invitation_out(invitation: Invitation, login: LoginContext) -> InvitationOut:
    code = invitation.code or ""
    base = login.public_base_url.rstrip("/")
    return InvitationOut(
        id=invitation.invitation_id,
        tenant_id=invitation.tenant_id,
        person_id=invitation.person_id,
        purpose=invitation.purpose.value,
        code=code,
        expires_at=invitation.expires_at,
        login_url=f"{base}/organisations/login/{invitation.tenant_id}/start?invitation={code}",
    )


class OnboardingController(Controller):
    path = "/tenants/{tenant_id:uuid}"
    tags = ["tenants"]
    guards = [requires_role(PLATFORM_ADMIN)]

    @post(
        "/invitations",
        operation_id="inviteTenantPerson",
        summary="Invite a tenant's first admin, or re-link a person: a single-use, expiring code shown once",
        status_code=201,
    )
    async def invite(
        self,
        tenant_id: FromPath[uuid.UUID],
        data: JSONBody[InvitationCreate],
        pool: Pool,
        principal: Caller,
        login: NamedDependency[LoginContext],
    ) -> Response[InvitationOut]:
        invitation = await handlers.issue_invitation(
            pool,
            principal,
            tenant_id,
            email=data.email,
            name=data.name,
            role=Role(data.role) if data.role else None,
            person_id=data.person_id,
            lifetime=dt.timedelta(hours=data.valid_hours),
        )
        return Response(_invitation_out(invitation, login), status_code=201, headers=_NO_STORE)

    @put(
        "/identity-provider",
        operation_id="configureTenantIdentityProvider",
        summary="Set a tenant's OpenID provider on its behalf (onboarding, before it has an admin)",
    )
    async def configure(
        self,
        tenant_id: FromPath[uuid.UUID],
        data: JSONBody[IdentityProviderIn],
        pool: Pool,
        principal: Caller,
        login: NamedDependency[LoginContext],
    ) -> IdentityProviderOut:
        config = await login_handlers.configure_provider_for_tenant(
            pool, principal, tenant_id, provider_request(data), allow_loopback_http=login.allow_loopback_http
        )
        return provider_out(config, login)
