"""Invoice run at scale: N billable items of one provider gathered into drafts, issued, and one
invoice's UBL streamed — time and peak memory of each step.

Measured on one migrated billing database (as the app role, in the provider's tenant scope, exactly
as the service runs it):
  seed     N items inserted set-based (generate_series) for 100 (buyer, cost centre) groups in
           one month — not part of the run: the baseline, the cost of writing the items once
           (the "run ÷ seed" column says how many such writes the run costs)
  run      the invoice run: drafts per group, items assigned, totals and VAT per rate (one
           transaction, three set-based statements)
  issue    every draft issued, one transaction each (numbers from the locked counter)
  stream   every issued invoice's Peppol BIS 3.0 UBL produced from a server-side cursor and
           counted chunk by chunk, never held whole; peak Python memory meanwhile by tracemalloc

Peak RSS of the process (``resource.getrusage``) is given at the end.

Usage: ``python -m bench.invoice_run --items 10000 100000``; results are appended to
``bench/results/invoice_run.md``. Uses the embedded servers unless TILA_PG_ADMIN_URL /
TILA_NATS_URL are set.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

import asyncpg

from services.billing import MIGRATIONS, handlers
from shared.auth.principal import Principal
from shared.db.migrate import migrate
from shared.db.pool import create_pool
from shared.db.provision import DatabaseLayout, drop_database, provision_database
from shared.db.tenant import tenant_transaction
from shared.embedded import servers
from tests.factories import business_id, iban, ovt, vat_id

RESULTS = Path(__file__).parent / "results" / "invoice_run.md"
GROUPS = 100
BUYERS = 20


async def _seed_parties(pool: asyncpg.Pool, provider: uuid.UUID, buyers: list[uuid.UUID]) -> list[uuid.UUID]:
    """The seller's and buyers' invoicing facts and one order per (buyer, cost centre) group."""
    cost_centres = [uuid.uuid4() for _ in range(GROUPS // BUYERS)]
    for tenant, kind in [(provider, "provider"), *[(b, "buyer") for b in buyers]]:
        y = business_id()
        async with tenant_transaction(pool, tenant) as conn:
            await conn.execute(
                "insert into billing_parties (tenant_id, name, kind, business_id, vat_id, street, postcode,"
                " city, country, e_invoice_scheme, e_invoice_address, iban, bic, version)"
                " values ($1, $2, $3, $4, $5, 'Katu 1', '00100', 'Helsinki', 'FI', 'ovt', $6, $7, $8, 1)",
                tenant,
                f"{kind} {tenant.hex[:6]}",
                kind,
                y,
                vat_id(y),
                ovt(y),
                iban() if kind == "provider" else None,
                "NDEAFIHH" if kind == "provider" else None,
            )
    async with tenant_transaction(pool, provider) as conn:
        for buyer in buyers:
            for cost_centre in cost_centres:
                await conn.execute(
                    "insert into billing_orders (tenant_id, buyer_tenant_id, order_id, agreement_id,"
                    " agreement_number, cost_centre_id, payment_terms_days, status, version)"
                    " values ($1, $2, $3, $4, 'PIR-1', $5, 14, 'active', 1)",
                    provider,
                    buyer,
                    uuid.uuid4(),
                    buyer,  # one agreement per buyer: its id is the buyer's, for brevity
                    cost_centre,
                )
    return cost_centres


_SEED_UUID_V7 = """
create or replace function pg_temp.seed_uuid_v7() returns uuid language sql volatile as $$
  select encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
    placing substring(int8send(floor(extract(epoch from clock_timestamp()) * 1000)::bigint) from 3)
    from 1 for 6), 52, 1), 53, 1), 'hex')::uuid
