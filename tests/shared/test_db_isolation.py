"""The tenant wall: row-level security and role privileges in every real service database."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import asyncpg
import pytest
import pytest_asyncio

from shared.db.pool import create_pool
from shared.db.provision import DatabaseLayout
from shared.db.tenant import set_tenant, tenant_transaction
from tests.factories import business_id

# content_retention_queue: like the outbox, ids and a time for a cross-tenant job, read only by
# the relay role (sessions/migrations/0010_content.sql).
PLATFORM_TABLES = frozenset(
    {"outbox", "inbox", "dead_letter", "schema_migrations", "content_retention_queue"}
)

# Every table with a tenant_id column outside PLATFORM_TABLES, per service. A new tenant table
# makes test_every_tenant_table_is_covered fail until it is added here with a row builder.
TENANT_TABLES = (
    ("organisations", "tenants"),
    ("organisations", "org_units"),
    ("organisations", "cost_centres"),
    ("organisations", "cost_centre_approvers"),
    ("organisations", "people"),
    ("organisations", "supervisor_profiles"),
    ("organisations", "refresh_tokens"),
    ("organisations", "machine_clients"),
    ("organisations", "identity_providers"),
    ("organisations", "login_attempts"),
    ("organisations", "identities"),
    ("organisations", "invitations"),
    ("organisations", "identity_audit"),
    ("orders", "tenant_directory"),
    ("orders", "known_cost_centres"),
    ("orders", "approver_directory"),
    ("orders", "known_people"),
    ("orders", "known_supervisors"),
    ("orders", "framework_agreements"),
    ("orders", "supervision_orders"),
    ("orders", "idempotent_requests"),
    ("orders", "order_number_counters"),
    ("sessions", "tenant_directory"),
    ("sessions", "processes"),
    ("sessions", "sessions"),
    ("sessions", "session_busy"),
    ("sessions", "idempotent_requests"),
    ("sessions", "content_keys"),
    ("sessions", "content_items"),
    ("sessions", "content_audit"),
    ("sessions", "content_retention"),
    ("sessions", "approver_directory"),
    ("billing", "tenant_directory"),
    ("billing", "billing_orders"),
    ("billing", "billing_parties"),
    ("billing", "billing_cost_centres"),
    ("billing", "approver_directory"),
    ("billing", "buyer_invoicing"),
    ("billing", "invoices"),
    ("billing", "invoice_counters"),
    ("billing", "billable_items"),
    ("billing", "credit_note_lines"),
    ("billing", "idempotent_requests"),
    ("integrations", "tenant_directory"),
    ("integrations", "event_feed"),
    ("integrations", "feed_heads"),
    ("integrations", "hr_people"),
    ("integrations", "cost_centre_codes"),
    ("integrations", "tenant_settings"),
    ("integrations", "webhook_endpoints"),
    ("integrations", "webhook_deliveries"),
    ("integrations", "webhook_schedule"),
)

_DISCOVER_TENANT_TABLES = """
select c.relname::text as table_name
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped
where c.relkind in ('r', 'p')
  and n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname not like 'pg\\_%'
  and c.relname <> all($1::text[])
