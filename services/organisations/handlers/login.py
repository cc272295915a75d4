"""Use cases of login through a tenant's own OpenID provider, ending in Tila's own tokens."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import asyncpg

from services.organisations.adapters.oidc import OidcClient
from services.organisations.domain.directory import PersonChanges, Role
from services.organisations.domain.invitations import IdentityAction, hash_code
from services.organisations.domain.login import (
    IdentityProviderConfig,
    LoginAttempt,
    LoginRefused,
    check_browser_binding,
    check_callback,
    check_email,
    check_id_token_claims,
    code_challenge,
    issuer_allowed,
    new_attempt,
    roles_from_claims,
    secret_reference,
)
from services.organisations.domain.tokens import Grant
from services.organisations.handlers import directory
from services.organisations.handlers.tokens import IssuedTokens, TokenPolicy, start_session
from services.organisations.store import identity as identity_store
from services.organisations.store import login as store
from shared.addresses import TargetNotAllowed, check_url
from shared.auth.principal import BUYER_ADMIN, PLATFORM_ADMIN, PROVIDER_ADMIN, Principal
from shared.db.tenant import tenant_transaction
from shared.errors import (
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    InvariantViolated,
    NotFound,
    Unauthenticated,
)
from shared.http.outbound import resolve_allowed
from shared.logging import bind_context, get_logger

__all__ = [
    "LoginContext",
    "ProviderRequest",
    "configure_provider",
    "configure_provider_for_tenant",
    "finish_login",
    "get_provider",
    "start_login",
]

log = get_logger(__name__)


@dataclass(frozen=True)
class LoginContext:
    oidc: OidcClient
    policy: TokenPolicy
    public_base_url: str
    allow_loopback_http: bool = False
    """Local stacks and tests run their providers on http://127.0.0.1; production never does."""

    def redirect_uri(self, tenant_id: uuid.UUID) -> str:
        # One redirect URI per tenant: the callback knows whose login it finishes (and RLS agrees).
        return f"{self.public_base_url.rstrip('/')}/organisations/login/{tenant_id}/callback"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _require_admin(principal: Principal) -> None:
    if not principal.has_role(BUYER_ADMIN, PROVIDER_ADMIN):
        raise Forbidden("only the tenant's admins configure its login")


@dataclass(frozen=True, kw_only=True)
class ProviderRequest:
    """What an admin asks for when connecting a tenant's OpenID provider (the API's body, checked)."""

    issuer: str
    client_id: str
    scopes: tuple[str, ...]
    allowed_email_domains: tuple[str, ...]
    provisioning: str
    role_claim: str | None
    role_map: Mapping[str, str]


async def configure_provider(
    pool: asyncpg.Pool, principal: Principal, request: ProviderRequest, *, allow_loopback_http: bool
) -> IdentityProviderConfig:
    _require_admin(principal)
    return await _configure(pool, principal.tenant_id, request, allow_loopback_http=allow_loopback_http)


async def configure_provider_for_tenant(
    pool: asyncpg.Pool,
    principal: Principal,
    tenant_id: uuid.UUID,
    request: ProviderRequest,
    *,
    allow_loopback_http: bool,
) -> IdentityProviderConfig:
    """A platform admin sets a tenant's provider on its behalf (onboarding: before it has an admin)."""
    if not principal.has_role(PLATFORM_ADMIN):
        raise Forbidden("only platform admins configure another tenant's login")
    async with tenant_transaction(pool, tenant_id) as conn:
        if not await store.tenant_exists(conn, tenant_id):
            raise NotFound("tenant not found")
    return await _configure(pool, tenant_id, request, allow_loopback_http=allow_loopback_http)


