"""Content of a supervision process: its kinds, their rules, and what the employer may see.

The text itself never leaves the sessions service unencrypted except in answers to those the
visibility rules admit (``visibility.py``); no message here ever repeats it.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from dataclasses import dataclass

from services.sessions.domain.visibility import ContentKind
from shared.errors import RuleBroken

__all__ = [
    "EVALUATION_KINDS",
    "MAX_BODY_CHARS",
    "ContentItem",
    "ContentRuleBroken",
    "Phase",
    "check_new_item",
    "every_participant",
    "summary_approved",
]

MAX_BODY_CHARS = 20_000
EVALUATION_KINDS = frozenset({ContentKind.PARTICIPANT_EVALUATION, ContentKind.SUPERVISOR_EVALUATION})


class Phase(enum.StrEnum):
    MID = "mid"
    FINAL = "final"


class ContentRuleBroken(RuleBroken):
    """A rule about content said no; ``field`` names the body field (the message holds no content)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(field, message, location="body")


@dataclass(frozen=True)
class ContentItem:
    """One item of content; ``body`` is plaintext only in memory, after an allowed read."""

    item_id: uuid.UUID
    process_id: uuid.UUID
    kind: ContentKind
    phase: Phase | None
    owner_id: uuid.UUID
    body: str
    shared_with_supervisor: bool
    approved_by: frozenset[uuid.UUID]
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    session_id: uuid.UUID | None = None
    """The session of the process the item belongs to, if any."""
    participants_hidden: bool = False
    """Read by the employer: who wrote it and who approved it are not shown (they name participants)."""

    def __repr__(self) -> str:  # never print the body
        return f"ContentItem(id={self.item_id}, kind={self.kind}, version={self.version})"


def check_new_item(kind: ContentKind, phase: Phase | None, body: str) -> None:
    """An evaluation names its phase (mid or final); nothing else has one; the body is not empty."""
    if kind in EVALUATION_KINDS and phase is None:
        raise ContentRuleBroken("phase", "an evaluation is either mid or final")
    if kind not in EVALUATION_KINDS and phase is not None:
        raise ContentRuleBroken("phase", "only evaluations have a phase")
    check_body(body)


def check_body(body: str) -> None:
    if not body.strip():
        raise ContentRuleBroken("body", "must not be empty")
    if len(body) > MAX_BODY_CHARS:
        raise ContentRuleBroken("body", f"at most {MAX_BODY_CHARS} characters")


def every_participant(participants: frozenset[uuid.UUID], agreed: frozenset[uuid.UUID]) -> bool:
    """True when each participant is among ``agreed`` (a process without participants never is)."""
    return bool(participants) and participants <= agreed


def summary_approved(participants: frozenset[uuid.UUID], item: ContentItem) -> bool:
    return item.kind is ContentKind.SUMMARY and every_participant(participants, item.approved_by)
