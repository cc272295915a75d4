"""Streams and durable consumers declared as data, and applied idempotently at start-up."""

from __future__ import annotations

import os

import msgspec
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

__all__ = ["STREAMS", "ConsumerSpec", "StreamSpec", "ensure_consumer", "ensure_stream", "stream_of"]


class StreamSpec(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    subjects: tuple[str, ...]
    max_age_seconds: float = 365 * 24 * 3600
    """A consumer added later rebuilds its read models from here; a backfill takes over beyond."""
    duplicate_window_seconds: float = 10 * 60


class ConsumerSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A durable pull consumer ``<consumer>__<producer>`` with explicit ack."""

    consumer: str
    producer: str
    filter_subjects: tuple[str, ...] = ()
    max_deliver: int = 5
    """Deliveries before the consumer dead-letters a failing message. The server itself
    redelivers without limit, so an outage of the database can never make it give up."""
    ack_wait_seconds: float = 30
    nak_backoff_seconds: tuple[float, ...] = (0.2, 1, 5, 30, 120)
    max_ack_pending: int = 1000

    @property
    def durable(self) -> str:
        return f"{self.consumer}__{self.producer}"

    @property
    def stream(self) -> str:
        return stream_of(self.producer).name


STREAMS: dict[str, StreamSpec] = {
    producer: StreamSpec(name=producer.upper(), subjects=(f"{producer}.>",))
    for producer in ("organisations", "orders", "sessions", "billing")
}


def stream_of(producer: str) -> StreamSpec:
    return STREAMS[producer]


def _replicas() -> int:
    # 1 locally; 3 in production (deploy/nats/nats-server.conf).
    return int(os.environ.get("TILA_STREAM_REPLICAS", "1"))


async def ensure_stream(js: JetStreamContext, spec: StreamSpec) -> None:
    config = StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=spec.max_age_seconds,
        duplicate_window=spec.duplicate_window_seconds,
        num_replicas=_replicas(),
    )
    try:
        existing = await js.stream_info(spec.name)
    except NotFoundError:
        await js.add_stream(config)
        return
    # Never scale a stream down because one process started without the production setting.
    config.num_replicas = max(config.num_replicas or 1, existing.config.num_replicas or 1)
    await js.update_stream(config)


async def ensure_consumer(js: JetStreamContext, spec: ConsumerSpec) -> None:
    """Declare the durable consumer; the stream is its producer's to create (and may not exist yet:
    the caller retries). A consumer never changes another service's stream."""
    await js.stream_info(spec.stream)
    config = ConsumerConfig(
        durable_name=spec.durable,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=spec.ack_wait_seconds,
        max_deliver=-1,
        max_ack_pending=spec.max_ack_pending,
        filter_subjects=list(spec.filter_subjects) or None,
    )
    await js.add_consumer(spec.stream, config)
