"""The sessions service's ``tila`` command: verify a tenant's hash-chained content audit log."""

from __future__ import annotations

import argparse
import asyncio
import os
import uuid
from urllib.parse import urlsplit

import asyncpg

from shared.cli import CliError, Command, data_dir, pg_address, reason, role_secret, say

__all__ = ["commands"]


def commands() -> list[Command]:
    return [
        Command("audit-verify", "verify a tenant's hash-chained content audit log", _options, audit_verify)
    ]


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", required=True, help="tenant id")
    parser.add_argument(
        "--database-url", help="the sessions app role URL (default: TILA_SESSIONS_DATABASE_URL)"
    )


def audit_verify(args: argparse.Namespace) -> int:
    """Verify a tenant's content audit chain in the sessions database; exit 1 when it is broken."""
    from services.sessions.handlers.content import verify_audit
    from shared.db.pool import create_pool
    from shared.db.provision import DatabaseLayout

    url = args.database_url or os.environ.get("TILA_SESSIONS_DATABASE_URL")
    if not url:  # the embedded default: the app role of the local stack's sessions database
        host, port = pg_address(args)
        data = data_dir(args)
        if not os.environ.get("TILA_PG_ROLE_SECRET") and not (data / "role-secret").exists():
            raise CliError(f"no local stack in {data} — start it with `make run`, or give --database-url")
        pg = f"postgresql://{host}:{port}/postgres"
        url = DatabaseLayout(admin_url=pg, service="sessions", secret=role_secret(data)).app_url
    try:
        tenant = uuid.UUID(args.tenant)
    except ValueError:
        raise CliError(f"--tenant {args.tenant!r} is not a tenant id (a UUID)") from None
    where = urlsplit(url)
    database = f"PostgreSQL at {where.hostname}:{where.port or 5432}"

    async def check() -> tuple[bool, str]:
        try:
            pool = await create_pool(url, min_size=1, max_size=1)
        except (OSError, asyncpg.CannotConnectNowError) as exc:
            raise CliError(f"cannot reach {database} ({reason(exc)}) — is `make run` running?") from None
        except asyncpg.PostgresError as exc:
            raise CliError(f"{database} refused the sessions app role: {type(exc).__name__}") from None
        try:
            result = await verify_audit(pool, tenant)
        finally:
            await pool.close()
        if result.ok:
            head = result.head.hex() if result.head else "-"
            return True, f"content audit of {tenant}: {result.entries} entries, chain intact, head {head}"
        return False, f"content audit of {tenant}: BROKEN at entry {result.broken_at}: {result.problem}"

    ok, message = asyncio.run(check())
    say(message)
    return 0 if ok else 1
