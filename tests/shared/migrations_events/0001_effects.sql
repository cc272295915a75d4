-- The effect a test consumer applies: one row per application, so a double apply shows.
create table effects (
  id        bigint generated always as identity primary key,
  tenant_id uuid not null,
  event_id  uuid not null,
  seq       int not null
);
alter table effects enable row level security;
alter table effects force row level security;
create policy tenant_isolation on effects
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
