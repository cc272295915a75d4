-- Responses to creating POSTs by the caller's Idempotency-Key (shared.http.idempotency), in every
-- service database whose API takes the key. A key is the caller's own: (tenant, subject, key). The
-- same key and body answer the stored response again; the same key with another body is refused.
create table idempotent_requests (
  tenant_id    uuid not null,
  subject      text not null,
  key          text not null,
  request_hash text not null,
  response     jsonb not null,
  created_at   timestamptz not null default now(),
  primary key (tenant_id, subject, key)
);
alter table idempotent_requests enable row level security;
alter table idempotent_requests force row level security;
create policy tenant_isolation on idempotent_requests
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
-- A stored answer is never removed by the app role (the policy keeps any update to its tenant).
do $$
declare
  app text := current_database() || '_app';
begin
  execute format('revoke delete, truncate on idempotent_requests from %I', app);
end $$;
