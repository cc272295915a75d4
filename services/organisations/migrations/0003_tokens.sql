-- Refresh tokens: only their hashes. A login starts a family; each use spends the token and
-- issues the next one in the family; presenting a spent one revokes the family.
create table refresh_tokens (
  tenant_id   uuid not null,
  token_hash  bytea not null,
  family_id   uuid not null,
  subject     text not null,
  roles       text[] not null,
  scopes      text[] not null,
  issued_at   timestamptz not null default now(),
  expires_at  timestamptz not null,      -- the family's absolute end, carried by every member
  used_at     timestamptz,
  revoked_at  timestamptz,
  primary key (tenant_id, token_hash)
);
create index refresh_tokens_family on refresh_tokens (tenant_id, family_id);
create index refresh_tokens_subject on refresh_tokens (tenant_id, subject) where revoked_at is null;

alter table refresh_tokens enable row level security;
alter table refresh_tokens force row level security;
create policy tenant_isolation on refresh_tokens
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
