-- Tenants: a tenant's own row carries its id as tenant_id, so RLS applies like everywhere else.
create table tenants (
  tenant_id   uuid primary key,
  name        text not null check (length(name) between 1 and 200),
  kind        text not null check (kind in ('buyer', 'provider')),
  business_id text not null,
  active      boolean not null default true,
  version     int not null default 1,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);
-- A business id is unique across Tila (the index holds across tenants even under RLS).
create unique index tenants_business_id on tenants (business_id);

alter table tenants enable row level security;
alter table tenants force row level security;
create policy tenant_isolation on tenants
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
