"""Outbox throughput: how fast committed events reach JetStream, against raw publishing.

Measured in one run on the same servers:
  baseline  ``publish_async`` of N envelopes straight to JetStream (no database at all)
  relay     the N committed rows drained by :class:`OutboxRelay` (select, publish, mark)
  write     N events written through ``add_to_outbox``, one transaction per event, 8 writers
  consume   an idempotent consumer applying what is in the stream (the baseline's N and the
            relay's N events: 2N), an inbox row per event, one transaction per fetched batch
  e2e       write + relay + consumer at once, all in this one Python process, until the last
            event is applied

Usage: ``python -m bench.outbox_throughput [--events 20000]``; results are appended to
``bench/results/outbox_throughput.md``. Uses the embedded servers unless TILA_PG_ADMIN_URL /
TILA_NATS_URL are set.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import ClassVar

import asyncpg

from shared.contracts import Event, register
from shared.db.migrate import migrate
from shared.db.pool import create_pool
from shared.db.provision import DatabaseLayout, drop_database, provision_database
from shared.db.tenant import tenant_transaction
from shared.embedded import servers
from shared.events import (
    MIGRATIONS,
    STREAMS,
    ConsumerSpec,
    Envelope,
    EventConsumer,
    OutboxRelay,
    StreamSpec,
    add_to_outbox,
    connect_nats,
    encode_envelope,
    ensure_stream,
    envelope_for,
    on,
)

PRODUCER = "bench"
STREAM = StreamSpec(name="BENCH", subjects=("bench.>",))
RESULTS = Path(__file__).parent / "results" / "outbox_throughput.md"


@register
class Measured(Event, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "bench.sample.measured.v1"
    aggregate: ClassVar[str] = "sample"

    seq: int
    amount_cents: int


def _envelopes(n: int, tenant: uuid.UUID) -> list[Envelope]:
    return [
        envelope_for(
            Measured(seq=i, amount_cents=i * 10),
            source=PRODUCER,
            subject=str(i),
            version=1,
            tenant_ids=[tenant],
        )
        for i in range(n)
    ]


async def _timed(label: str, n: int, fn: Callable[[], Awaitable[None]], results: dict[str, float]) -> None:
    started = time.perf_counter()
    await fn()
    elapsed = time.perf_counter() - started
    results[label] = n / elapsed
    print(f"{label:<9} {n:>7} events in {elapsed:6.2f} s = {n / elapsed:>9,.0f} events/s", flush=True)


async def run(n: int, admin_url: str, nats_url: str) -> dict[str, float]:
    STREAMS[PRODUCER] = STREAM
    layout = DatabaseLayout(admin_url=admin_url, service=f"bench_{uuid.uuid4().hex[:6]}")
    await provision_database(layout)
    await migrate(layout.owner_url, [MIGRATIONS])
    nc = await connect_nats(nats_url, name="bench")
    js = nc.jetstream()
    await ensure_stream(js, STREAM)
    pool = await create_pool(layout.app_url, max_size=8)
    tenant = uuid.uuid4()
    results: dict[str, float] = {}
    try:
        baseline_envelopes = _envelopes(n, tenant)

        async def baseline() -> None:
            futures = [
                await js.publish_async(e.type, encode_envelope(e), headers={"Nats-Msg-Id": str(e.id)})
                for e in baseline_envelopes
            ]
            await asyncio.gather(*futures)

        await _timed("baseline", n, baseline, results)

        async def write_one(envelope: Envelope) -> None:
            async with tenant_transaction(pool, tenant) as conn:
                await add_to_outbox(conn, PRODUCER, envelope)

        async def write_all(envelopes: list[Envelope]) -> None:
            # Eight concurrent writers, one transaction per event, as eight API requests would.
            for chunk in range(0, len(envelopes), 8):
                await asyncio.gather(*(write_one(e) for e in envelopes[chunk : chunk + 8]))

        pending = _envelopes(n, tenant)
        await _timed("write", n, lambda: write_all(pending), results)

        async def relay_drain() -> None:
            relay = OutboxRelay(service=PRODUCER, dsn=layout.relay_url, nats=nc)
            conn = await asyncpg.connect(layout.relay_url)
            try:
                while await relay.publish_batch(conn):
                    pass
            finally:
                await conn.close()

        await _timed("relay", n, relay_drain, results)

        async def noop(_conn: asyncpg.Connection, _envelope: Envelope, _data: Measured) -> None:
            return None

        async def consume() -> None:
            spec = ConsumerSpec(consumer="benchconsume", producer=PRODUCER)
            consumer = EventConsumer(
                spec=spec, pool=pool, nats=nc, handlers=[on(Measured, noop)], batch_size=500
            )
            task = asyncio.create_task(consumer.run())
            try:
                while consumer.applied < 2 * n:
                    await asyncio.sleep(0.02)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

        await _timed("consume", 2 * n, consume, results)
        await js.purge_stream(STREAM.name)
        spec = ConsumerSpec(consumer="benche2e", producer=PRODUCER)

        async def e2e() -> None:
            relay = OutboxRelay(service=PRODUCER, dsn=layout.relay_url, nats=nc, poll_interval=0.05)
            consumer = EventConsumer(
                spec=spec, pool=pool, nats=nc, handlers=[on(Measured, noop)], batch_size=500
            )
            tasks = [asyncio.create_task(relay.run()), asyncio.create_task(consumer.run())]
            try:
                await write_all(_envelopes(n, tenant))
                while consumer.applied < n:
                    await asyncio.sleep(0.05)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

        await _timed("e2e", n, e2e, results)
    finally:
        await pool.close()
        await nc.close()
        await drop_database(layout)
    return results


def _record(n: int, results: dict[str, float], command: str) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    base = results["baseline"]
    lines = [
        f"## {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC — {n} events, "
        f"{platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "",
        f"Command: `{command}`",
        "",
        "| measure | events/s | ratio to baseline |",
        "|---|---:|---:|",
    ]
    lines += [f"| {k} | {v:,.0f} | {v / base:.2f} |" for k, v in results.items()]
    lines.append("")
    with RESULTS.open("a") as out:
        if out.tell() == 0:
            out.write(
                "# Outbox throughput\n\nSee `bench/outbox_throughput.py` for what each line measures.\n\n"
            )
        out.write("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=20000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="tila-bench-"))
    root.chmod(0o755)  # under root, PostgreSQL runs as an unprivileged user
    try:
        with servers(root) as running:
            results = asyncio.run(run(args.events, running.pg_admin_url, running.nats_url))
        _record(args.events, results, "python -m bench.outbox_throughput " + " ".join(sys.argv[1:]))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
