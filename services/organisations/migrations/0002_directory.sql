-- Tenant details, and what lives inside a tenant: org units, cost centres and their approvers,
-- people and their roles, supervisor profiles. Every table leads its key with tenant_id and is
-- under the same row-level security as tenants; references inside a tenant carry tenant_id too,
-- so a row can never point at another tenant's row.

alter table tenants
  add column subtype text check (
    subtype is null
    or (kind = 'buyer' and subtype in ('welfare_area', 'municipality', 'company'))
    or (kind = 'provider' and subtype in ('supervisor_company', 'network', 'sole_trader'))
  ),
  add column vat_id text check (vat_id ~ '^FI[0-9]{8}$'),
  add column street text,
  add column postcode text,
  add column city text,
  add column country text check (country ~ '^[A-Z]{2}$'),
  add column e_invoice_address text,
  add column e_invoice_operator text,
  add column iban text check (iban is null or kind = 'provider'),
  add column bic text check (bic is null or iban is not null),
  add constraint tenants_postal_address_whole check (
    num_nulls(street, postcode, city, country) in (0, 4)
  ),
  add constraint tenants_vat_id_is_business_id check (
    vat_id is null or substr(vat_id, 3) = replace(business_id, '-', '')
  );

create table org_units (
  tenant_id          uuid not null references tenants (tenant_id),
  org_unit_id        uuid not null,
  name               text not null check (length(name) between 1 and 200),
  parent_org_unit_id uuid check (parent_org_unit_id <> org_unit_id),
  version            int not null default 1,
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now(),
  primary key (tenant_id, org_unit_id),
  foreign key (tenant_id, parent_org_unit_id) references org_units (tenant_id, org_unit_id)
);
create index org_units_parent on org_units (tenant_id, parent_org_unit_id);

create table cost_centres (
  tenant_id           uuid not null references tenants (tenant_id),
  cost_centre_id      uuid not null,
  org_unit_id         uuid not null,
  code                text not null check (length(code) between 1 and 32),
  name                text not null check (length(name) between 1 and 200),
  yearly_budget_cents bigint not null check (yearly_budget_cents >= 0),
  active              boolean not null default true,
  version             int not null default 1,
  created_at          timestamptz not null default now(),
  updated_at          timestamptz not null default now(),
  primary key (tenant_id, cost_centre_id),
  -- Codes stay taken after deactivation: invoices and reports keep naming them.
  constraint cost_centres_code unique (tenant_id, code),
  foreign key (tenant_id, org_unit_id) references org_units (tenant_id, org_unit_id)
);
create index cost_centres_org_unit on cost_centres (tenant_id, org_unit_id);

-- People are deactivated, never deleted: orders, sessions and invoices keep pointing at them.
create table people (
  tenant_id          uuid not null references tenants (tenant_id),
  person_id          uuid not null,
  name               text not null check (length(name) between 1 and 200),
  email              text not null check (length(email) between 3 and 254),
  roles              text[] not null check (
    cardinality(roles) >= 1
    and roles <@ array['buyer_admin', 'approver', 'employee', 'provider_admin', 'supervisor']
  ),
  hr_employee_number text check (length(hr_employee_number) between 1 and 32),
  active             boolean not null default true,
  version            int not null default 1,
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now(),
  primary key (tenant_id, person_id)
);
create unique index people_email on people (tenant_id, lower(email));
create unique index people_hr_employee_number on people (tenant_id, hr_employee_number)
  where hr_employee_number is not null;
create index people_roles on people using gin (roles);

create table cost_centre_approvers (
  tenant_id      uuid not null,
  cost_centre_id uuid not null,
  person_id      uuid not null,
  assigned_at    timestamptz not null default now(),
  primary key (tenant_id, cost_centre_id, person_id),
  foreign key (tenant_id, cost_centre_id) references cost_centres (tenant_id, cost_centre_id),
  foreign key (tenant_id, person_id) references people (tenant_id, person_id)
);
create index cost_centre_approvers_person on cost_centre_approvers (tenant_id, person_id);

-- One profile per supervisor: the person's id is the profile's.
create table supervisor_profiles (
  tenant_id      uuid not null,
  person_id      uuid not null,
  forms          text[] not null default '{}',
  languages      text[] not null default '{}',
  regions        text[] not null default '{}',
  delivery_modes text[] not null default '{}' check (
    delivery_modes <@ array['remote', 'at_buyer', 'at_supervisor']
  ),
  available      boolean not null default false,
  qualifications jsonb not null default '[]' check (jsonb_typeof(qualifications) = 'array'),
  version        int not null default 1,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now(),
  primary key (tenant_id, person_id),
  foreign key (tenant_id, person_id) references people (tenant_id, person_id)
);

alter table org_units enable row level security;
alter table org_units force row level security;
create policy tenant_isolation on org_units
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

alter table cost_centres enable row level security;
alter table cost_centres force row level security;
create policy tenant_isolation on cost_centres
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

alter table people enable row level security;
alter table people force row level security;
create policy tenant_isolation on people
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

alter table cost_centre_approvers enable row level security;
alter table cost_centre_approvers force row level security;
create policy tenant_isolation on cost_centre_approvers
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

alter table supervisor_profiles enable row level security;
alter table supervisor_profiles force row level security;
create policy tenant_isolation on supervisor_profiles
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
