-- Framework agreements (puitejärjestelyt) of a buyer. Lots (with their admitted providers),
-- price items and cancellation terms are stored as jsonb documents written by the domain model;
-- provider_ids repeats every admitted provider so "agreements this provider is admitted to" is
-- one indexed query.
create table framework_agreements (
  tenant_id          uuid not null,
  agreement_id       uuid not null,
  number             text not null,
  title              text not null,
  status             text not null check (status in ('draft', 'active', 'ended')),
  starts_on          date not null,
  first_term_ends_on date not null,
  hard_end_on        date not null,
  lots               jsonb not null,
  price_items        jsonb not null,
  cancellation       jsonb not null,
  provider_ids       uuid[] not null,
  version            int not null,
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now(),
  primary key (tenant_id, agreement_id),
  unique (tenant_id, number),
  check (starts_on <= first_term_ends_on and first_term_ends_on <= hard_end_on)
);
create index framework_agreements_provider_ids on framework_agreements using gin (provider_ids);
alter table framework_agreements enable row level security;
alter table framework_agreements force row level security;
create policy tenant_isolation on framework_agreements
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
