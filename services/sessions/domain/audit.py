"""The content audit log: who did what to which content, chained by SHA-256 per tenant.

An entry holds ids, an action and an outcome — never content. Each entry's hash covers the
previous entry's hash and the entry's canonical fields, and entries are numbered 1, 2, 3, …
per tenant, so an edited field, a removed entry or a reordering breaks verification from that
entry on.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

__all__ = [
    "GENESIS",
    "Action",
    "AuditEntry",
    "ChainCheck",
    "Outcome",
    "chain_hash",
    "verify_chain",
]

GENESIS = bytes(32)
"""The "previous hash" of a tenant's first entry."""


class Action(enum.StrEnum):
    READ = "read"
    LIST = "list"
    CREATE = "create"
    UPDATE = "update"
    SHARE = "share"
    APPROVE = "approve"
    CONSENT = "consent"
    SHRED = "shred"


class Outcome(enum.StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"
    NOT_FOUND = "not_found"
    GONE = "gone"
    REJECTED = "rejected"
    """Allowed to try, but a rule refused the request (a conflict, a stale version, bad input)."""
    FAILED = "failed"
    """Allowed, but the stored content did not decrypt (tampered, moved, or its key retired)."""


@dataclass(frozen=True)
class AuditEntry:
    tenant_id: uuid.UUID
    """The tenant whose chain holds the entry: the caller's."""
    seq: int
    id: uuid.UUID
    occurred_at: dt.datetime
    actor: str
    """The token's subject (a person id or a client id)."""
    process_id: uuid.UUID | None
    item_id: uuid.UUID | None
    kind: str | None
    action: str
    outcome: str
    prev_hash: bytes
    hash: bytes = b""

    def canonical(self) -> bytes:
        """The fields the hash covers, in a fixed order and encoding."""
        at = self.occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds")
        fields = [
            str(self.tenant_id),
            self.seq,
            str(self.id),
            at,
            self.actor,
            str(self.process_id) if self.process_id else None,
            str(self.item_id) if self.item_id else None,
            self.kind,
            self.action,
            self.outcome,
        ]
        return msgspec.json.encode(fields)


def chain_hash(prev_hash: bytes, entry: AuditEntry) -> bytes:
    return hashlib.sha256(b"tila-content-audit|v1|" + prev_hash + entry.canonical()).digest()


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    entries: int
    broken_at: int | None = None
    """The sequence number where the chain first fails."""
    problem: str | None = None
    head: bytes | None = None
    """The last entry's hash: record it elsewhere, and a later check that ends on another head
    (or on fewer entries) shows that entries were cut off the end."""


def verify_chain(entries: Iterable[AuditEntry]) -> ChainCheck:
    """Check one tenant's entries, given in sequence order."""
    expected_prev, expected_seq, count = GENESIS, 1, 0
    for entry in entries:
        count += 1
        if entry.seq != expected_seq:
            return ChainCheck(False, count, entry.seq, f"entry {expected_seq} is missing")
        if entry.prev_hash != expected_prev:
            return ChainCheck(False, count, entry.seq, "does not follow the previous entry")
        if chain_hash(entry.prev_hash, entry) != entry.hash:
            return ChainCheck(False, count, entry.seq, "its fields were changed")
        expected_prev, expected_seq = entry.hash, expected_seq + 1
    return ChainCheck(True, count, head=expected_prev if count else None)
