"""Use cases of the content wall: write, read, list, change, share, approve, consent.

Each runs in one tenant transaction and appends an audit entry in it; a refusal (403, 404, 410,
409, 412, 422) rolls the transaction back and is then audited in a transaction of its own, so
every attempt is on record. Plaintext exists only in memory between the cipher and the caller,
and no error message, log line or event carries it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from services.sessions.adapters.crypto import (
    ContentKeyring,
    DataKey,
    DecryptionFailed,
    WrappedKey,
    open_field,
    seal_field,
)
from services.sessions.domain.audit import Action, ChainCheck, Outcome, verify_chain
from services.sessions.domain.content import (
    ContentItem,
    ContentRuleBroken,
    Phase,
    check_body,
    check_new_item,
    every_participant,
)
from services.sessions.domain.visibility import (
    Caller,
    ContentKind,
    ProcessParties,
    Relation,
    may_read,
    may_update,
    may_write,
    read_scope,
    relation_of,
)
from services.sessions.errors import PreconditionRequired
from services.sessions.store import audit as audit_store
from services.sessions.store import content as store
from shared import approvers
from shared.auth.principal import APPROVER, BUYER_ADMIN, Principal
from shared.db.tenant import tenant_transaction
from shared.errors import (
    DomainError,
    Forbidden,
    NotFound,
    check_version,
)
from shared.http.pagination import decode_cursor, encode_cursor
from shared.ids import new_id
from shared.logging import get_logger

__all__ = [
    "ContentShredded",
    "ContentStatus",
    "ContentUnreadable",
    "approve_summary",
    "content_status",
    "create_item",
    "get_item",
    "list_items",
    "rewrap_keys",
    "set_goal_consent",
    "share_reflection",
    "update_item",
    "verify_audit",
]

log = get_logger(__name__)

TABLE = "content_items"
FIELD = "body"


class ContentShredded(DomainError):
    """The process's retention period ended and its data key was destroyed."""

    status, slug, title = 410, "gone", "Gone"


class ContentUnreadable(DomainError):
    """A stored ciphertext or key did not authenticate (tampered, moved, or a retired keyring key)."""

    status, slug, title = 500, "content-unreadable", "Internal server error"


@dataclass(frozen=True)
class ContentStatus:
    process_id: uuid.UUID
    relation: Relation
    goals_shared_with_employer: bool
    consented: frozenset[uuid.UUID]
    shredded: bool


def _caller(principal: Principal) -> Caller:
    try:
        person_id: uuid.UUID | None = uuid.UUID(principal.subject)
    except ValueError:
        person_id = None
    return Caller(
        person_id=person_id,
        tenant_id=principal.tenant_id,
        roles=principal.roles,
        is_client=principal.is_client,
    )


def _outcome_of(exc: DomainError) -> Outcome:
    if isinstance(exc, Forbidden):
        return Outcome.DENIED
    if isinstance(exc, NotFound):
        return Outcome.NOT_FOUND
    if isinstance(exc, ContentShredded):
        return Outcome.GONE
    if isinstance(exc, ContentUnreadable):
        return Outcome.FAILED
    return Outcome.REJECTED


@dataclass
class _Audit:
    """What the audit entry of one use case says; filled in as the use case learns it."""

    process_id: uuid.UUID
    action: Action
    item_id: uuid.UUID | None = None
    kind: str | None = None


@asynccontextmanager
async def _audited(
    pool: asyncpg.Pool, principal: Principal, record: _Audit
) -> AsyncIterator[asyncpg.Connection]:
    """The use case's tenant transaction, ending with its audit entry; refusals (and any other
    failure, as ``failed``) audited apart after the rollback."""
    try:
        async with tenant_transaction(pool, principal.tenant_id) as conn:
            yield conn
            await _append(conn, principal, record, Outcome.ALLOWED)
    except DomainError as exc:
        async with tenant_transaction(pool, principal.tenant_id) as conn:
            await _append(conn, principal, record, _outcome_of(exc))
        raise
    except Exception as exc:  # anything else failed too: the attempt is still on record
        try:
            async with tenant_transaction(pool, principal.tenant_id) as conn:
                await _append(conn, principal, record, Outcome.FAILED)
        except Exception as audit_exc:  # never hide the original failure behind the audit's own
            log.warning(
                "content_audit_failed",
                error_type=type(audit_exc).__qualname__,
                after=type(exc).__qualname__,
            )
        raise