async def _configure(
    pool: asyncpg.Pool, tenant_id: uuid.UUID, request: ProviderRequest, *, allow_loopback_http: bool
) -> IdentityProviderConfig:
    issuer, scopes = request.issuer, request.scopes
    if "openid" not in scopes:
        raise InvariantViolated(
            "the scopes must include openid", errors=[FieldError("body.scopes", "add openid")]
        )
    if not issuer_allowed(issuer, allow_loopback_http=allow_loopback_http):
        raise InvariantViolated(
            "an issuer is an https URL", errors=[FieldError("body.issuer", "must be https://host[/path]")]
        )
    await _check_issuer_address(issuer, allow_loopback_http=allow_loopback_http)
    config = IdentityProviderConfig(
        tenant_id=tenant_id,
        issuer=issuer,  # exactly as given: discovery must name the very same string
        client_id=request.client_id,
        client_secret_ref=secret_reference(tenant_id),
        scopes=scopes,
        allowed_email_domains=tuple(d.lower() for d in request.allowed_email_domains),
        provisioning="claims" if request.provisioning == "claims" else "pre_provisioned",
        role_claim=request.role_claim,
        role_map=dict(request.role_map),
    )
    async with tenant_transaction(pool, tenant_id) as conn:
        if not await store.tenant_is_active(conn, tenant_id):
            raise Forbidden("the tenant is deactivated")
        current = await store.fetch_provider(conn, tenant_id)
        if current is not None and current.issuer != config.issuer:
            # A new issuer could log in as people linked at the old one: not a tenant admin's call.
            raise Conflict(
                "the issuer of a tenant's login is changed by Tila's support, which re-links its people",
                errors=[FieldError("body.issuer", "differs from the configured issuer")],
            )
        await store.upsert_provider(conn, config)
    return config


async def _check_issuer_address(issuer: str, *, allow_loopback_http: bool) -> None:
    """The outbound address policy (as for webhooks): the issuer's host must resolve to public
    addresses only. It is checked again at every call to the provider (DNS may change)."""
    try:
        target = check_url(issuer, allow_loopback_http=allow_loopback_http, field="body.issuer")
        await resolve_allowed(target, allow_loopback=allow_loopback_http)
    except TargetNotAllowed as refused:
        raise InvariantViolated(
            f"the issuer may not be called: {refused.detail}",
            errors=[FieldError("body.issuer", refused.detail)],
        ) from None


async def get_provider(pool: asyncpg.Pool, principal: Principal) -> IdentityProviderConfig:
    _require_admin(principal)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        config = await store.fetch_provider(conn, principal.tenant_id)
    if config is None:
        raise NotFound("no identity provider is configured")
    return config


async def start_login(
    pool: asyncpg.Pool, context: LoginContext, tenant_id: uuid.UUID, *, invitation: str | None = None
) -> tuple[str, LoginAttempt]:
    """Begin a login: remember state, nonce and verifier; return where to send the browser.

    With an ``invitation`` code, the attempt is bound to that (unused, unexpired) invitation of this
    tenant: its callback links whoever logs in to the invited person, and spends the invitation.
    """
    invitation_id = None
    async with tenant_transaction(pool, tenant_id) as conn:
        config = await store.fetch_provider(conn, tenant_id)
        active = await store.tenant_is_active(conn, tenant_id)
        if invitation is not None and config is not None and active:
            invitation_id = await identity_store.fetch_valid_invitation(
                conn, tenant_id, hash_code(invitation)
            )
    if config is None or not active:
        raise NotFound("this tenant has no login configured")
    if invitation is not None and invitation_id is None:
        # One answer for unknown, spent, expired and another tenant's: no oracle for codes.
        log.warning("login_refused", reason="invitation_not_valid", tenant_id=str(tenant_id))
        raise Unauthenticated("login failed: invitation_not_valid")
    try:
        metadata = await context.oidc.metadata(config.issuer, allow_loopback_http=context.allow_loopback_http)
    except LoginRefused as refused:
        raise Unauthenticated(f"login failed: {refused.reason}") from None
    attempt = new_attempt(
        config, redirect_uri=context.redirect_uri(tenant_id), now=_now(), invitation_id=invitation_id
    )
    async with tenant_transaction(pool, tenant_id) as conn:
        await store.purge_expired_attempts(conn, tenant_id)
        await store.insert_attempt(conn, attempt)
    query = {
        "response_type": "code",
        "client_id": config.client_id,
        "redirect_uri": attempt.redirect_uri,
        "scope": " ".join(config.scopes),
        "state": attempt.state,
        "nonce": attempt.nonce,
        "code_challenge": code_challenge(attempt.code_verifier),
        "code_challenge_method": "S256",
    }
    return f"{metadata.authorization_endpoint}?{urlencode(query)}", attempt