order by 1
"""


@dataclass(frozen=True)
class Row:
    """An insert statement whose first parameter is the tenant id, and its other parameters."""

    sql: str
    args: tuple[object, ...]


def _tenant_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        "insert into tenants (tenant_id, name, kind, business_id) values ($1, $2, 'buyer', $3)",
        (f"Hyvinvointialue {tenant_id.hex[:6]}", business_id()),
    )


# A tenant's inner rows reference their tenant (and each other): each builder inserts what its row
# needs in common table expressions, so the whole row is still one statement scoped by RLS.
# Parameters: $1 tenant id, $2 kind, $3 business id, then the builder's own.
_OWN_TENANT = """
with t as (
  insert into tenants (tenant_id, name, kind, business_id) values ($1, 'Tenant', $2, $3) returning tenant_id
)"""
_OWN_UNIT = """,
u as (insert into org_units (tenant_id, org_unit_id, name) select tenant_id, $4, 'Yksikkö' from t
      returning tenant_id, org_unit_id)"""


def _org_unit_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        _OWN_TENANT
        + " insert into org_units (tenant_id, org_unit_id, name) select tenant_id, $4, 'Yksikkö' from t",
        ("buyer", business_id(), uuid.uuid4()),
    )


def _cost_centre_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        _OWN_TENANT
        + _OWN_UNIT
        + """
        insert into cost_centres (tenant_id, cost_centre_id, org_unit_id, code, name, yearly_budget_cents)
        select tenant_id, $5, org_unit_id, '4100', 'Lastensuojelu', 100000 from u
        """,
        ("buyer", business_id(), uuid.uuid4(), uuid.uuid4()),
    )


def _person_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        _OWN_TENANT
        + """
        insert into people (tenant_id, person_id, name, email, roles)
        select tenant_id, $4, 'Maija Meikäläinen', 'maija@example.fi', array['employee'] from t
        """,
        ("buyer", business_id(), uuid.uuid4()),
    )


def _approver_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        _OWN_TENANT
        + _OWN_UNIT
        + """,
        p as (insert into people (tenant_id, person_id, name, email, roles)
              select tenant_id, $5, 'Esihenkilö', 'e@example.fi', array['approver'] from t
              returning person_id),
        c as (insert into cost_centres
                (tenant_id, cost_centre_id, org_unit_id, code, name, yearly_budget_cents)
              select tenant_id, $6, org_unit_id, '4100', 'Lastensuojelu', 100000 from u
              returning tenant_id, cost_centre_id)
        insert into cost_centre_approvers (tenant_id, cost_centre_id, person_id)
        select c.tenant_id, c.cost_centre_id, p.person_id from c, p
        """,
        ("buyer", business_id(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()),
    )


def _supervisor_profile_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        _OWN_TENANT
        + """,
        p as (insert into people (tenant_id, person_id, name, email, roles)
              select tenant_id, $4, 'Ohjaaja', 'o@example.fi', array['supervisor'] from t
              returning tenant_id, person_id)
        insert into supervisor_profiles (tenant_id, person_id, languages)
        select tenant_id, person_id, '{fi}' from p
        """,
        ("provider", business_id(), uuid.uuid4()),
    )


def _directory_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        "insert into tenant_directory (tenant_id, name, kind, business_id, version)"
        " values ($1, $2, 'provider', $3, 1)",
        (f"Työnohjaus {tenant_id.hex[:6]} Oy", business_id()),
    )


def _event_feed_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        "insert into event_feed (tenant_id, position, event_id, type, subject, occurred_at, body)"
        " values ($1, $2, $3, $4, $5, $6, '{}')",
        (
            random.randrange(1, 2**62),
            uuid.uuid4(),
            "fi.tila.order.approved.v1",
            str(uuid.uuid4()),
            dt.datetime.now(dt.UTC),
        ),
    )


def _feed_head_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        "insert into feed_heads (tenant_id, position) values ($1, $2) on conflict (tenant_id) do nothing",
        (1,),
    )


def _refresh_token_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        "insert into refresh_tokens (tenant_id, token_hash, family_id, subject, roles, scopes, expires_at)"
        " values ($1, $2, $3, $4, $5, $6, now() + interval '1 day')",
        (uuid.uuid4().bytes, uuid.uuid4(), "someone", ["employee"], []),
    )


def _machine_client_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        "insert into machine_clients (tenant_id, client_id, name, secret_hash, scopes, created_by)"
        " values ($1, $2, $3, $4, $5, $6)",
        (uuid.uuid4(), "Palkka-järjestelmä", uuid.uuid4().bytes, ["events:read"], "admin"),
    )


def _identity_provider_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        "insert into identity_providers"
        " (tenant_id, issuer, client_id, client_secret_ref, scopes, provisioning)"
        " values ($1, $2, 'tila', 'env:X', array['openid'], 'pre_provisioned') on conflict do nothing",
        (f"https://idp.example/{uuid.uuid4().hex[:6]}",),
    )


def _login_attempt_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        "insert into login_attempts"
        " (tenant_id, state, issuer, nonce, code_verifier, redirect_uri, expires_at) values"
        " ($1, $2, 'https://idp.example', 'n', 'v', 'https://tila.example/cb', now() + interval '5 minutes')",
        (uuid.uuid4().hex,),
    )


def _identity_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        _OWN_TENANT
        + """,
        p as (insert into people (tenant_id, person_id, name, email, roles)
              select tenant_id, $4, 'Liisa', 'liisa@example.fi', array['employee'] from t
              returning tenant_id, person_id)
        insert into identities (tenant_id, issuer, subject, person_id)
        select tenant_id, 'https://idp.example', $5, person_id from p
        """,
        ("buyer", business_id(), uuid.uuid4(), uuid.uuid4().hex),
    )


def _invitation_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        _OWN_TENANT
        + """,
        p as (insert into people (tenant_id, person_id, name, email, roles)
              select tenant_id, $4, 'Iida', 'iida@example.fi', array['buyer_admin'] from t
              returning tenant_id, person_id)
        insert into invitations (tenant_id, invitation_id, person_id, secret_hash, purpose, created_by,
                                 expires_at)
        select tenant_id, $5, person_id, $6, 'first_admin', 'user:platform', now() + interval '1 day' from p
        """,
        ("buyer", business_id(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4().bytes),
    )


def _identity_audit_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        _OWN_TENANT
        + """,
        p as (insert into people (tenant_id, person_id, name, email, roles)
              select tenant_id, $4, 'Aino', 'aino@example.fi', array['employee'] from t
              returning tenant_id, person_id)
        insert into identity_audit (tenant_id, person_id, action, actor)
        select tenant_id, person_id, 'email_changed', 'user:admin' from p
        """,
        ("buyer", business_id(), uuid.uuid4()),
    )


def _known_cost_centre_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        "insert into known_cost_centres"
        " (tenant_id, cost_centre_id, code, name, yearly_budget_cents, active, version)"
        " values ($1, $2, '4100', 'Lastensuojelu', 100000, true, 1)",
        (uuid.uuid4(),),
    )


def _approver_directory_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        "insert into approver_directory (tenant_id, cost_centre_id, person_id, assigned, version)"
        " values ($1, $2, $3, true, 1)",
        (uuid.uuid4(), uuid.uuid4()),
    )


def _known_person_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        "insert into known_people (tenant_id, person_id, roles, hr_employee_number, active, version)"
        " values ($1, $2, array['approver'], 'H123', true, 1)",
        (uuid.uuid4(),),
    )


def _known_supervisor_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        "insert into known_supervisors (tenant_id, person_id, forms, languages, regions, delivery_modes,"
        " available, qualifications, version)"
        " values ($1, $2, array['individual'], array['fi'], array['Pohjois-Savo'], array['remote'],"
        " true, '[]'::jsonb, 1)",
        (uuid.uuid4(),),
    )


def _framework_agreement_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        "insert into framework_agreements (tenant_id, agreement_id, number, title, status, starts_on,"
        " first_term_ends_on, hard_end_on, lots, price_items, cancellation, provider_ids, version)"
        " values ($1, $2, $3, 'Työnohjauspalvelut', 'draft', date '2026-01-01', date '2027-12-31',"
        " date '2029-12-31', '[]'::jsonb, '[]'::jsonb, '{}'::jsonb, array[]::uuid[], 1)",
        (uuid.uuid4(), f"PIR-{uuid.uuid4().hex[:8]}"),
    )


def _supervision_order_row(tenant_id: uuid.UUID) -> Row:
    # provider_tenant_id: some other tenant (the provider an order was offered to).
    return Row(
        "insert into supervision_orders (tenant_id, order_id, provider_tenant_id, cost_centre_id, status,"
        " starts_on, doc, version) values ($1, $2, $3, $4, 'offered', date '2026-01-01', '{}'::jsonb, 1)",
        (uuid.uuid4(), uuid.uuid4(), uuid.uuid4()),
    )


def _idempotent_request_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        "insert into idempotent_requests (tenant_id, subject, key, request_hash, response)"
        " values ($1, $2, $3, 'h', '{}'::jsonb)",
        (str(uuid.uuid4()), uuid.uuid4().hex),
    )


_PROCESS_COLUMNS = (
    "tenant_id, id, order_id, provider_id, supervisor_id, participants, cost_centre_id, agreement_id,"
    " form, planned_sessions, status, doc, version"
)


def _process_row(tenant_id: uuid.UUID) -> Row:
    # provider_id: some other tenant (the provider of the accepted order).
    return Row(
        f"insert into processes ({_PROCESS_COLUMNS})"
        " values ($1, $2, $3, $4, $5, array[$5]::uuid[], $6, $7, 'individual', 10, 'open', '{}'::jsonb, 1)",
        (uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()),
    )


def _session_row(tenant_id: uuid.UUID) -> Row:
    # The session's process, shared with the same provider, is inserted in the same statement.
    return Row(
        f"with p as (insert into processes ({_PROCESS_COLUMNS})"
        " values ($1, $2, $3, $4, $5, array[$5]::uuid[], $6, $7, 'individual', 10, 'open', '{}'::jsonb, 1)"
        " returning id)"
        " insert into sessions (tenant_id, id, process_id, provider_id, status, starts_at, duration_minutes,"
        " doc, version) select $1, $8, p.id, $4, 'scheduled', now(), 90, '{}'::jsonb, 1 from p",
        (
            uuid.uuid4(),
            uuid.uuid4(),
            uuid.uuid4(),
            uuid.uuid4(),
            uuid.uuid4(),
            uuid.uuid4(),
            uuid.uuid4(),
        ),
    )


def _session_busy_row(tenant_id: uuid.UUID) -> Row:
    # Nobody inserts here but the sessions trigger: a session with one person (its supervisor,
    # also its participant) makes one row.
    return _session_row(tenant_id)


# Content rows belong to the provider (tenant_id) and are shared with the buyer (buyer_id); the
# process they hang on is inserted in the same statement, with this tenant as its provider.
_CONTENT_PROCESS = (
    f"with p as (insert into processes ({_PROCESS_COLUMNS})"
    " values ($2, $3, $4, $1, $5, array[$5]::uuid[], $6, $7, 'individual', 10, 'open', '{}'::jsonb, 1)"
    " returning id, tenant_id),"
    " k as (insert into content_keys (tenant_id, process_id, buyer_id, key_id, wrapped_key)"
    " select $1, p.id, p.tenant_id, 'k1', '\\x00'::bytea from p returning process_id, buyer_id)"
)


def _content_key_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        _CONTENT_PROCESS + " select 1",
        (uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()),
    )


def _content_item_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        _CONTENT_PROCESS
        + " insert into content_items (tenant_id, buyer_id, id, process_id, kind, owner_id, body)"
        " select $1, k.buyer_id, $8, k.process_id, 'private_note', $5, '\\x01'::bytea from k",
        (uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()),
    )


def _content_audit_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        "insert into content_audit (tenant_id, seq, id, occurred_at, actor, action, outcome, prev_hash, hash)"
        " values ($1, 1, $2, now(), 'someone', 'read', 'denied', '\\x00'::bytea, '\\x00'::bytea)",
        (uuid.uuid4(),),
    )


def _hr_person_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        "insert into hr_people (tenant_id, person_id, hr_employee_number, active, version)"
        " values ($1, $2, 'H-1001', true, 1)",
        (uuid.uuid4(),),
    )


def _content_retention_row(tenant_id: uuid.UUID) -> Row:
    return Row("insert into content_retention (tenant_id, months) values ($1, 12)", ())


def _cost_centre_code_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        "insert into cost_centre_codes (tenant_id, cost_centre_id, code, version) values ($1, $2, '4100', 1)",
        (uuid.uuid4(),),
    )


def _tenant_settings_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        "insert into tenant_settings (tenant_id, working_time_reason_code) values ($1, $2)"
        " on conflict (tenant_id) do nothing",
        ("TYONOHJAUS",),
    )


_OWN_ENDPOINT = """
with e as (
  insert into webhook_endpoints (tenant_id, endpoint_id, url, event_types, secret_key_id, secret_sealed)
  values ($1, $2, 'https://hr.example/hooks', array['fi.tila.order.approved.v1'], 'k1', '\\x01'::bytea)
  returning tenant_id, endpoint_id
)"""


def _webhook_endpoint_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        "insert into webhook_endpoints"
        " (tenant_id, endpoint_id, url, event_types, secret_key_id, secret_sealed) values"
        " ($1, $2, 'https://hr.example/hooks', array['fi.tila.order.approved.v1'], 'k1', '\\x01'::bytea)",
        (uuid.uuid4(),),
    )


def _webhook_delivery_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        _OWN_ENDPOINT
        + """
        insert into webhook_deliveries
          (tenant_id, delivery_id, endpoint_id, event_id, event_type, event_time, position, body)
        select tenant_id, $3, endpoint_id, $4, 'fi.tila.order.approved.v1', now(), 1, '{}' from e
        """,
        (uuid.uuid4(), uuid.uuid4(), uuid.uuid4()),
    )


def _webhook_schedule_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        _OWN_ENDPOINT + " insert into webhook_schedule (endpoint_id, tenant_id, due_at)"
        " select endpoint_id, tenant_id, now() from e",
        (uuid.uuid4(),),
    )


# --- billing: shared rows carry the provider in tenant_id and the buyer in buyer_tenant_id ---


def _billing_order_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        "insert into billing_orders (tenant_id, buyer_tenant_id, order_id, agreement_id, cost_centre_id,"
        " status, version) values ($1, $2, $3, $4, $5, 'offered', 1)",
        (uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()),
    )


def _billing_party_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        "insert into billing_parties (tenant_id, name, kind, business_id, version)"
        " values ($1, 'Työnohjaus Oy', 'provider', $2, 1)",
        (business_id(),),
    )


def _billing_cost_centre_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        "insert into billing_cost_centres (tenant_id, cost_centre_id, code, name, version)"
        " values ($1, $2, '4100', 'Lastensuojelu', 1)",
        (uuid.uuid4(),),
    )


def _buyer_invoicing_row(tenant_id: uuid.UUID) -> Row:
    return Row("insert into buyer_invoicing (tenant_id, per_order) values ($1, true)", ())


def _invoice_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        "insert into invoices (tenant_id, buyer_tenant_id, invoice_id, kind, status, agreement_id,"
        " cost_centre_id, billing_month) values ($1, $2, $3, 'invoice', 'draft', $4, $5, date '2026-01-01')",
        (uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()),
    )


def _invoice_counter_row(tenant_id: uuid.UUID) -> Row:
    return Row("insert into invoice_counters (tenant_id, last_sequence) values ($1, 1)", ())


def _order_number_counter_row(tenant_id: uuid.UUID) -> Row:
    return Row("insert into order_number_counters (tenant_id, year, last_number) values ($1, 2027, 1)", ())


def _billable_item_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        "insert into billable_items (tenant_id, buyer_tenant_id, item_id, session_id, order_id, agreement_id,"
        " cost_centre_id, kind, form, mode, starts_at, service_date, billing_month, duration_minutes, unit,"
        " quantity, unit_code, base_quantity, list_price_cents, charge_percent, unit_price, net_cents,"
        " vat_rate, participant_count, attended_count) values ($1, $2, $3, $4, $5, $6, $7, 'held', 'group',"
        " 'remote', now(), current_date, date_trunc('month', current_date)::date, 90, 'per_session', 1,"
        " 'C62', 1, 15000, 100, 150, 15000, 25.5, 5, 4)",
        (uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()),
    )


_BILLING_INVOICE = """
with inv as (
  insert into invoices (tenant_id, buyer_tenant_id, invoice_id, kind, status, agreement_id, cost_centre_id,
    billing_month)
  values ($1, $2, $3, 'invoice', 'draft', $4, $5, date '2026-01-01') returning tenant_id, invoice_id
)"""


def _credit_note_line_row(tenant_id: uuid.UUID) -> Row:
    return Row(
        _BILLING_INVOICE
        + """, item as (
          insert into billable_items (tenant_id, buyer_tenant_id, item_id, session_id, order_id,
            agreement_id, cost_centre_id, kind, form, mode, starts_at, service_date, billing_month,
            duration_minutes, unit, quantity, unit_code, base_quantity, list_price_cents, charge_percent,
            unit_price, net_cents, vat_rate, participant_count, attended_count)
          values ($1, $2, $6, $7, $8, $4, $5, 'held', 'group', 'remote', now(), current_date,
            date_trunc('month', current_date)::date, 90, 'per_session', 1, 'C62', 1, 15000, 100, 150,
            15000, 25.5, 5, 4)
          returning item_id
        )
        insert into credit_note_lines (tenant_id, buyer_tenant_id, credit_note_id, credited_invoice_id,
          item_id, correction, quantity, unit_price, net_cents)
        select $1, $2, inv.invoice_id, inv.invoice_id, item.item_id, 'full', 1, 150, 15000 from inv, item""",
        (uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()),
    )


ROW_BUILDERS: dict[str, Callable[[uuid.UUID], Row]] = {
    "identity_providers": _identity_provider_row,
    "login_attempts": _login_attempt_row,
    "identities": _identity_row,
    "invitations": _invitation_row,
    "identity_audit": _identity_audit_row,
    "refresh_tokens": _refresh_token_row,
    "machine_clients": _machine_client_row,
    "tenants": _tenant_row,
    "org_units": _org_unit_row,
    "cost_centres": _cost_centre_row,
    "cost_centre_approvers": _approver_row,
    "people": _person_row,
    "supervisor_profiles": _supervisor_profile_row,
    "tenant_directory": _directory_row,
    "event_feed": _event_feed_row,
    "feed_heads": _feed_head_row,
    "known_cost_centres": _known_cost_centre_row,
    "approver_directory": _approver_directory_row,
    "known_people": _known_person_row,
    "known_supervisors": _known_supervisor_row,
    "framework_agreements": _framework_agreement_row,
    "supervision_orders": _supervision_order_row,
    "idempotent_requests": _idempotent_request_row,
    "order_number_counters": _order_number_counter_row,
    "processes": _process_row,
    "sessions": _session_row,
    "session_busy": _session_busy_row,
    "content_keys": _content_key_row,
    "content_items": _content_item_row,
    "content_audit": _content_audit_row,
    "content_retention": _content_retention_row,
    "hr_people": _hr_person_row,
    "cost_centre_codes": _cost_centre_code_row,
    "tenant_settings": _tenant_settings_row,
    "webhook_endpoints": _webhook_endpoint_row,
    "webhook_deliveries": _webhook_delivery_row,
    "webhook_schedule": _webhook_schedule_row,
    "billing_orders": _billing_order_row,
    "billing_parties": _billing_party_row,
    "billing_cost_centres": _billing_cost_centre_row,
    "buyer_invoicing": _buyer_invoicing_row,
    "invoices": _invoice_row,
    "invoice_counters": _invoice_counter_row,
    "billable_items": _billable_item_row,
    "credit_note_lines": _credit_note_line_row,
}

tenant_tables = pytest.mark.parametrize(
    ("service", "table"), TENANT_TABLES, ids=[f"{s}.{t}" for s, t in TENANT_TABLES]
)


@pytest_asyncio.fixture(scope="module")
async def app_pools(platform_databases: dict[str, DatabaseLayout]) -> AsyncIterator[dict[str, asyncpg.Pool]]:
    """One small pool per service database, logged in as the app role (as the services are)."""
    pools = {
        service: await create_pool(layout.app_url, max_size=2)
        for service, layout in platform_databases.items()
    }
    yield pools
    for pool in pools.values():
        await pool.close()


async def _insert_as_tenant(pool: asyncpg.Pool, table: str, tenant_id: uuid.UUID) -> None:
    row = ROW_BUILDERS[table](tenant_id)
    async with tenant_transaction(pool, tenant_id) as conn:
        await conn.execute(row.sql, tenant_id, *row.args)


async def _tenant_ids_seen(pool: asyncpg.Pool, table: str, tenant_id: uuid.UUID) -> list[uuid.UUID]:
    async with tenant_transaction(pool, tenant_id) as conn:
        rows = await conn.fetch(f"select tenant_id from {table}")
    return [r["tenant_id"] for r in rows]


@dataclass(frozen=True)
class TwoTenants:
    a: uuid.UUID
    b: uuid.UUID


async def _two_tenants_with_rows(pool: asyncpg.Pool, table: str) -> TwoTenants:
    tenants = TwoTenants(uuid.uuid4(), uuid.uuid4())
    await _insert_as_tenant(pool, table, tenants.a)
    await _insert_as_tenant(pool, table, tenants.b)
    return tenants


async def test_every_tenant_table_is_covered(platform_databases: dict[str, DatabaseLayout]) -> None:
    discovered: set[tuple[str, str]] = set()
    for service, layout in platform_databases.items():
        conn = await asyncpg.connect(layout.owner_url)
        try:
            names = await conn.fetch(_DISCOVER_TENANT_TABLES, sorted(PLATFORM_TABLES))
        finally:
            await conn.close()
        discovered |= {(service, r["table_name"]) for r in names}
    assert discovered == set(TENANT_TABLES)
    assert {table for _, table in discovered} == set(ROW_BUILDERS)


@tenant_tables
async def test_tenant_table_has_row_level_security_enabled_forced_and_a_policy(
    platform_databases: dict[str, DatabaseLayout], service: str, table: str
) -> None:
    conn = await asyncpg.connect(platform_databases[service].owner_url)
    try:
        flags = await conn.fetchrow(
            "select relrowsecurity, relforcerowsecurity from pg_class where oid = $1::regclass", table
        )
        policies = await conn.fetch(
            "select policyname, cmd, qual, with_check from pg_policies"
            " where schemaname = 'public' and tablename = $1",
            table,
        )
    finally:
        await conn.close()
    assert flags is not None
    assert flags["relrowsecurity"] is True, f"{service}.{table}: row level security is not enabled"
    assert flags["relforcerowsecurity"] is True, f"{service}.{table}: row level security is not forced"
    assert policies, f"{service}.{table} has no policy"
    for policy in policies:
        if policy["cmd"] != "INSERT":  # an insert policy has only a check
            assert "app.tenant_id" in (policy["qual"] or ""), policy
        if policy["cmd"] in ("ALL", "INSERT", "UPDATE"):
            assert "app.tenant_id" in (policy["with_check"] or ""), policy


@tenant_tables
async def test_app_role_cannot_insert_a_row_for_another_tenant(
    app_pools: dict[str, asyncpg.Pool], service: str, table: str
) -> None:
    pool = app_pools[service]
    tenant_a, tenant_b = uuid.uuid4(), uuid.uuid4()
    row = ROW_BUILDERS[table](tenant_b)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="violates row-level security"):
        async with tenant_transaction(pool, tenant_a) as conn:
            await conn.execute(row.sql, tenant_b, *row.args)
    assert await _tenant_ids_seen(pool, table, tenant_b) == []


@tenant_tables
async def test_app_role_reads_only_its_own_tenants_rows(
    app_pools: dict[str, asyncpg.Pool], service: str, table: str
) -> None:
    pool = app_pools[service]
    tenants = await _two_tenants_with_rows(pool, table)
    assert await _tenant_ids_seen(pool, table, tenants.a) == [tenants.a]
    assert await _tenant_ids_seen(pool, table, tenants.b) == [tenants.b]


@tenant_tables
async def test_app_role_without_a_tenant_sees_no_rows(
    app_pools: dict[str, asyncpg.Pool], service: str, table: str
) -> None:
    pool = app_pools[service]
    await _two_tenants_with_rows(pool, table)
    async with pool.acquire() as conn:
        assert await conn.fetch(f"select * from {table}") == []
        async with conn.transaction():
            assert await conn.fetch(f"select * from {table}") == []


async def _delete_or_refused(conn: asyncpg.Connection, sql: str, *args: object) -> str:
    """The DELETE's status, or "refused" where the app role holds no DELETE privilege at all."""
    try:
        async with conn.transaction():
            status: str = await conn.execute(sql, *args)
            return status
    except asyncpg.InsufficientPrivilegeError:
        return "refused"


