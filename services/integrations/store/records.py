"""What the integrations store answers: typed rows (never ``asyncpg.Record``) for the handlers,
the delivery loop and the API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

import asyncpg
import msgspec

__all__ = [
    "Delivery",
    "DeliveryStatus",
    "DueEndpoint",
    "Endpoint",
    "FeedEntry",
    "PendingDelivery",
    "SealedSecrets",
    "delivery_of",
    "endpoint_of",
]


DeliveryStatus = Literal["pending", "delivered", "dead"]


class FeedEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of a tenant's public feed: its position and the public event (JSON text)."""

    position: int
    body: str


class Endpoint(msgspec.Struct, frozen=True, kw_only=True):
    """A webhook endpoint; the sealed secrets only when asked for (``with_secrets``)."""

    endpoint_id: uuid.UUID
    url: str
    event_types: list[str]
    created_at: dt.datetime
    version: int
    previous_secret_expires_at: dt.datetime | None
    sealed: SealedSecrets | None = None
    """Only when fetched ``with_secrets``."""

    def secrets(self) -> SealedSecrets:
        """The sealed secrets (the endpoint must have been fetched ``with_secrets``)."""
        if self.sealed is None:
            raise ValueError("the endpoint was read without its secrets")
        return self.sealed


class SealedSecrets(msgspec.Struct, frozen=True, kw_only=True):
    """An endpoint's signing secrets as stored: sealed under the keyring's key ``key_id``."""

    key_id: str
    secret: bytes
    previous: bytes | None


def endpoint_of(row: asyncpg.Record) -> Endpoint:
    return Endpoint(
        endpoint_id=row["endpoint_id"],
        url=row["url"],
        event_types=list(row["event_types"]),
        created_at=row["created_at"],
        version=row["version"],
        previous_secret_expires_at=row["previous_secret_expires_at"],
        sealed=SealedSecrets(
            key_id=row["secret_key_id"], secret=row["secret_sealed"], previous=row["previous_secret_sealed"]
        )
        if "secret_sealed" in row.keys()  # noqa: SIM118 - an asyncpg.Record's keys are its columns
        else None,
    )


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    """A delivery of one event to one endpoint, as its owner reads it."""

    delivery_id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    event_time: dt.datetime
    status: DeliveryStatus
    attempts: int
    first_attempt_at: dt.datetime | None
    next_attempt_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: dt.datetime | None
    created_at: dt.datetime


def delivery_of(row: asyncpg.Record) -> Delivery:
    return Delivery(
        delivery_id=row["delivery_id"],
        endpoint_id=row["endpoint_id"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        event_time=row["event_time"],
        status=row["status"],
        attempts=row["attempts"],
        first_attempt_at=row["first_attempt_at"],
        next_attempt_at=row["next_attempt_at"],
        last_attempt_at=row["last_attempt_at"],
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        delivered_at=row["delivered_at"],
        created_at=row["created_at"],
    )


class DueEndpoint(msgspec.Struct, frozen=True, kw_only=True):
    endpoint_id: uuid.UUID
    tenant_id: uuid.UUID


class PendingDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """The head of an endpoint's line, as the delivery loop sends it."""

    delivery_id: uuid.UUID
    event_id: uuid.UUID
    body: str
    attempts: int
    first_attempt_at: dt.datetime | None
    next_attempt_at: dt.datetime