async def _append(conn: asyncpg.Connection, principal: Principal, record: _Audit, outcome: Outcome) -> None:
    await audit_store.append_entry(
        conn,
        principal.tenant_id,
        actor=principal.subject,
        process_id=record.process_id,
        item_id=record.item_id,
        kind=record.kind,
        action=record.action.value,
        outcome=outcome.value,
    )


async def _parties(conn: asyncpg.Connection, process_id: uuid.UUID) -> ProcessParties:
    parties = await store.fetch_parties(conn, process_id)  # RLS: another tenant's process is absent
    if parties is None:
        raise NotFound("no such process")
    return parties


async def _relation(
    conn: asyncpg.Connection, principal: Principal, process_id: uuid.UUID
) -> tuple[ProcessParties, Relation, uuid.UUID]:
    parties = await _parties(conn, process_id)
    caller = _caller(principal)
    if APPROVER in caller.roles and caller.person_id is not None:
        held = await approvers.assigned_cost_centres(conn, caller.tenant_id, caller.person_id)
        caller = dataclasses.replace(caller, approver_of=held)
    relation = relation_of(caller, parties)
    if relation is Relation.NONE or caller.person_id is None:
        # As for the process's frame: whoever is not related to it does not learn it exists.
        raise NotFound("no such process")
    return parties, relation, caller.person_id


async def _data_key(
    conn: asyncpg.Connection, keyring: ContentKeyring, parties: ProcessParties, *, create: bool
) -> DataKey | None:
    """The process's data key (made on first write); None when it has none yet; 410 if shredded."""
    row = await store.fetch_key(conn, parties.process_id)
    if row is None and create:
        _, wrapped = keyring.new_data_key(parties.provider_id, parties.process_id)
        await store.insert_key(
            conn,
            tenant_id=parties.provider_id,
            process_id=parties.process_id,
            buyer_id=parties.buyer_id,
            key_id=wrapped.key_id,
            wrapped_key=wrapped.wrapped,
        )
        row = await store.fetch_key(conn, parties.process_id)  # another request may have won
    if row is None:
        return None
    if row.wrapped_key is None:
        raise ContentShredded("the retention period of this process ended; its content was destroyed")
    try:
        return keyring.unwrap(
            WrappedKey(row.key_id, row.wrapped_key), parties.provider_id, parties.process_id
        )
    except DecryptionFailed:
        raise ContentUnreadable("the content of this process cannot be decrypted") from None


def _decrypt(data_key: DataKey, row: store.ItemRow) -> ContentItem:
    try:
        body = open_field(data_key, TABLE, row.id, FIELD, row.body, kind=row.kind, owner_id=row.owner_id)
    except DecryptionFailed:
        log.warning("content_item_unreadable", process_id=str(row.process_id), item_id=str(row.id))
        raise ContentUnreadable("this item cannot be decrypted") from None
    return ContentItem(
        item_id=row.id,
        process_id=row.process_id,
        kind=ContentKind(row.kind),
        phase=Phase(row.phase) if row.phase else None,
        owner_id=row.owner_id,
        body=body,
        shared_with_supervisor=row.shared_with_supervisor,
        approved_by=row.approved_by,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        session_id=row.session_id,
    )


def _as_seen_by(relation: Relation, item: ContentItem) -> ContentItem:
    """The employer does not learn who wrote an item or who approved it: those are participants."""
    if relation is Relation.EMPLOYER:
        return dataclasses.replace(item, participants_hidden=True)
    return item


# --- use cases ---


