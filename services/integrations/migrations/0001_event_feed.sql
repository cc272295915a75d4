-- Every event of every stream, once per tenant it concerns: the catch-up feed's source.
-- Only the envelope's frame is kept here (type, ids, time); public payloads are built per
-- event type through an allow-list, never copied wholesale.
--
-- Positions count per tenant (feed_heads), assigned under the head row's lock: they commit in
-- the order they are given, so a reader resuming after position N never misses a later commit
-- below N, and no tenant learns how busy another is.
create table feed_heads (
  tenant_id uuid primary key,
  position  bigint not null
);
create table event_feed (
  tenant_id   uuid not null,
  position    bigint not null,
  event_id    uuid not null,
  type        text not null,
  subject     text not null,
  occurred_at timestamptz not null,
  received_at timestamptz not null default now(),
  primary key (tenant_id, position),
  unique (tenant_id, event_id)
);
alter table feed_heads enable row level security;
alter table feed_heads force row level security;
create policy tenant_isolation on feed_heads
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
alter table event_feed enable row level security;
alter table event_feed force row level security;
create policy tenant_isolation on event_feed
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
