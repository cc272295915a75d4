-- Login through each tenant's own OpenID provider.
--
-- identity_providers: one per tenant; the client secret is a reference ("env:NAME") to where
-- the secret lives, never the secret. login_attempts: state, nonce and PKCE verifier, kept
-- server-side for minutes and bound to the tenant and issuer. identities: who logged in,
-- keyed by (issuer, subject) — never by e-mail — and the person they are in this tenant.
create table identity_providers (
  tenant_id             uuid primary key,
  issuer                text not null,
  client_id             text not null,
  client_secret_ref     text not null,
  scopes                text[] not null,
  allowed_email_domains text[] not null default '{}',
  provisioning          text not null check (provisioning in ('pre_provisioned', 'claims')),
  role_claim            text,
  role_map              jsonb not null default '{}',
  updated_at            timestamptz not null default now()
);

create table login_attempts (
  tenant_id     uuid not null,
  state         text not null,
  issuer        text not null,
  nonce         text not null,
  code_verifier text not null,
  redirect_uri  text not null,
  created_at    timestamptz not null default now(),
  expires_at    timestamptz not null,
  used_at       timestamptz,
  primary key (tenant_id, state)
);

create table identities (
  tenant_id     uuid not null,
  issuer        text not null,
  subject       text not null,
  person_id     uuid not null,
  created_at    timestamptz not null default now(),
  last_login_at timestamptz,
  primary key (tenant_id, issuer, subject),
  foreign key (tenant_id, person_id) references people (tenant_id, person_id)
);
create unique index identities_person on identities (tenant_id, person_id, issuer);

alter table identity_providers enable row level security;
alter table identity_providers force row level security;
create policy tenant_isolation on identity_providers
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
alter table login_attempts enable row level security;
alter table login_attempts force row level security;
create policy tenant_isolation on login_attempts
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
alter table identities enable row level security;
alter table identities force row level security;
create policy tenant_isolation on identities
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