async def finish_login(
    pool: asyncpg.Pool,
    context: LoginContext,
    tenant_id: uuid.UUID,
    *,
    state: str | None,
    code: str | None,
    issuer_param: str | None,
    error: str | None,
    browser_binding: str | None,
) -> IssuedTokens:
    """The provider sent the browser back: check everything, then issue Tila's tokens."""
    bind_context(tenant_id=str(tenant_id))
    try:
        return await _finish(pool, context, tenant_id, state, code, issuer_param, error, browser_binding)
    except LoginRefused as refused:
        log.warning("login_refused", reason=refused.reason)
        raise Unauthenticated(f"login failed: {refused.reason}") from None


async def _finish(
    pool: asyncpg.Pool,
    context: LoginContext,
    tenant_id: uuid.UUID,
    state: str | None,
    code: str | None,
    issuer_param: str | None,
    error: str | None,
    browser_binding: str | None,
) -> IssuedTokens:
    if error is not None:
        raise LoginRefused("provider_refused")
    if not state or not code:
        raise LoginRefused("incomplete_callback")
    # Spend the state first, in its own transaction: whatever happens next, it is single-use.
    async with tenant_transaction(pool, tenant_id) as conn:
        found = await store.fetch_attempt(conn, tenant_id, state)
        if found is not None and found.used_at is None:
            await store.mark_attempt_used(conn, tenant_id, state)
        config = await store.fetch_provider(conn, tenant_id)
    attempt = check_callback(found, issuer_param=issuer_param, now=_now())
    check_browser_binding(attempt, browser_binding)
    if config is None or config.issuer != attempt.issuer:
        raise LoginRefused("provider_changed")
    metadata = await context.oidc.metadata(config.issuer, allow_loopback_http=context.allow_loopback_http)
    if metadata.iss_parameter_supported and issuer_param is None:
        raise LoginRefused("issuer_missing")  # RFC 9207: the provider says it always sends one
    id_token = await context.oidc.exchange_code(config, metadata, attempt, code)
    claims = await context.oidc.verified_claims(metadata, id_token)
    check_id_token_claims(
        claims, issuer=config.issuer, client_id=config.client_id, nonce=attempt.nonce, now=_now()
    )
    email = check_email(claims, config.allowed_email_domains)
    if attempt.invitation_id is not None:
        person_id = await _redeem(pool, config, claims, attempt.invitation_id)
    else:
        person_id = await _person_of(pool, config, claims, email)
    async with tenant_transaction(pool, tenant_id) as conn:
        person = await store.fetch_person_at_login(conn, tenant_id, person_id)
    if person is None or not person[1]:
        raise LoginRefused("person_disabled")
    if not person[2]:
        raise LoginRefused("tenant_deactivated")
    log.info("login_succeeded", person_id=str(person_id))
    grant = Grant(tenant_id=tenant_id, subject=str(person_id), roles=person[0])
    return await start_session(pool, context.policy, grant)


async def _person_of(
    pool: asyncpg.Pool, config: IdentityProviderConfig, claims: Mapping[str, Any], email: str | None
) -> uuid.UUID:
    """The person this (issuer, subject) is: linked before, or linked now, once.

    Pre-provisioned: an admin created the person; a verified e-mail matches them, and only a
    person with no identity at all (so nobody can be taken over by a second provider).
    Claims: the provider's group claim decides the roles — at every login — and a new person
    is created through the directory's own use case, so the other services hear of them.
    """
    subject = str(claims["sub"])
    tenant_id = config.tenant_id
    async with tenant_transaction(pool, tenant_id) as conn:
        person_id = await store.fetch_identity_person(conn, tenant_id, config.issuer, subject)
        if person_id is None and email is not None:
            candidate = await store.find_unlinked_person_by_email(conn, tenant_id, email)
        else:
            candidate = None
    roles = roles_from_claims(claims, config) if config.provisioning == "claims" else ()
    if config.provisioning == "claims" and not roles:
        raise LoginRefused("no_role_granted")
    if person_id is not None:
        if roles:
            await _sync_roles(pool, config, person_id, roles)
        async with tenant_transaction(pool, tenant_id) as conn:
            await store.touch_identity(conn, tenant_id, config.issuer, subject)
        return person_id
    if email is None:
        raise LoginRefused("not_provisioned")  # no verified e-mail to match or create a person by
    if candidate is None and config.provisioning == "claims":
        candidate = await _create_person_from_claims(pool, config, claims, email, roles)
    elif candidate is not None and roles:
        await _sync_roles(pool, config, candidate, roles)
    if candidate is None:
        raise LoginRefused("not_provisioned")
    async with tenant_transaction(pool, tenant_id) as conn:
        try:
            await store.link_identity(conn, tenant_id, config.issuer, subject, candidate)
        except asyncpg.UniqueViolationError:
            raise LoginRefused("login_in_progress_elsewhere") from None  # a simultaneous first login
        await identity_store.append_audit(
            conn,
            tenant_id,
            candidate,
            IdentityAction.LINKED,
            actor=f"login:{config.issuer}",
            detail={"issuer": config.issuer, "subject": subject, "by": "email", "email": email},
        )
    return candidate


