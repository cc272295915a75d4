"""The audit chain as a pure function: every change to an entry, and every gap, is found."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

from services.sessions.domain.audit import GENESIS, AuditEntry, chain_hash, verify_chain

TENANT = uuid.uuid4()


def _chain(n: int) -> list[AuditEntry]:
    entries, prev = [], GENESIS
    for seq in range(1, n + 1):
        entry = AuditEntry(
            tenant_id=TENANT,
            seq=seq,
            id=uuid.uuid4(),
            occurred_at=dt.datetime(2026, 3, 2, 9, seq, tzinfo=dt.UTC),
            actor=str(uuid.uuid4()),
            process_id=uuid.uuid4(),
            item_id=uuid.uuid4() if seq % 2 else None,
            kind="shared_note",
            action="read",
            outcome="allowed",
            prev_hash=prev,
        )
        entry = dataclasses.replace(entry, hash=chain_hash(prev, entry))
        entries.append(entry)
        prev = entry.hash
    return entries


def test_an_untouched_chain_verifies() -> None:
    assert verify_chain(_chain(5)).ok
    assert verify_chain([]).ok


def test_an_edited_field_is_found_where_it_was_edited() -> None:
    edits: list[dict[str, Any]] = [
        {"outcome": "denied"},
        {"actor": "someone"},
        {"kind": "summary"},
        {"item_id": None},
    ]
    for field in edits:
        entries = _chain(5)
        entries[2] = dataclasses.replace(entries[2], **field)
        check = verify_chain(entries)
        assert not check.ok, field
        assert check.broken_at == 3, field


def test_a_removed_entry_is_found() -> None:
    entries = _chain(5)
    del entries[1]
    check = verify_chain(entries)
    assert not check.ok
    assert check.broken_at == 3
    assert check.problem == "entry 2 is missing"


def test_a_rehashed_edit_still_breaks_the_next_link() -> None:
    entries = _chain(4)
    edited = dataclasses.replace(entries[1], outcome="denied")
    entries[1] = dataclasses.replace(edited, hash=chain_hash(edited.prev_hash, edited))
    check = verify_chain(entries)
    assert not check.ok
    assert check.broken_at == 3


def test_the_head_names_the_last_entry_so_a_cut_off_end_can_be_noticed() -> None:
    entries = _chain(4)
    assert verify_chain(entries).head == entries[-1].hash
    shortened = verify_chain(entries[:3])
    assert shortened.ok
    assert shortened.head != entries[-1].hash
    assert verify_chain([]).head is None
