"""Invitations: a single-use, expiring secret that links one login to one person, whatever the e-mail.

Only platform admins issue them (a tenant's first admin, or re-linking a person whose e-mail an
admin changed): a tenant admin must not be able to steer a login into an existing person. The
code is shown once; only its SHA-256 is kept (it carries 256 random bits, a fast hash is enough).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from enum import StrEnum

import msgspec

__all__ = [
    "CODE_PREFIX",
    "DEFAULT_LIFETIME",
    "MAX_LIFETIME",
    "IdentityAction",
    "Invitation",
    "InvitationPurpose",
    "hash_code",
    "new_invitation",
]

CODE_PREFIX = "tila_inv_"
DEFAULT_LIFETIME = dt.timedelta(hours=72)
MAX_LIFETIME = dt.timedelta(days=14)


class InvitationPurpose(StrEnum):
    FIRST_ADMIN = "first_admin"
    """A new tenant's first admin, created with the invitation."""
    RELINK = "relink"
    """An existing person whose login must be (re)linked, e.g. after an admin changed their e-mail."""


class IdentityAction(StrEnum):
    LINKED = "linked"
    UNLINKED = "unlinked"
    EMAIL_CHANGED = "email_changed"
    INVITATION_ISSUED = "invitation_issued"
    INVITATION_REDEEMED = "invitation_redeemed"


class Invitation(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: uuid.UUID
    invitation_id: uuid.UUID
    person_id: uuid.UUID
    purpose: InvitationPurpose
    expires_at: dt.datetime
    code: str | None = None
    """The secret: only in the answer to the issue, never stored."""


def hash_code(code: str) -> bytes:
    return hashlib.sha256(code.strip().encode()).digest()


def new_invitation(
    tenant_id: uuid.UUID,
    invitation_id: uuid.UUID,
    person_id: uuid.UUID,
    purpose: InvitationPurpose,
    *,
    now: dt.datetime,
    lifetime: dt.timedelta = DEFAULT_LIFETIME,
) -> tuple[Invitation, bytes]:
    """A fresh invitation with its code, and the hash to store."""
    if not dt.timedelta(0) < lifetime <= MAX_LIFETIME:
        raise ValueError("an invitation lives more than nothing and at most two weeks")
    code = CODE_PREFIX + secrets.token_urlsafe(32)
    invitation = Invitation(
        tenant_id=tenant_id,
        invitation_id=invitation_id,
        person_id=person_id,
        purpose=purpose,
        expires_at=now + lifetime,
        code=code,
    )
    return invitation, hash_code(code)
