"""Time-ordered identifiers (UUIDv7) for rows and events."""

from __future__ import annotations

import uuid

import uuid_utils

__all__ = ["new_id"]


def new_id() -> uuid.UUID:
    """Return a new UUIDv7 as a standard-library UUID (sortable by creation time)."""
    return uuid.UUID(bytes=uuid_utils.uuid7().bytes)
