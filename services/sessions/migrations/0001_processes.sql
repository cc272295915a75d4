-- Supervision processes (työnohjausprosessit) and their sessions. A row is shared by the buyer
-- (tenant_id; buyer_id repeats it) and the provider (provider_id): the policies admit either
-- (architecture §4). The domain objects are kept whole in `doc`; the columns repeat what queries
-- filter on and what the content tables of this service reference. Nobody deletes a process or a
-- session, and no update moves one to another buyer or provider.
create table processes (
  tenant_id        uuid not null,
  id               uuid primary key,
  order_id         uuid not null unique,
  buyer_id         uuid not null generated always as (tenant_id) stored,
  provider_id      uuid not null,
  supervisor_id    uuid not null,
  participants     uuid[] not null,
  cost_centre_id   uuid not null,
  agreement_id     uuid not null,
  form             text not null,
  planned_sessions int not null,
  status           text not null check (status in ('open', 'closed')),
  outcome          text check (outcome in ('completed', 'interrupted', 'cancelled')),
  closed_at        timestamptz,
  doc              jsonb not null,
  version          int not null,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now()
);
create index processes_buyer on processes (tenant_id, id);
create index processes_provider on processes (provider_id, id);
create index processes_supervisor on processes (supervisor_id, id);
alter table processes enable row level security;
alter table processes force row level security;
create policy processes_read on processes for select
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
         or provider_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy processes_create on processes for insert
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
              or provider_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy processes_update on processes for update
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
         or provider_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
              or provider_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

create table sessions (
  tenant_id        uuid not null,
  id               uuid primary key,
  process_id       uuid not null references processes (id),
  buyer_id         uuid not null generated always as (tenant_id) stored,
  provider_id      uuid not null,
  status           text not null check (status in ('scheduled', 'held', 'cancelled', 'no_show')),
  starts_at        timestamptz not null,
  duration_minutes int not null,
  doc              jsonb not null,
  version          int not null,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now()
);
create index sessions_process on sessions (process_id, starts_at, id);
alter table sessions enable row level security;
alter table sessions force row level security;
create policy sessions_read on sessions for select
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
         or provider_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy sessions_create on sessions for insert
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
              or provider_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy sessions_update on sessions for update
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
         or provider_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
              or provider_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

create function processes_keep_identity() returns trigger language plpgsql as $$
begin
  if new.tenant_id <> old.tenant_id or new.provider_id <> old.provider_id or new.id <> old.id
     or new.order_id <> old.order_id then
    raise exception 'a process keeps its buyer, provider and ids' using errcode = '42501';
  end if;
  return new;
end $$;
create trigger processes_keep_identity before update on processes
  for each row execute function processes_keep_identity();

create function sessions_keep_identity() returns trigger language plpgsql as $$
begin
  if new.tenant_id <> old.tenant_id or new.provider_id <> old.provider_id or new.id <> old.id
     or new.process_id <> old.process_id then
    raise exception 'a session keeps its buyer, provider, process and id' using errcode = '42501';
  end if;
  return new;
end $$;
create trigger sessions_keep_identity before update on sessions
  for each row execute function sessions_keep_identity();

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
