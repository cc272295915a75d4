"""What tests/shared/test_db_isolation.py leaves to the catalogue (security research §1.2, §1.4 D):
every command the app role may run on a tenant table is covered by a policy that reads the tenant
setting; every SECURITY DEFINER function is one reviewed here; every view runs as its caller; no
table with rows of tenants (a ``tenant_id`` or ``*_tenant_id`` column) is left out of RLS.
"""

from __future__ import annotations

import asyncpg
import pytest

from shared.db.provision import DatabaseLayout
from tila.composition import SERVICES

COMMANDS = ("SELECT", "INSERT", "UPDATE", "DELETE")

PLATFORM_TABLES = frozenset({"outbox", "inbox", "dead_letter", "schema_migrations"})
"""The event plumbing (guarded by grants: the app role may only insert into the outbox) and the
migration ledger; tests/shared/test_db_isolation.py checks their grants."""

PUBLIC_TABLES = {
    ("orders", "provider_catalogue"): "public facts about provider tenants, readable by every tenant",
}
"""Tables with another tenant's rows on purpose, outside RLS; a new one fails until reviewed here."""

REVIEWED_SECURITY_DEFINER = {
    ("orders", "pass_order_offer"): (
        "passes a declined ranking offer to the next provider of the snapshotted lot; checks the"
        " caller's tenant is the order's current provider, executable only by the app role"
    ),
}
"""SECURITY DEFINER functions run with their owner's rights, around RLS: each is reviewed here."""

services = pytest.mark.parametrize("service", SERVICES)


async def _fetch(layout: DatabaseLayout, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(layout.owner_url)
    try:
        rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
        return rows
    finally:
        await conn.close()


_TENANT_TABLES = """
select distinct c.relname::text as table_name, c.relrowsecurity, c.relforcerowsecurity
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
where c.relkind in ('r', 'p') and n.nspname = 'public'
  and (a.attname = 'tenant_id' or a.attname like '%\\_tenant\\_id')
  and c.relname <> all($1::text[])
order by 1
"""


@services
async def test_every_table_holding_tenant_rows_has_forced_row_level_security(
    platform_databases: dict[str, DatabaseLayout], service: str
) -> None:
    """Wider than test_db_isolation's ``tenant_id`` rule: ``buyer_tenant_id``, ``provider_tenant_id``…"""
    layout = platform_databases[service]
    rows = await _fetch(layout, _TENANT_TABLES, sorted(PLATFORM_TABLES))
    unprotected = [
        r["table_name"]
        for r in rows
        if not (r["relrowsecurity"] and r["relforcerowsecurity"])
        and (service, r["table_name"]) not in PUBLIC_TABLES
        and not await _write_only_for_the_app(layout, r["table_name"])
    ]
    assert unprotected == []


async def _write_only_for_the_app(layout: DatabaseLayout, table: str) -> bool:
    """A queue the app role may only append to (like the outbox): it reads and changes nothing there."""
    rows = await _fetch(
        layout,
        "select bool_or(has_table_privilege($1, $2::regclass, c)) as any"
        " from unnest(array['SELECT', 'UPDATE', 'DELETE']) as c",
        layout.app,
        table,
    )
    return rows[0]["any"] is False


@services
async def test_every_command_the_app_role_may_run_on_a_tenant_table_has_a_tenant_policy(
    platform_databases: dict[str, DatabaseLayout], service: str
) -> None:
    layout = platform_databases[service]
    tables = [
        r["table_name"]
        for r in await _fetch(layout, _TENANT_TABLES, sorted(PLATFORM_TABLES))
        if (service, r["table_name"]) not in PUBLIC_TABLES
        and not await _write_only_for_the_app(layout, r["table_name"])
    ]
    gaps: list[str] = []
    for table in tables:
        policies = await _fetch(
            layout,
            "select cmd, roles::text[] as roles, permissive, qual, with_check from pg_policies"
            " where schemaname = 'public' and tablename = $1",
            table,
        )
        for command in COMMANDS:
            granted = await _fetch(
                layout, "select has_table_privilege($1, $2::regclass, $3) as ok", layout.app, table, command
            )
            if not granted[0]["ok"]:
                continue  # refused by grants: no policy needed
            covering = [
                p
                for p in policies
                if p["cmd"] in (command, "ALL")
                and p["permissive"] == "PERMISSIVE"
                and ({"public", layout.app} & set(p["roles"]))
            ]
            if not covering:
                gaps.append(f"{table}: {command} is granted to the app role but no policy covers it")
            for p in covering:
                expression = (
                    (p["with_check"] or p["qual"] or "") if command == "INSERT" else (p["qual"] or "")
                )
                if "app.tenant_id" not in expression and "current_setting" not in expression:
                    gaps.append(
                        f"{table}: the {p['cmd']} policy for {command} does not read the tenant setting"
                    )
    assert gaps == []


@services
async def test_security_definer_functions_are_the_reviewed_ones(
    platform_databases: dict[str, DatabaseLayout], service: str
) -> None:
    rows = await _fetch(
        platform_databases[service],
        """
        select p.proname::text as name from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where p.prosecdef and n.nspname not in ('pg_catalog', 'information_schema')
        order by 1
        """,
    )
    found = {(service, r["name"]) for r in rows}
    assert found == {key for key in REVIEWED_SECURITY_DEFINER if key[0] == service}


@services
async def test_security_definer_functions_pin_their_search_path(
    platform_databases: dict[str, DatabaseLayout], service: str
) -> None:
    """A definer function resolving names through the caller's search_path can be hijacked."""
    rows = await _fetch(
        platform_databases[service],
        """
        select p.proname::text as name, coalesce(p.proconfig, '{}')::text[] as config
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where p.prosecdef and n.nspname not in ('pg_catalog', 'information_schema')
        """,
    )
    unpinned = [r["name"] for r in rows if not any(c.startswith("search_path=") for c in r["config"])]
    assert unpinned == []


@services
async def test_views_run_with_their_callers_rights(
    platform_databases: dict[str, DatabaseLayout], service: str
) -> None:
    """A view owned by a privileged role reads around RLS unless it is ``security_invoker``."""
    rows = await _fetch(
        platform_databases[service],
        """
        select c.relname::text as name, coalesce(c.reloptions, '{}')::text[] as options
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('v', 'm') and n.nspname = 'public'
        """,
    )
    definer_views = [
        r["name"]
        for r in rows
        if not any(o in ("security_invoker=true", "security_invoker=on") for o in r["options"])
    ]
    assert definer_views == []


@services
async def test_no_role_but_the_owner_may_change_the_schema_or_disable_rls(
    platform_databases: dict[str, DatabaseLayout], service: str
) -> None:
    """Only a table's owner may ALTER it (and so turn RLS off): the app and relay roles own nothing
    and are no members of the owner role."""
    layout = platform_databases[service]
    rows = await _fetch(
        layout,
        "select pg_has_role($1, $3, 'MEMBER') as app_is_owner,"
        " pg_has_role($2, $3, 'MEMBER') as relay_is_owner",
        layout.app,
        layout.relay,
        layout.owner,
    )
    assert (rows[0]["app_is_owner"], rows[0]["relay_is_owner"]) == (False, False)
