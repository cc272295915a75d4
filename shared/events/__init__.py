"""Events between services: envelope, streams, transactional outbox and idempotent consumers."""

from pathlib import Path

from shared.db.migrate import MigrationSource
from shared.events.consumer import EventConsumer, On, PermanentEventError, on
from shared.events.envelope import Envelope, decode_envelope, encode_envelope, envelope_for
from shared.events.nats import connect_nats
from shared.events.outbox import OutboxRelay, add_to_outbox
from shared.events.streams import STREAMS, ConsumerSpec, StreamSpec, ensure_consumer, ensure_stream

MIGRATIONS = MigrationSource("events", Path(__file__).parent / "migrations")
"""The outbox, inbox and dead-letter tables; every service applies these before its own."""

__all__ = [
    "MIGRATIONS",
    "STREAMS",
    "ConsumerSpec",
    "Envelope",
    "EventConsumer",
    "On",
    "OutboxRelay",
    "PermanentEventError",
    "StreamSpec",
    "add_to_outbox",
    "connect_nats",
    "decode_envelope",
    "encode_envelope",
    "ensure_consumer",
    "ensure_stream",
    "envelope_for",
    "on",
]