async def create_item(
    pool: asyncpg.Pool,
    keyring: ContentKeyring,
    principal: Principal,
    process_id: uuid.UUID,
    *,
    kind: ContentKind,
    phase: Phase | None,
    body: str,
    session_id: uuid.UUID | None = None,
) -> ContentItem:
    record = _Audit(process_id, Action.CREATE, item_id=new_id(), kind=kind.value)
    assert record.item_id is not None
    async with _audited(pool, principal, record) as conn:
        parties, relation, person_id = await _relation(conn, principal, process_id)
        if not may_write(relation, kind):
            raise Forbidden(f"a {relation.value} does not write {kind.value} items")
        check_new_item(kind, phase, body)  # ContentRuleBroken: a 422 on body.<field>
        if session_id is not None and not await store.session_in_process(conn, session_id, process_id):
            raise ContentRuleBroken("sessionId", "not a session of this process")
        data_key = await _data_key(conn, keyring, parties, create=True)
        assert data_key is not None
        row = await store.insert_item(
            conn,
            item_id=record.item_id,
            parties=parties,
            kind=kind,
            phase=phase.value if phase else None,
            owner_id=person_id,
            body=seal_field(
                data_key, TABLE, record.item_id, FIELD, body, kind=kind.value, owner_id=person_id
            ),
            at=dt.datetime.now(dt.UTC),
            session_id=session_id,
        )
        if kind is ContentKind.GOAL:
            await store.clear_goal_consents(conn, process_id)  # consent was to the goals as they were
        return _decrypt(data_key, row)
    raise AssertionError("unreachable")  # pragma: no cover (the context manager re-raises)


async def _visible_item(
    conn: asyncpg.Connection,
    principal: Principal,
    record: _Audit,
    item_id: uuid.UUID,
    *,
    lock: bool = False,
) -> tuple[ProcessParties, Relation, uuid.UUID, store.ItemRow]:
    """The item if the caller may read it; the query itself applies the visibility rule."""
    parties, relation, person_id = await _relation(conn, principal, record.process_id)
    row = await store.fetch_visible_item(
        conn,
        record.process_id,
        item_id,
        scope=read_scope(relation),
        relation=relation,
        person_id=person_id,
        tenant_id=principal.tenant_id,
        employer_tenant_wide=BUYER_ADMIN in principal.roles,
        lock=lock,
    )
    if row is None:
        meta = await store.fetch_item_meta(conn, record.process_id, item_id)
        if meta is None:
            raise NotFound("no such content item in this process")
        record.kind = meta[0]
        raise Forbidden("this item is not visible to the caller")
    record.kind = row.kind
    return parties, relation, person_id, row


async def get_item(
    pool: asyncpg.Pool,
    keyring: ContentKeyring,
    principal: Principal,
    process_id: uuid.UUID,
    item_id: uuid.UUID,
) -> ContentItem:
    record = _Audit(process_id, Action.READ, item_id=item_id)
    async with _audited(pool, principal, record) as conn:
        parties, relation, person_id, row = await _visible_item(conn, principal, record, item_id)
        data_key = await _data_key(conn, keyring, parties, create=False)
        assert data_key is not None  # an item exists, so its key does
        item = _decrypt(data_key, row)
        consents = await store.fetch_key(conn, process_id)
        # The same rule once more, in the domain's words, on what the query returned.
        if not may_read(
            relation,
            item.kind,
            own=item.owner_id == person_id,
            shared_with_supervisor=item.shared_with_supervisor,
            goals_consented=consents is not None
            and every_participant(parties.participants, consents.goal_consents),
            summary_approved=every_participant(parties.participants, item.approved_by),
            written_by_supervisor=item.owner_id == parties.supervisor_id,
        ):
            raise Forbidden("this item is not visible to the caller")
        return _as_seen_by(relation, item)
    raise AssertionError("unreachable")  # pragma: no cover


