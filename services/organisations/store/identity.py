"""SQL of invitations, identity links and the append-only identity audit."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from services.organisations.domain.invitations import IdentityAction, Invitation

__all__ = [
    "append_audit",
    "consume_invitation",
    "fetch_valid_invitation",
    "identities_of",
    "insert_invitation",
    "list_audit",
    "stop_email_links",
    "unlink_at_issuer",
]


async def insert_invitation(
    conn: asyncpg.Connection, invitation: Invitation, secret_hash: bytes, created_by: str
) -> None:
    await conn.execute(
        """
        insert into invitations (tenant_id, invitation_id, person_id, secret_hash, purpose, created_by,
                                 expires_at)
        values ($1, $2, $3, $4, $5, $6, $7)
        """,
        invitation.tenant_id,
        invitation.invitation_id,
        invitation.person_id,
        secret_hash,
        invitation.purpose.value,
        created_by,
        invitation.expires_at,
    )


async def fetch_valid_invitation(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, secret_hash: bytes
) -> uuid.UUID | None:
    """The invitation with this secret, if it is unused and unexpired (in this tenant: RLS agrees)."""
    found: uuid.UUID | None = await conn.fetchval(
        """
        select invitation_id from invitations
        where tenant_id = $1 and secret_hash = $2 and used_at is null and expires_at > now()
        """,
        tenant_id,
        secret_hash,
    )
    return found


async def consume_invitation(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, invitation_id: uuid.UUID
) -> uuid.UUID | None:
    """Spend the invitation, once: its person, or None when it was spent, expired or never was."""
    person: uuid.UUID | None = await conn.fetchval(
        """
        update invitations set used_at = now()
        where tenant_id = $1 and invitation_id = $2 and used_at is null and expires_at > now()
        returning person_id
        """,
        tenant_id,
        invitation_id,
    )
    return person


async def unlink_at_issuer(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, person_id: uuid.UUID, issuer: str
) -> list[str]:
    """Remove the person's identity at this issuer (a person has at most one there); its subjects."""
    rows = await conn.fetch(
        "delete from identities where tenant_id = $1 and person_id = $2 and issuer = $3 returning subject",
        tenant_id,
        person_id,
        issuer,
    )
    return [row["subject"] for row in rows]


async def stop_email_links(conn: asyncpg.Connection, tenant_id: uuid.UUID, person_id: uuid.UUID) -> None:
    await conn.execute(
        "update people set email_links = false where tenant_id = $1 and person_id = $2", tenant_id, person_id
    )


async def append_audit(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    person_id: uuid.UUID,
    action: IdentityAction,
    *,
    actor: str,
    detail: dict[str, Any],
) -> None:
    await conn.execute(
        "insert into identity_audit (tenant_id, person_id, action, actor, detail)"
        " values ($1, $2, $3, $4, $5)",
        tenant_id,
        person_id,
        action.value,
        actor,
        detail,
    )


async def list_audit(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, person_id: uuid.UUID, *, limit: int
) -> list[asyncpg.Record]:
    """The person's latest entries, newest first."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        select action, actor, detail, at from identity_audit
        where tenant_id = $1 and person_id = $2 order by entry_id desc limit $3
        """,
        tenant_id,
        person_id,
        limit,
    )
    return rows


async def identities_of(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, person_id: uuid.UUID
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        select issuer, created_at, last_login_at from identities
        where tenant_id = $1 and person_id = $2 order by created_at
        """,
        tenant_id,
        person_id,
    )
    return rows
