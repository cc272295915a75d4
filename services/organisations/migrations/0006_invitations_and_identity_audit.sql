-- Who may become whom at login, and a record of every change to that.
--
-- people.email_links: true while the person's e-mail is the one they were provisioned with and
-- no admin has changed it since. Only then may a first login be linked to them by that e-mail;
-- after an admin's change only an invitation links them (an admin must not steer a stranger's
-- login into an existing person and their history).
--
-- invitations: single-use, expiring; only a SHA-256 of the secret is kept. Issued by Tila's
-- platform admins (a tenant's first admin, or re-linking a person whose e-mail was changed); the
-- code is given to the login start, bound to that login attempt, and spent at its callback.
--
-- identity_audit: append-only (a trigger refuses every update and delete) links,
-- unlinks, e-mail changes and invitations, per person; the person reads their own.
alter table people add column email_links boolean not null default true;

create table invitations (
  tenant_id       uuid not null references tenants (tenant_id),
  invitation_id   uuid not null,
  person_id       uuid not null,
  secret_hash     bytea not null,
  purpose         text not null check (purpose in ('first_admin', 'relink')),
  created_by      text not null,
  created_at      timestamptz not null default now(),
  expires_at      timestamptz not null,
  used_at         timestamptz,
  primary key (tenant_id, invitation_id),
  foreign key (tenant_id, person_id) references people (tenant_id, person_id)
);
create unique index invitations_secret on invitations (tenant_id, secret_hash);

alter table login_attempts add column invitation_id uuid;

create table identity_audit (
  tenant_id  uuid not null references tenants (tenant_id),
  entry_id   bigint generated always as identity,
  person_id  uuid not null,
  action     text not null check (
    action in ('linked', 'unlinked', 'email_changed', 'invitation_issued', 'invitation_redeemed')
  ),
  actor      text not null,
  detail     jsonb not null default '{}' check (jsonb_typeof(detail) = 'object'),
  at         timestamptz not null default now(),
  primary key (tenant_id, entry_id),
  foreign key (tenant_id, person_id) references people (tenant_id, person_id)
);
create index identity_audit_person on identity_audit (tenant_id, person_id, entry_id);

-- Append-only as sessions' content audit is: the policies let an update or delete reach the
-- trigger, which refuses it loudly (42501) rather than letting it change nothing in silence.
create function identity_audit_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'the identity audit is append-only' using errcode = '42501';
end $$;
create trigger identity_audit_no_update before update or delete on identity_audit
  for each row execute function identity_audit_append_only();
create trigger identity_audit_no_truncate before truncate on identity_audit
  for each statement execute function identity_audit_append_only();
do $$
declare
  app text := current_database() || '_app';
begin
  execute format('revoke truncate on identity_audit from %I', app);
end $$;

alter table invitations enable row level security;
alter table invitations force row level security;
create policy tenant_isolation on invitations
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
alter table identity_audit enable row level security;
alter table identity_audit force row level security;
create policy tenant_isolation on identity_audit
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