async def _redeem(
    pool: asyncpg.Pool, config: IdentityProviderConfig, claims: Mapping[str, Any], invitation_id: uuid.UUID
) -> uuid.UUID:
    """Link this login to the invited person and spend the invitation, in one transaction.

    The invitation decides the person, never the e-mail. A login already linked to someone else
    stays theirs (refused, the invitation unspent); the person's earlier identity at this provider,
    if any, is unlinked. Every step lands in the person's identity audit.
    """
    subject = str(claims["sub"])
    tenant_id = config.tenant_id
    actor = f"invitation:{invitation_id}"
    async with tenant_transaction(pool, tenant_id) as conn:
        person_id = await identity_store.consume_invitation(conn, tenant_id, invitation_id)
        if person_id is None:
            raise LoginRefused("invitation_not_valid")  # spent meanwhile, or expired since the start
        linked = await store.fetch_identity_person(conn, tenant_id, config.issuer, subject)
        if linked is not None and linked != person_id:
            raise LoginRefused("identity_linked_to_another_person")  # rolls back: the invitation stays
        if linked is None:
            for old_subject in await identity_store.unlink_at_issuer(
                conn, tenant_id, person_id, config.issuer
            ):
                await identity_store.append_audit(
                    conn,
                    tenant_id,
                    person_id,
                    IdentityAction.UNLINKED,
                    actor=actor,
                    detail={"issuer": config.issuer, "subject": old_subject},
                )
            try:
                await store.link_identity(conn, tenant_id, config.issuer, subject, person_id)
            except asyncpg.UniqueViolationError:
                raise LoginRefused("login_in_progress_elsewhere") from None
            await identity_store.append_audit(
                conn,
                tenant_id,
                person_id,
                IdentityAction.LINKED,
                actor=actor,
                detail={"issuer": config.issuer, "subject": subject, "by": "invitation"},
            )
        else:
            await store.touch_identity(conn, tenant_id, config.issuer, subject)
        await identity_store.append_audit(
            conn,
            tenant_id,
            person_id,
            IdentityAction.INVITATION_REDEEMED,
            actor=actor,
            detail={"invitationId": str(invitation_id)},
        )
    log.info("invitation_redeemed", person_id=str(person_id))
    return person_id


def _acting_for_login(config: IdentityProviderConfig) -> Principal:
    return Principal(
        subject=f"login:{config.issuer}",
        tenant_id=config.tenant_id,
        roles=frozenset({BUYER_ADMIN, PROVIDER_ADMIN}),  # the directory picks what the tenant's kind allows
        scopes=frozenset(),
        token_id="login",  # noqa: S106 (an id, not a secret)
        is_client=False,
    )


async def _sync_roles(
    pool: asyncpg.Pool, config: IdentityProviderConfig, person_id: uuid.UUID, roles: tuple[str, ...]
) -> None:
    """Claims provisioning: the provider's groups are the truth, also when they take roles away."""
    try:
        await directory.update_person(
            pool, _acting_for_login(config), person_id, PersonChanges(roles=[Role(role) for role in roles])
        )
    except DomainError as refused:
        log.warning("login_role_sync_refused", error=refused.detail)
        raise LoginRefused("provisioning_refused") from None


async def _create_person_from_claims(
    pool: asyncpg.Pool,
    config: IdentityProviderConfig,
    claims: Mapping[str, Any],
    email: str,
    roles: tuple[str, ...],
) -> uuid.UUID:
    name = claims.get("name")
    try:
        person = await directory.create_person(
            pool,
            _acting_for_login(config),
            name=name if isinstance(name, str) and name.strip() else email,
            email=email,
            roles=[Role(role) for role in roles],
            hr_employee_number=None,
        )
    except DomainError as refused:
        log.warning("login_provisioning_refused", error=refused.detail)
        raise LoginRefused("provisioning_refused") from None
    return person.person_id
