"""The outbox benchmark still runs end to end (a handful of events; the figures are bench/'s job)."""

from __future__ import annotations

import pytest

from bench.outbox_throughput import run
from shared.events import STREAMS
from shared.testing.plugin import Stack


async def test_the_outbox_benchmark_measures_every_stage(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(STREAMS, "bench", STREAMS.get("bench", STREAMS["orders"]))  # restored after the test
    results = await run(50, stack.pg_admin_url, stack.nats_url)
    assert set(results) == {"baseline", "write", "relay", "consume", "e2e"}
    assert all(rate > 0 for rate in results.values())
