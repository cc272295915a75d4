"""The event envelope (docs/architecture.md §5): what travels on NATS and sits in the outbox."""

from __future__ import annotations

import builtins
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Annotated, TypeVar

import msgspec

from shared.contracts import Event, event_class
from shared.ids import new_id
from shared.logging import current_traceparent

__all__ = ["Envelope", "decode_envelope", "encode_envelope", "envelope_for"]

E = TypeVar("E", bound=Event)


class Envelope(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: uuid.UUID
    """UUIDv7; also the ``Nats-Msg-Id`` and the consumers' inbox key."""
    type: str
    """``<service>.<aggregate>.<event>.v<N>``; equal to the NATS subject."""
    source: str
    occurred_at: dt.datetime
    tenant_ids: Annotated[tuple[uuid.UUID, ...], msgspec.Meta(min_length=1)]
    subject: str
    """The aggregate's id."""
    version: int
    """The aggregate's version after this event, so consumers can spot gaps."""
    traceparent: str | None = None
    data: msgspec.Raw

    def event(self) -> Event:
        """Decode ``data`` into the registered Struct for ``type``."""
        return msgspec.json.decode(self.data, type=event_class(self.type))

    def event_as(self, cls: builtins.type[E]) -> E:
        """Decode ``data`` as ``cls``, which must be the class registered for ``type``."""
        if cls.event_type != self.type:
            raise TypeError(f"{self.type} is not {cls.event_type}")
        return msgspec.json.decode(self.data, type=cls)


def envelope_for(
    event: Event,
    *,
    source: str,
    subject: uuid.UUID | str,
    version: int,
    tenant_ids: Sequence[uuid.UUID],
    traceparent: str | None = None,
    occurred_at: dt.datetime | None = None,
) -> Envelope:
    if not tenant_ids:
        raise ValueError("an event belongs to at least one tenant")
    return Envelope(
        id=new_id(),
        type=event.event_type,
        source=source,
        occurred_at=occurred_at or dt.datetime.now(dt.UTC),
        tenant_ids=tuple(tenant_ids),
        subject=str(subject),
        version=version,
        traceparent=traceparent or current_traceparent(),
        data=msgspec.Raw(msgspec.json.encode(event)),
    )


_decoder = msgspec.json.Decoder(Envelope)


def encode_envelope(envelope: Envelope) -> bytes:
    return msgspec.json.encode(envelope)


def decode_envelope(payload: bytes) -> Envelope:
    return _decoder.decode(payload)