$$
"""


async def _seed_items(
    pool: asyncpg.Pool, provider: uuid.UUID, buyers: list[uuid.UUID], cost_centres: list[uuid.UUID], n: int
) -> None:
    async with tenant_transaction(pool, provider) as conn:
        # Items are time-ordered (UUIDv7) in production, from shared.ids one event at a time; the
        # bench makes a million at once in SQL with a session-local stand-in of the same layout.
        await conn.execute(_SEED_UUID_V7)
        await conn.execute(
            """
            insert into billable_items (tenant_id, buyer_tenant_id, item_id, session_id, order_id,
              agreement_id, cost_centre_id, kind, form, mode, starts_at, service_date, billing_month,
              duration_minutes, unit, quantity, unit_code, base_quantity, list_price_cents, charge_percent,
              unit_price, net_cents, vat_rate, participant_count, attended_count)
            select $1, a.buyer, pg_temp.seed_uuid_v7(), gen_random_uuid(), o.order_id, a.buyer, a.cost_centre,
                   'held', 'group', 'remote', a.t, (a.t at time zone 'Europe/Helsinki')::date,
                   date '2025-03-01',
                   90, 'per_hour', 1.5, 'HUR', 1, a.cents, 100, a.cents / 100.0, a.cents * 3 / 2, 25.5, 5, 4
            from generate_series(1, $2) g
            cross join lateral (
              select ($3::uuid[])[1 + (g % $5)] as buyer,
                     ($4::uuid[])[1 + ((g / $5) % $6)] as cost_centre,
                     timestamptz '2025-03-01 07:00+00' + make_interval(days => g % 28) as t,
                     12000 + (g % 7) * 100 as cents
            ) a
            join billing_orders o on o.buyer_tenant_id = a.buyer and o.cost_centre_id = a.cost_centre
            """,
            provider,
            n,
            buyers,
            cost_centres,
            len(buyers),
            len(cost_centres),
        )


async def run(n: int, admin_url: str) -> dict[str, float]:
    layout = DatabaseLayout(admin_url=admin_url, service=f"bench_billing_{uuid.uuid4().hex[:6]}")
    await provision_database(layout)
    await migrate(layout.owner_url, MIGRATIONS)
    pool = await create_pool(layout.app_url, max_size=4)
    results: dict[str, float] = {}
    try:
        provider = uuid.uuid4()
        buyers = [uuid.uuid4() for _ in range(BUYERS)]
        admin = Principal(subject=str(uuid.uuid4()), tenant_id=provider, roles=frozenset({"provider_admin"}))
        cost_centres = await _seed_parties(pool, provider, buyers)

        started = time.perf_counter()
        await _seed_items(pool, provider, buyers, cost_centres, n)
        results["seed_s"] = time.perf_counter() - started

        started = time.perf_counter()
        drafts = await handlers.run_invoices(pool, admin, None)
        results["run_s"] = time.perf_counter() - started
        results["drafts"] = len(drafts)
        assert sum(d.item_count for d in drafts) == n, "every item lands on exactly one draft"

        started = time.perf_counter()
        for draft in drafts:
            await handlers.issue_invoice(pool, admin, draft.invoice_id, expected_version=None)
        results["issue_s"] = time.perf_counter() - started

        # Every issued invoice's UBL, one after the other, counted and dropped chunk by chunk.
        tracemalloc.start()
        started = time.perf_counter()
        written = 0
        for draft in drafts:
            header, lines_of = await handlers.open_document(pool, admin, draft.invoice_id)
            async for chunk in handlers.document_chunks(pool, provider, header, lines_of):
                written += len(chunk)
        results["stream_s"] = time.perf_counter() - started
        results["stream_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        results["stream_largest"] = max(d.item_count for d in drafts)
        results["stream_mib"] = written / 2**20
    finally:
        await pool.close()
        await drop_database(layout)
    return results


def _record(sizes: list[int], measured: dict[int, dict[str, float]], command: str, rss_mib: float) -> None:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## {now} — {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "",
        f"Command: `{command}`",
        "",
        "| items | seed s (baseline) | run s | run ÷ seed | run items/s | drafts | issue s"
        " | largest invoice (lines) | UBL MiB | stream s | stream peak MiB (tracemalloc) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in sizes:
        r = measured[n]
        lines.append(
            f"| {n:,} | {r['seed_s']:.2f} | {r['run_s']:.2f} | {r['run_s'] / r['seed_s']:.1f}"
            f" | {n / r['run_s']:,.0f} | {int(r['drafts'])}"
            f" | {r['issue_s']:.2f} | {int(r['stream_largest']):,} | {r['stream_mib']:.1f}"
            f" | {r['stream_s']:.2f}"
            f" | {r['stream_peak_mib']:.2f} |"
        )
    lines += ["", f"Peak RSS of the benchmark process: {rss_mib:.0f} MiB.", ""]
    with RESULTS.open("a") as out:
        if out.tell() == 0:
            out.write("# Invoice run\n\nSee `bench/invoice_run.py` for what each column measures.\n\n")
        out.write("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--items", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="tila-bench-"))
    root.chmod(0o755)  # under root, PostgreSQL runs as an unprivileged user
    measured: dict[int, dict[str, float]] = {}
    try:
        with servers(root) as running:
            for n in args.items:
                measured[n] = asyncio.run(run(n, running.pg_admin_url))
                print(n, measured[n], flush=True)
        rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        _record(args.items, measured, "python -m bench.invoice_run " + " ".join(sys.argv[1:]), rss_mib)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
