-- The orders service's read models of buyers' cost centres and approvers and of people and
-- supervisors, fed by organisations events; no names or e-mails (the events carry none).
create table known_cost_centres (
  tenant_id           uuid not null,
  cost_centre_id      uuid not null,
  code                text not null,
  name                text not null,
  yearly_budget_cents bigint not null,
  active              boolean not null,
  version             int not null,
  updated_at          timestamptz not null default now(),
  primary key (tenant_id, cost_centre_id)
);
-- A removal leaves a row (assigned = false) with the event's version, so an older assignment
-- delivered late cannot bring the approver back, nor an older removal take them away.
create table known_approvers (
  tenant_id      uuid not null,
  cost_centre_id uuid not null,
  person_id      uuid not null,
  assigned       boolean not null,
  version        int not null,
  primary key (tenant_id, cost_centre_id, person_id)
);
create table known_people (
  tenant_id          uuid not null,
  person_id          uuid not null,
  roles              text[] not null,
  hr_employee_number text,
  active             boolean not null,
  version            int not null,
  updated_at         timestamptz not null default now(),
  primary key (tenant_id, person_id)
);
create table known_supervisors (
  tenant_id      uuid not null,
  person_id      uuid not null,
  forms          text[] not null,
  languages      text[] not null,
  regions        text[] not null,
  delivery_modes text[] not null,
  available      boolean not null,
  qualifications jsonb not null,
  version        int not null,
  updated_at     timestamptz not null default now(),
  primary key (tenant_id, person_id)
);
alter table known_cost_centres enable row level security;
alter table known_cost_centres force row level security;
create policy tenant_isolation on known_cost_centres
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
alter table known_approvers enable row level security;
alter table known_approvers force row level security;
create policy tenant_isolation on known_approvers
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
alter table known_people enable row level security;
alter table known_people force row level security;
create policy tenant_isolation on known_people
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
alter table known_supervisors enable row level security;
alter table known_supervisors force row level security;
create policy tenant_isolation on known_supervisors
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