@tenant_tables
async def test_app_role_cannot_update_or_delete_another_tenants_rows(
    app_pools: dict[str, asyncpg.Pool], service: str, table: str
) -> None:
    pool = app_pools[service]
    tenants = await _two_tenants_with_rows(pool, table)
    async with tenant_transaction(pool, tenants.a) as conn:
        updated = await conn.execute(
            f"update {table} set tenant_id = tenant_id where tenant_id = $1", tenants.b
        )
        deleted = await _delete_or_refused(conn, f"delete from {table} where tenant_id = $1", tenants.b)
        deleted_all = await _delete_or_refused(conn, f"delete from {table} where tenant_id <> $1", tenants.a)
    assert updated == "UPDATE 0"
    assert deleted in ("DELETE 0", "refused")
    assert deleted_all in ("DELETE 0", "refused")
    assert await _tenant_ids_seen(pool, table, tenants.b) == [tenants.b]


@tenant_tables
async def test_app_role_cannot_move_its_row_to_another_tenant(
    app_pools: dict[str, asyncpg.Pool], service: str, table: str
) -> None:
    pool = app_pools[service]
    tenants = await _two_tenants_with_rows(pool, table)
    # Refused by the policy's check, or earlier by a trigger that keeps a row's owner.
    with pytest.raises(
        asyncpg.InsufficientPrivilegeError, match=r"violates row-level security|keeps its buyer|append-only"
    ):
        async with tenant_transaction(pool, tenants.a) as conn:
            await conn.execute(
                f"update {table} set tenant_id = $1 where tenant_id = $2", uuid.uuid4(), tenants.a
            )
    assert await _tenant_ids_seen(pool, table, tenants.a) == [tenants.a]