async def list_items(
    pool: asyncpg.Pool,
    keyring: ContentKeyring,
    principal: Principal,
    process_id: uuid.UUID,
    *,
    kind: ContentKind | None,
    cursor: str | None,
    limit: int,
    session_id: uuid.UUID | None = None,
) -> tuple[list[ContentItem], str | None]:
    """The items of a process the caller may read, oldest first; each one read is audited."""
    after = decode_cursor(cursor, dt.datetime, uuid.UUID) if cursor else None
    record = _Audit(process_id, Action.LIST, kind=kind.value if kind else None)
    async with _audited(pool, principal, record) as conn:
        parties, relation, person_id = await _relation(conn, principal, process_id)
        scope = read_scope(relation)
        data_key = await _data_key(conn, keyring, parties, create=False)
        if data_key is None:
            return [], None
        rows = await store.list_visible_items(
            conn,
            process_id,
            scope=scope,
            relation=relation,
            person_id=person_id,
            tenant_id=principal.tenant_id,
            kind=kind,
            after=(after[0], after[1]) if after else None,
            limit=limit + 1,
            session_id=session_id,
            employer_tenant_wide=BUYER_ADMIN in principal.roles,
        )
        items = [_as_seen_by(relation, _decrypt(data_key, row)) for row in rows[:limit]]
        for item in items:
            await _append(
                conn,
                principal,
                _Audit(process_id, Action.READ, item.item_id, item.kind.value),
                Outcome.ALLOWED,
            )
        next_cursor = (
            encode_cursor(items[-1].created_at.isoformat(), str(items[-1].item_id))
            if len(rows) > limit
            else None
        )
        return items, next_cursor
    raise AssertionError("unreachable")  # pragma: no cover


async def update_item(
    pool: asyncpg.Pool,
    keyring: ContentKeyring,
    principal: Principal,
    process_id: uuid.UUID,
    item_id: uuid.UUID,
    *,
    body: str,
    expected_version: int | None,
) -> ContentItem:
    """The author rewrites an item; a changed summary needs every participant's approval again, and
    changed goals every participant's consent again."""
    record = _Audit(process_id, Action.UPDATE, item_id=item_id)
    async with _audited(pool, principal, record) as conn:
        parties, relation, person_id, row = await _visible_item(conn, principal, record, item_id, lock=True)
        kind = ContentKind(row.kind)
        if not may_update(relation, kind, own=row.owner_id == person_id):
            raise Forbidden("only an item's author changes it")
        check_version(row.version, expected_version, what="item")
        check_body(body)
        data_key = await _data_key(conn, keyring, parties, create=False)
        assert data_key is not None
        updated = await store.update_item_body(
            conn,
            item_id,
            seal_field(data_key, TABLE, item_id, FIELD, body, kind=row.kind, owner_id=row.owner_id),
            reset_approvals=kind is ContentKind.SUMMARY,
            at=dt.datetime.now(dt.UTC),
        )
        if kind is ContentKind.GOAL:
            await store.clear_goal_consents(conn, process_id)  # consent was to the goals as they were
        return _decrypt(data_key, updated)
    raise AssertionError("unreachable")  # pragma: no cover


async def share_reflection(
    pool: asyncpg.Pool,
    keyring: ContentKeyring,
    principal: Principal,
    process_id: uuid.UUID,
    item_id: uuid.UUID,
    *,
    shared: bool,
    expected_version: int | None = None,
) -> ContentItem:
    """A participant shows (or hides again) one of their reflections to the supervisor."""
    record = _Audit(process_id, Action.SHARE, item_id=item_id)
    async with _audited(pool, principal, record) as conn:
        parties, relation, person_id, row = await _visible_item(conn, principal, record, item_id, lock=True)
        if (
            row.kind != ContentKind.REFLECTION
            or relation is not Relation.PARTICIPANT
            or row.owner_id != person_id
        ):
            raise Forbidden("only a participant shares their own reflections")
        check_version(row.version, expected_version, what="reflection")
        data_key = await _data_key(conn, keyring, parties, create=False)
        assert data_key is not None
        return _decrypt(data_key, await store.set_shared_with_supervisor(conn, item_id, shared))
    raise AssertionError("unreachable")  # pragma: no cover


