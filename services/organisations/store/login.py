"""SQL of login: identity provider configurations, login attempts and identities."""

from __future__ import annotations

import uuid

import asyncpg

from services.organisations.domain.login import IdentityProviderConfig, LoginAttempt

__all__ = [
    "fetch_attempt",
    "fetch_identity_person",
    "fetch_person_at_login",
    "fetch_provider",
    "find_unlinked_person_by_email",
    "insert_attempt",
    "link_identity",
    "mark_attempt_used",
    "purge_expired_attempts",
    "tenant_exists",
    "tenant_is_active",
    "touch_identity",
    "upsert_provider",
]


async def upsert_provider(conn: asyncpg.Connection, config: IdentityProviderConfig) -> None:
    await conn.execute(
        """
        insert into identity_providers (tenant_id, issuer, client_id, client_secret_ref, scopes,
                                        allowed_email_domains, provisioning, role_claim, role_map)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        on conflict (tenant_id) do update set
          issuer = excluded.issuer, client_id = excluded.client_id,
          client_secret_ref = excluded.client_secret_ref, scopes = excluded.scopes,
          allowed_email_domains = excluded.allowed_email_domains, provisioning = excluded.provisioning,
          role_claim = excluded.role_claim, role_map = excluded.role_map, updated_at = now()
        """,
        config.tenant_id,
        config.issuer,
        config.client_id,
        config.client_secret_ref,
        list(config.scopes),
        list(config.allowed_email_domains),
        config.provisioning,
        config.role_claim,
        dict(config.role_map),
    )


async def fetch_provider(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> IdentityProviderConfig | None:
    row = await conn.fetchrow(
        """
        select issuer, client_id, client_secret_ref, scopes, allowed_email_domains, provisioning,
               role_claim, role_map
        from identity_providers where tenant_id = $1
        """,
        tenant_id,
    )
    if row is None:
        return None
    return IdentityProviderConfig(
        tenant_id=tenant_id,
        issuer=row["issuer"],
        client_id=row["client_id"],
        client_secret_ref=row["client_secret_ref"],
        scopes=tuple(row["scopes"]),
        allowed_email_domains=tuple(row["allowed_email_domains"]),
        provisioning=row["provisioning"],
        role_claim=row["role_claim"],
        role_map=row["role_map"],
    )


async def insert_attempt(conn: asyncpg.Connection, attempt: LoginAttempt) -> None:
    await conn.execute(
        """
        insert into login_attempts (tenant_id, state, issuer, nonce, code_verifier, redirect_uri, expires_at,
                                    invitation_id)
        values ($1, $2, $3, $4, $5, $6, $7, $8)
        """,
        attempt.tenant_id,
        attempt.state,
        attempt.issuer,
        attempt.nonce,
        attempt.code_verifier,
        attempt.redirect_uri,
        attempt.expires_at,
        attempt.invitation_id,
    )


async def fetch_attempt(conn: asyncpg.Connection, tenant_id: uuid.UUID, state: str) -> LoginAttempt | None:
    """The attempt, locked: two callbacks racing with one state cannot both proceed."""
    row = await conn.fetchrow(
        """
        select issuer, nonce, code_verifier, redirect_uri, expires_at, used_at, invitation_id
        from login_attempts where tenant_id = $1 and state = $2 for update
        """,
        tenant_id,
        state,
    )
    if row is None:
        return None
    return LoginAttempt(tenant_id=tenant_id, state=state, **dict(row))


async def mark_attempt_used(conn: asyncpg.Connection, tenant_id: uuid.UUID, state: str) -> None:
    await conn.execute(
        "update login_attempts set used_at = now() where tenant_id = $1 and state = $2", tenant_id, state
    )


async def fetch_identity_person(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, issuer: str, subject: str
) -> uuid.UUID | None:
    person: uuid.UUID | None = await conn.fetchval(
        "select person_id from identities where tenant_id = $1 and issuer = $2 and subject = $3",
        tenant_id,
        issuer,
        subject,
    )
    return person


async def find_unlinked_person_by_email(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, email: str
) -> uuid.UUID | None:
    """A pre-provisioned person with this e-mail who has never logged in with any provider, and
    whose e-mail is still the one they were provisioned with (no admin has changed it since)."""
    person: uuid.UUID | None = await conn.fetchval(
        """
        select p.person_id from people p
        where p.tenant_id = $1 and lower(p.email) = $2 and p.email_links
          and not exists (select 1 from identities i
                          where i.tenant_id = p.tenant_id and i.person_id = p.person_id)
        """,
        tenant_id,
        email,
    )
    return person


async def tenant_exists(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("select exists (select 1 from tenants where tenant_id = $1)", tenant_id))


async def tenant_is_active(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> bool:
    active: bool | None = await conn.fetchval("select active from tenants where tenant_id = $1", tenant_id)
    return bool(active)


async def purge_expired_attempts(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> None:
    """Started logins nobody finished are kept for a day (for the logs), then go."""
    await conn.execute(
        "delete from login_attempts where tenant_id = $1 and expires_at < now() - interval '1 day'", tenant_id
    )


async def link_identity(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, issuer: str, subject: str, person_id: uuid.UUID
) -> None:
    await conn.execute(
        "insert into identities (tenant_id, issuer, subject, person_id, last_login_at)"
        " values ($1, $2, $3, $4, now())",
        tenant_id,
        issuer,
        subject,
        person_id,
    )


async def touch_identity(conn: asyncpg.Connection, tenant_id: uuid.UUID, issuer: str, subject: str) -> None:
    await conn.execute(
        "update identities set last_login_at = now() where tenant_id = $1 and issuer = $2 and subject = $3",
        tenant_id,
        issuer,
        subject,
    )


async def fetch_person_at_login(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, person_id: uuid.UUID
) -> tuple[tuple[str, ...], bool, bool] | None:
    """The person's roles, whether they are active and whether their tenant is."""
    row = await conn.fetchrow(
        """
        select p.roles, p.active, t.active as tenant_active from people p
        join tenants t on t.tenant_id = p.tenant_id
        where p.tenant_id = $1 and p.person_id = $2
        """,
        tenant_id,
        person_id,
    )
    return (tuple(row["roles"]), bool(row["active"]), bool(row["tenant_active"])) if row else None
