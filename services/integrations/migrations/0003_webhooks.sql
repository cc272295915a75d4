-- Webhook endpoints of buyer tenants and their deliveries (Standard Webhooks).
create table webhook_endpoints (
  tenant_id                  uuid not null,
  endpoint_id                uuid primary key,
  url                        text not null,
  event_types                text[] not null,
  secret                     text not null,
  previous_secret            text,
  previous_secret_expires_at timestamptz,
  created_at                 timestamptz not null default now(),
  version                    bigint not null default 1
);
create index webhook_endpoints_tenant on webhook_endpoints (tenant_id);

-- One row per (endpoint, public event). The head of an endpoint's line is its earliest pending
-- delivery by (event_time, position); later ones wait for it. A dead one no longer blocks.
create table webhook_deliveries (
  tenant_id        uuid not null,
  delivery_id      uuid primary key,
  endpoint_id      uuid not null references webhook_endpoints on delete cascade,
  event_id         uuid not null,
  event_type       text not null,
  event_time       timestamptz not null,
  position         bigint not null,
  body             text not null,
  status           text not null default 'pending' check (status in ('pending', 'delivered', 'dead')),
  attempts         integer not null default 0,
  first_attempt_at timestamptz,
  next_attempt_at  timestamptz not null default now(),
  last_attempt_at  timestamptz,
  last_status_code integer,
  last_error       text,
  delivered_at     timestamptz,
  created_at       timestamptz not null default now(),
  unique (endpoint_id, event_id)
);
create index webhook_deliveries_line on webhook_deliveries (endpoint_id, event_time, position)
  where status = 'pending';
create index webhook_deliveries_listing on webhook_deliveries (endpoint_id, created_at, delivery_id);

-- When each endpoint is next due: the delivery loop's only cross-tenant read. It holds no URL,
-- secret or event, only (endpoint, tenant, due time), and the loop reads and leases it with
-- app.tenant_id unset and app.webhook_scheduler = 'on'; everything else stays behind the tenant.
create table webhook_schedule (
  endpoint_id uuid primary key references webhook_endpoints on delete cascade,
  tenant_id   uuid not null,
  due_at      timestamptz
);
create index webhook_schedule_due on webhook_schedule (due_at) where due_at is not null;

do $$
declare t text;
begin
  foreach t in array array['webhook_endpoints', 'webhook_deliveries', 'webhook_schedule'] loop
    execute format('alter table %I enable row level security', t);
    execute format('alter table %I force row level security', t);
    execute format($p$create policy tenant_isolation on %I
      using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
      with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)$p$, t);
  end loop;
end $$;
create policy scheduler_reads on webhook_schedule for select
  using (nullif(current_setting('app.tenant_id', true), '') is null
         and current_setting('app.webhook_scheduler', true) = 'on');
create policy scheduler_leases on webhook_schedule for update
  using (nullif(current_setting('app.tenant_id', true), '') is null
         and current_setting('app.webhook_scheduler', true) = 'on')
  with check (nullif(current_setting('app.tenant_id', true), '') is null
              and current_setting('app.webhook_scheduler', true) = 'on');