async def approve_summary(
    pool: asyncpg.Pool,
    keyring: ContentKeyring,
    principal: Principal,
    process_id: uuid.UUID,
    item_id: uuid.UUID,
    *,
    expected_version: int | None,
) -> ContentItem:
    """A participant approves the summary as it is now; the employer reads it once all have."""
    record = _Audit(process_id, Action.APPROVE, item_id=item_id)
    async with _audited(pool, principal, record) as conn:
        parties, relation, person_id, row = await _visible_item(conn, principal, record, item_id, lock=True)
        if row.kind != ContentKind.SUMMARY or relation is not Relation.PARTICIPANT:
            raise Forbidden("only participants approve a summary")
        if expected_version is None:  # an approval is of the version read, never of whatever is there
            raise PreconditionRequired("approve the summary you read: send its ETag as If-Match")
        check_version(row.version, expected_version, what="summary")
        data_key = await _data_key(conn, keyring, parties, create=False)
        assert data_key is not None
        return _decrypt(data_key, await store.add_approval(conn, item_id, person_id))
    raise AssertionError("unreachable")  # pragma: no cover


async def set_goal_consent(
    pool: asyncpg.Pool, keyring: ContentKeyring, principal: Principal, process_id: uuid.UUID, *, consent: bool
) -> ContentStatus:
    """A participant agrees (or no longer agrees) that the employer may read the process's goals."""
    record = _Audit(process_id, Action.CONSENT, kind=ContentKind.GOAL.value)
    async with _audited(pool, principal, record) as conn:
        parties, relation, person_id = await _relation(conn, principal, process_id)
        if relation is not Relation.PARTICIPANT:
            raise Forbidden("only participants decide whether the goals are shown to the employer")
        await _data_key(conn, keyring, parties, create=True)
        await store.fetch_key(conn, process_id, lock=True)
        consents = await store.set_goal_consent(conn, process_id, person_id, consent)
        return ContentStatus(
            process_id=process_id,
            relation=relation,
            goals_shared_with_employer=every_participant(parties.participants, consents),
            consented=consents,
            shredded=False,
        )
    raise AssertionError("unreachable")  # pragma: no cover


async def content_status(pool: asyncpg.Pool, principal: Principal, process_id: uuid.UUID) -> ContentStatus:
    """Whether the goals are shared with the employer and whether the content still exists."""
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        parties, relation, _ = await _relation(conn, principal, process_id)
        row = await store.fetch_key(conn, process_id)
    consents = row.goal_consents if row else frozenset()
    return ContentStatus(
        process_id=process_id,
        relation=relation,
        goals_shared_with_employer=every_participant(parties.participants, consents),
        consented=consents if relation is not Relation.EMPLOYER else frozenset(),
        shredded=row is not None and row.shredded_at is not None,
    )


async def verify_audit(pool: asyncpg.Pool, tenant_id: uuid.UUID) -> ChainCheck:
    """Check a tenant's audit chain: an edited, removed or reordered entry breaks it."""
    async with tenant_transaction(pool, tenant_id) as conn:
        entries = await audit_store.fetch_chain(conn, tenant_id)
    return verify_chain(entries)


async def rewrap_keys(
    pool: asyncpg.Pool, keyring: ContentKeyring, tenant_id: uuid.UUID, *, batch: int = 500
) -> int:
    """Key rotation: re-wrap the tenant's data keys under the newest keyring key (content untouched).

    Afterwards the older keyring keys can be retired. Returns how many keys moved.
    """
    moved = 0
    while True:
        async with tenant_transaction(pool, tenant_id) as conn:
            rows = await store.keys_not_wrapped_by(conn, tenant_id, keyring.primary_id, limit=batch)
            for row in rows:
                assert row.wrapped_key is not None
                wrapped = keyring.rewrap(
                    WrappedKey(row.key_id, row.wrapped_key), row.tenant_id, row.process_id
                )
                await store.rewrap_key(conn, row.process_id, wrapped.key_id, wrapped.wrapped)
        moved += len(rows)
        if len(rows) < batch:
            return moved