@tenant_tables
async def test_relay_role_cannot_read_tenant_tables(
    platform_databases: dict[str, DatabaseLayout], service: str, table: str
) -> None:
    conn = await asyncpg.connect(platform_databases[service].relay_url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await conn.fetch(f"select * from {table}")
    finally:
        await conn.close()


@pytest.mark.parametrize("service", sorted({s for s, _ in TENANT_TABLES}))
async def test_app_role_owns_nothing_and_cannot_bypass_rls(
    platform_databases: dict[str, DatabaseLayout], service: str
) -> None:
    layout = platform_databases[service]
    conn = await asyncpg.connect(layout.owner_url)
    try:
        role = await conn.fetchrow(
            "select oid, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb from pg_roles where rolname = $1",
            layout.app,
        )
        assert role is not None
        owned = await conn.fetch(
            """
            select 'relation ' || relname as object from pg_class where relowner = $1
            union all select 'schema ' || nspname from pg_namespace where nspowner = $1
            union all select 'function ' || proname from pg_proc where proowner = $1
            union all select 'type ' || typname from pg_type where typowner = $1
            union all select 'database ' || datname from pg_database where datdba = $1
            """,
            role["oid"],
        )
        table_owners = await conn.fetch(
            "select tablename, tableowner from pg_tables where schemaname = 'public' order by 1"
        )
    finally:
        await conn.close()
    assert [r["object"] for r in owned] == []
    assert not role["rolsuper"]
    assert not role["rolbypassrls"]
    assert not role["rolcreaterole"]
    assert not role["rolcreatedb"]
    assert table_owners
    assert {r["tableowner"] for r in table_owners} == {layout.owner}


@pytest.mark.parametrize("service", sorted({s for s, _ in TENANT_TABLES}))
async def test_the_relay_role_can_execute_no_function_of_the_service(
    platform_databases: dict[str, DatabaseLayout], service: str
) -> None:
    """Functions are executable by PUBLIC by default; a SECURITY DEFINER one would be a way
    around the relay's narrow grants. Trigger functions run whatever the caller may execute."""
    layout = platform_databases[service]
    conn = await asyncpg.connect(layout.owner_url)
    try:
        callable_by_relay = await conn.fetch(
            """
            select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
            where n.nspname = 'public' and p.prorettype <> 'trigger'::regtype
              and has_function_privilege($1, p.oid, 'EXECUTE')
            """,
            layout.relay,
        )
    finally:
        await conn.close()
    assert [r["proname"] for r in callable_by_relay] == []


@pytest.mark.parametrize("service", sorted({s for s, _ in TENANT_TABLES}))
async def test_app_role_cannot_create_in_schema_public(
    platform_databases: dict[str, DatabaseLayout], service: str
) -> None:
    conn = await asyncpg.connect(platform_databases[service].app_url)
    try:
        assert await conn.fetchval("select has_schema_privilege('public', 'CREATE')") is False
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied for schema public"):
            await conn.execute("create table public.smuggled (tenant_id uuid)")
    finally:
        await conn.close()


async def _insert_outbox_row(conn: asyncpg.Connection) -> uuid.UUID:
    event_id = uuid.uuid4()
    await conn.execute(
        "insert into outbox (id, tenant_id, subject, payload)"
        " values ($1, $2, 'organisations.tenant.created', $3)",
        event_id,
        uuid.uuid4(),
        b"{}",
    )
    return event_id


@pytest.mark.parametrize("service", sorted({s for s, _ in TENANT_TABLES}))
async def test_app_role_can_insert_into_the_outbox_but_not_read_or_change_it(
    platform_databases: dict[str, DatabaseLayout], service: str
) -> None:
    conn = await asyncpg.connect(platform_databases[service].app_url)
    try:
        event_id = await _insert_outbox_row(conn)
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied for table outbox"):
            await conn.fetch("select * from outbox")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied for table outbox"):
            await conn.execute("update outbox set failed_attempts = 99")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied for table outbox"):
            await conn.execute("delete from outbox")
    finally:
        await conn.close()
    relay = await asyncpg.connect(platform_databases[service].relay_url)
    try:
        assert await relay.fetchval("select count(*) from outbox where id = $1", event_id) == 1
    finally:
        await relay.close()


@pytest.mark.parametrize("service", sorted({s for s, _ in TENANT_TABLES}))
async def test_relay_role_can_read_and_mark_the_outbox_but_not_write_events(
    platform_databases: dict[str, DatabaseLayout], service: str
) -> None:
    layout = platform_databases[service]
    app = await asyncpg.connect(layout.app_url)
    try:
        event_id = await _insert_outbox_row(app)
    finally:
        await app.close()
    relay = await asyncpg.connect(layout.relay_url)
    try:
        pending = await relay.fetch("select id from outbox where published_at is null")
        assert event_id in {r["id"] for r in pending}
        marked = await relay.execute("update outbox set published_at = now() where id = $1", event_id)
        assert marked == "UPDATE 1"
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied for table outbox"):
            await _insert_outbox_row(relay)
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied for table inbox"):
            await relay.fetch("select * from inbox")
    finally:
        await relay.close()


async def test_tenant_setting_is_transaction_local_on_a_pooled_connection(
    platform_databases: dict[str, DatabaseLayout],
) -> None:
    pool = await create_pool(platform_databases["organisations"].app_url, min_size=1, max_size=1)
    try:
        tenant_id = uuid.uuid4()
        row = _tenant_row(tenant_id)
        async with tenant_transaction(pool, tenant_id) as conn:
            await conn.execute(row.sql, tenant_id, *row.args)
            inside_pid = conn.get_server_pid()
            assert await conn.fetchval("select count(*) from tenants") == 1
        async with pool.acquire() as conn:
            assert conn.get_server_pid() == inside_pid  # the very same server session
            assert await conn.fetchval("select nullif(current_setting('app.tenant_id', true), '')") is None
            assert await conn.fetch("select * from tenants") == []
            async with conn.transaction():
                assert await conn.fetch("select * from tenants") == []
        assert await _tenant_ids_seen(pool, "tenants", tenant_id) == [tenant_id]
    finally:
        await pool.close()


async def test_tenant_setting_ends_with_its_transaction_even_without_a_pool_reset(
    platform_databases: dict[str, DatabaseLayout],
) -> None:
    # asyncpg's pool runs RESET ALL on release; a bare connection shows set_tenant itself is local.
    conn = await asyncpg.connect(platform_databases["organisations"].app_url)
    try:
        tenant_id = uuid.uuid4()
        row = _tenant_row(tenant_id)
        async with conn.transaction():
            await set_tenant(conn, tenant_id)
            await conn.execute(row.sql, tenant_id, *row.args)
            assert await conn.fetchval("select count(*) from tenants") == 1
        assert await conn.fetchval("select nullif(current_setting('app.tenant_id', true), '')") is None
        assert await conn.fetch("select * from tenants") == []
    finally:
        await conn.close()


async def test_set_tenant_outside_a_transaction_scopes_nothing(
    platform_databases: dict[str, DatabaseLayout],
) -> None:
    pool = await create_pool(platform_databases["organisations"].app_url, min_size=1, max_size=1)
    try:
        tenant_id = uuid.uuid4()
        await _insert_as_tenant(pool, "tenants", tenant_id)
        async with pool.acquire() as conn:
            await set_tenant(conn, tenant_id)  # autocommit: lasts only for its own statement
            assert await conn.fetch("select * from tenants") == []
    finally:
        await pool.close()


async def test_a_rolled_back_tenant_transaction_leaves_no_tenant_behind(
    platform_databases: dict[str, DatabaseLayout],
) -> None:
    pool = await create_pool(platform_databases["organisations"].app_url, min_size=1, max_size=1)
    try:
        tenant_id = uuid.uuid4()
        await _insert_as_tenant(pool, "tenants", tenant_id)
        with pytest.raises(RuntimeError, match="handler failed"):
            async with tenant_transaction(pool, tenant_id) as conn:
                assert len(await conn.fetch("select * from tenants")) == 1
                raise RuntimeError("handler failed")
        async with pool.acquire() as conn:
            assert await conn.fetch("select * from tenants") == []
    finally:
        await pool.close()
