-- Each service's own read model of the tenants, fed by organisations.tenant.* events.
create table tenant_directory (
  tenant_id   uuid primary key,
  name        text not null,
  kind        text not null check (kind in ('buyer', 'provider')),
  business_id text not null,
  active      boolean not null default true,
  version     int not null,
  updated_at  timestamptz not null default now()
);
alter table tenant_directory enable row level security;
alter table tenant_directory force row level security;
create policy tenant_isolation on tenant_directory
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
