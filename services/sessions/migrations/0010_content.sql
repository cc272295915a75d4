-- The content wall (architecture §7): encrypted content per process, its data key, the audit log
-- of every access, and what retention needs.
--
-- Content rows belong to the provider (tenant_id: the supervisor's organisation, the owner of the
-- content) and are shared with the buyer (buyer_id), because participants write their own
-- reflections and evaluations from the buyer's side: the policies admit either tenant, and which
-- person reads what is decided by the handlers and repeated in every query (visibility.py).

-- One data key per process, stored only wrapped by the owner tenant's key; shredding destroys it.
create table content_keys (
  tenant_id     uuid not null,
  process_id    uuid primary key references processes (id),
  buyer_id      uuid not null,
  key_id        text not null,
  wrapped_key   bytea,
  goal_consents uuid[] not null default '{}',
  created_at    timestamptz not null default now(),
  rewrapped_at  timestamptz,
  shredded_at   timestamptz,
  check ((wrapped_key is null) = (shredded_at is not null))
);
alter table content_keys enable row level security;
alter table content_keys force row level security;
create policy content_keys_read on content_keys for select
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
         or buyer_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy content_keys_create on content_keys for insert
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
              or buyer_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy content_keys_update on content_keys for update
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
         or buyer_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
              or buyer_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

create table content_items (
  tenant_id              uuid not null,
  buyer_id               uuid not null,
  id                     uuid primary key,
  process_id             uuid not null references content_keys (process_id),
  kind                   text not null check (kind in ('private_note', 'shared_note', 'reflection', 'goal',
                                                       'participant_evaluation', 'supervisor_evaluation',
                                                       'summary')),
  phase                  text check (phase in ('mid', 'final')),
  owner_id               uuid not null,
  shared_with_supervisor boolean not null default false,
  approved_by            uuid[] not null default '{}',
  body                   bytea not null,           -- AES-256-GCM under the process's data key
  version                int not null default 1,
  created_at             timestamptz not null default now(),
  updated_at             timestamptz not null default now()
);
create index content_items_process on content_items (process_id, created_at, id);
alter table content_items enable row level security;
alter table content_items force row level security;
create policy content_items_read on content_items for select
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
         or buyer_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy content_items_create on content_items for insert
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
              or buyer_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy content_items_update on content_items for update
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
         or buyer_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
              or buyer_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

create function content_keep_identity() returns trigger language plpgsql as $$
begin
  if new.tenant_id <> old.tenant_id or new.buyer_id <> old.buyer_id or new.process_id <> old.process_id then
    raise exception 'content keeps its buyer, provider and process' using errcode = '42501';
  end if;
  return new;
end $$;
create trigger content_keys_keep_identity before update on content_keys
  for each row execute function content_keep_identity();
create trigger content_items_keep_identity before update on content_items
  for each row execute function content_keep_identity();

-- Every read and write of content, allowed or refused: ids, action and outcome, never content.
-- Append-only for everyone (the trigger refuses updates and deletes even to the owner), and
-- hash-chained per tenant: hash = SHA-256(previous hash, canonical fields) (domain/audit.py).
create table content_audit (
  tenant_id   uuid not null,
  seq         bigint not null check (seq > 0),
  id          uuid not null unique,
  occurred_at timestamptz not null,
  actor       text not null,
  process_id  uuid,
  item_id     uuid,
  kind        text,
  action      text not null,
  outcome     text not null,
  prev_hash   bytea not null,
  hash        bytea not null,
  primary key (tenant_id, seq)
);
alter table content_audit enable row level security;
alter table content_audit force row level security;
create policy content_audit_read on content_audit for select
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy content_audit_append on content_audit for insert
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
-- Policies for update and delete exist only so that such a statement reaches the trigger below
-- and fails loudly instead of silently changing nothing.
create policy content_audit_update on content_audit for update
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy content_audit_delete on content_audit for delete
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

create function content_audit_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'the content audit log is append-only' using errcode = '42501';
end $$;
create trigger content_audit_no_update before update or delete on content_audit
  for each row execute function content_audit_append_only();
create trigger content_audit_no_truncate before truncate on content_audit
  for each statement execute function content_audit_append_only();

-- A provider tenant's own retention period for closed processes' content (default: settings).
create table content_retention (
  tenant_id  uuid primary key,
  months     int not null check (months between 1 and 240),
  updated_at timestamptz not null default now()
);
alter table content_retention enable row level security;
alter table content_retention force row level security;
create policy tenant_isolation on content_retention
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- Which tenants have closed processes to look at: a platform table like the outbox (ids and a
-- time, nothing else). A closing process enqueues itself (the trigger runs as the app role, which
-- may only insert); the worker reads it through the relay role — the narrow cross-tenant role —
-- and shreds, tenant by tenant, in ordinary tenant transactions as the app role.
create table content_retention_queue (
  process_id uuid primary key,
  tenant_id  uuid not null,
  closed_at  timestamptz not null
);
create index content_retention_queue_closed on content_retention_queue (closed_at);

create function content_retention_enqueue() returns trigger language plpgsql as $$
begin
  if new.status = 'closed' and new.closed_at is not null
     and (tg_op = 'INSERT' or old.status is distinct from 'closed') then
    insert into content_retention_queue (process_id, tenant_id, closed_at)
    values (new.id, new.provider_id, new.closed_at)
    on conflict do nothing;
  end if;
  return new;
end $$;
create trigger processes_retention_enqueue after insert or update of status on processes
  for each row execute function content_retention_enqueue();

do $$
declare
  app   text := current_database() || '_app';
  relay text := current_database() || '_relay';
begin
  execute format('revoke all on content_retention_queue from %I', app);
  execute format('grant insert on content_retention_queue to %I', app);
  execute format('grant select, delete on content_retention_queue to %I', relay);
  execute format('revoke truncate on content_audit from %I', app);
end $$;
