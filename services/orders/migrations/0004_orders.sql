-- Supervision orders (tilaukset). A row is shared by the buyer (tenant_id) and, once the order is
-- offered, the provider it is offered to (provider_tenant_id, null before the offer): the policy
-- admits either tenant (architecture §4). The domain Order is kept whole in `doc`; the columns
-- repeat what queries filter and sort on. committed_cents is the cost snapshotted at approval,
-- which the budget room of the cost centre subtracts.
create table supervision_orders (
  tenant_id          uuid not null,
  order_id           uuid not null unique,
  provider_tenant_id uuid,
  cost_centre_id     uuid not null,
  status             text not null,
  starts_on          date not null,
  committed_cents    bigint,
  doc                jsonb not null,
  version            int not null,
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now(),
  primary key (tenant_id, order_id)
);
create index supervision_orders_provider on supervision_orders (provider_tenant_id, order_id);
create index supervision_orders_cost_centre on supervision_orders (tenant_id, cost_centre_id, status);
alter table supervision_orders enable row level security;
alter table supervision_orders force row level security;
create policy buyer_or_provider on supervision_orders
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
         or provider_tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
              or provider_tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- Responses to creating POSTs, by the client's Idempotency-Key: the same key and body get the
-- same response; the same key with another body is refused.
create table idempotency_keys (
  tenant_id       uuid not null,
  key             text not null,
  request_hash    text not null,
  response_status int not null,
  response_body   jsonb not null,
  created_at      timestamptz not null default now(),
  primary key (tenant_id, key)
);
alter table idempotency_keys enable row level security;
alter table idempotency_keys force row level security;
create policy tenant_isolation on idempotency_keys
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
