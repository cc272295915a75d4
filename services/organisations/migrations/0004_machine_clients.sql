-- HR and finance systems of a tenant: a secret shown once (stored as a hash) and the scopes
-- they were registered for. Their tokens carry this tenant and these scopes, nothing else.
create table machine_clients (
  tenant_id   uuid not null,
  client_id   uuid not null,
  name        text not null check (length(name) between 1 and 200),
  secret_hash bytea not null,
  scopes      text[] not null check (cardinality(scopes) > 0),
  created_by  text not null,
  created_at  timestamptz not null default now(),
  revoked_at  timestamptz,
  primary key (tenant_id, client_id)
);

alter table machine_clients enable row level security;
alter table machine_clients force row level security;
create policy tenant_isolation on machine_clients
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
