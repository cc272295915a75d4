-- Billing's read models and its own rows.
--
-- Rows a buyer and a provider share (orders, billable items, invoices) carry the provider in
-- tenant_id (the seller) and the buyer in buyer_tenant_id; the policies admit either. What one
-- party knows of the other (its invoicing facts, its cost centres, its invoicing requirements)
-- is readable by the other only while an order between them exists (domain invariant 14).

-- Time-ordered ids (UUIDv7) for rows made set-based by the invoice run.
create function billing_uuid_v7() returns uuid language sql volatile as $$
  select encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
              placing substring(int8send(floor(extract(epoch from clock_timestamp()) * 1000)::bigint) from 3)
              from 1 for 6),
      52, 1), 53, 1),
    'hex')::uuid
$$;

-- Orders as billing needs them (from the offer on, when the provider is a party): the
-- agreement's number and payment terms snapshotted at approval.
create table billing_orders (
  tenant_id          uuid not null,   -- the provider
  buyer_tenant_id    uuid not null,
  order_id           uuid not null primary key,
  agreement_id       uuid not null,
  agreement_number   text,
  cost_centre_id     uuid not null,
  payment_terms_days int,
  status             text not null,
  version            int not null,
  updated_at         timestamptz not null default now()
);
create index billing_orders_buyer on billing_orders (buyer_tenant_id);
create index billing_orders_provider on billing_orders (tenant_id);
alter table billing_orders enable row level security;
alter table billing_orders force row level security;
create policy buyer_or_provider on billing_orders
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
         or buyer_tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
              or buyer_tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- A tenant's invoicing facts (organisations.tenant.* events): what a seller prints and a buyer
-- is addressed by.
create table billing_parties (
  tenant_id          uuid primary key,
  name               text not null,
  kind               text not null,
  business_id        text not null,
  vat_id             text,
  street             text,
  postcode           text,
  city               text,
  country            text,
  e_invoice_scheme   text,
  e_invoice_address  text,
  e_invoice_operator text,
  iban               text,
  bic                text,
  version            int not null,
  updated_at         timestamptz not null default now()
);
-- A buyer's cost centres (organisations.cost_centre.*): the code goes on invoices (BT-19).
create table billing_cost_centres (
  tenant_id      uuid not null,
  cost_centre_id uuid not null,
  code           text not null,
  name           text not null,
  version        int not null,
  primary key (tenant_id, cost_centre_id)
);
-- Who approves on which cost centre: approvers see the invoices of their cost centres.
create table billing_approvers (
  tenant_id      uuid not null,
  cost_centre_id uuid not null,
  person_id      uuid not null,
  assigned       boolean not null,
  version        int not null,
  primary key (tenant_id, cost_centre_id, person_id)
);
-- A buyer's invoicing requirements, set by its buyer admin.
create table buyer_invoicing (
  tenant_id  uuid primary key,
  per_order  boolean not null default false,
  version    int not null default 1,
  updated_at timestamptz not null default now()
);

alter table billing_parties enable row level security;
alter table billing_parties force row level security;
create policy own_or_counterpart_read on billing_parties for select
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
         or exists (select 1 from billing_orders o
                    where o.tenant_id = billing_parties.tenant_id
                       or o.buyer_tenant_id = billing_parties.tenant_id));
create policy own_write on billing_parties for all
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

alter table billing_cost_centres enable row level security;
alter table billing_cost_centres force row level security;
create policy own_or_provider_read on billing_cost_centres for select
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
         or exists (select 1 from billing_orders o
                    where o.buyer_tenant_id = billing_cost_centres.tenant_id
                      and o.cost_centre_id = billing_cost_centres.cost_centre_id));
create policy own_write on billing_cost_centres for all
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

alter table billing_approvers enable row level security;
alter table billing_approvers force row level security;
create policy tenant_isolation on billing_approvers
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

alter table buyer_invoicing enable row level security;
alter table buyer_invoicing force row level security;
create policy own_or_provider_read on buyer_invoicing for select
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
         or exists (select 1 from billing_orders o where o.buyer_tenant_id = buyer_invoicing.tenant_id));
create policy own_write on buyer_invoicing for all
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- Invoices and credit notes of a seller (tenant_id) to a buyer. A draft gathers items per
-- (provider, buyer, agreement, cost centre, month[, order]); issuing numbers it and freezes it.
create table invoices (
  tenant_id            uuid not null,   -- the seller (provider)
  buyer_tenant_id      uuid not null,
  invoice_id           uuid primary key,
  kind                 text not null check (kind in ('invoice', 'credit_note')),
  status               text not null check (status in ('draft', 'issued')),
  agreement_id         uuid not null,
  cost_centre_id       uuid not null,
  order_id             uuid,             -- set when the buyer requires an invoice per order
  billing_month        date not null check (extract(day from billing_month) = 1),
  sequence             bigint,
  number               text,
  issue_date           date,
  due_date             date,
  payment_terms_days   int,
  payment_reference    text,
  rf_reference         text,
  net_cents            bigint not null default 0,
  vat_cents            bigint not null default 0,
  gross_cents          bigint not null default 0,
  breakdown            jsonb not null default '[]'::jsonb,
  item_count           int not null default 0,
  header               jsonb,            -- the document header snapshotted at issue
  credited_invoice_id  uuid references invoices (invoice_id),
  version              int not null default 1,
  created_at           timestamptz not null default now(),
  issued_at            timestamptz,
  unique (tenant_id, sequence),
  unique (credited_invoice_id),
  check ((status = 'issued') = (number is not null and issue_date is not null and due_date is not null)),
  check ((kind = 'credit_note') = (credited_invoice_id is not null))
);
-- One open draft per grouping key: concurrent runs meet here instead of making two.
create unique index invoices_one_draft_per_group on invoices
  (tenant_id, buyer_tenant_id, agreement_id, cost_centre_id, billing_month,
   coalesce(order_id, '00000000-0000-0000-0000-000000000000'::uuid))
  where status = 'draft' and kind = 'invoice';
create index invoices_buyer on invoices (buyer_tenant_id, status, invoice_id);
create index invoices_provider on invoices (tenant_id, status, invoice_id);

-- The next gapless number per seller; its row is locked by the issuing transaction.
create table invoice_counters (
  tenant_id     uuid primary key,
  last_sequence bigint not null
);

-- A billable session: price, quantity, VAT rate, terms and cost centre as they were when the
-- session became billable. One per session, whatever the number of deliveries.
create table billable_items (
  tenant_id          uuid not null,   -- the provider
  buyer_tenant_id    uuid not null,
  item_id            uuid primary key,
  session_id         uuid not null unique,
  order_id           uuid not null,
  agreement_id       uuid not null,
  cost_centre_id     uuid not null,
  kind               text not null check (kind in ('held', 'no_show', 'late_cancellation')),
  form               text not null,
  mode               text not null,
  starts_at          timestamptz not null,
  service_date       date not null,
  billing_month      date not null,
  duration_minutes   int not null check (duration_minutes > 0),
  unit               text not null check (unit in ('per_session', 'per_hour')),
  quantity           numeric(12, 4) not null,
  unit_code          text not null,
  base_quantity      numeric(12, 4) not null,
  list_price_cents   bigint not null,
  charge_percent     int not null check (charge_percent between 1 and 100),
  unit_price         numeric(18, 6) not null,
  net_cents          bigint not null,
  vat_rate           numeric(5, 2) not null,
  participant_count  int not null,
  attended_count     int not null,
  invoice_id         uuid references invoices (invoice_id),
  created_at         timestamptz not null default now()
);
create index billable_items_unbilled on billable_items (tenant_id, billing_month) where invoice_id is null;
create index billable_items_invoice on billable_items (invoice_id, service_date, item_id);

alter table invoices enable row level security;
alter table invoices force row level security;
alter table billable_items enable row level security;
alter table billable_items force row level security;
alter table invoice_counters enable row level security;
alter table invoice_counters force row level security;
-- Either party reads; only the seller writes invoices; items are written from session events
-- (heard in the buyer's scope) and assigned to invoices by the seller; nobody deletes.
create policy invoices_read on invoices for select
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
         or buyer_tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy invoices_create on invoices for insert
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy invoices_update on invoices for update
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy items_read on billable_items for select
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
         or buyer_tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy items_create on billable_items for insert
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
              or buyer_tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy items_assign on billable_items for update
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy tenant_isolation on invoice_counters
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- An issued invoice or credit note never changes and is never deleted; a draft changes only
-- while a draft, and keeps its parties.
create function invoices_immutable() returns trigger language plpgsql as $$
begin
  if tg_op = 'DELETE' then
    if old.status = 'issued' then
      raise exception 'an issued invoice is immutable' using errcode = '42501';
    end if;
    return old;
  end if;
  if old.status = 'issued' then
    raise exception 'an issued invoice is immutable; correct it with a credit note' using errcode = '42501';
  end if;
  if new.tenant_id <> old.tenant_id or new.buyer_tenant_id <> old.buyer_tenant_id
     or new.invoice_id <> old.invoice_id or new.kind <> old.kind then
    raise exception 'an invoice keeps its buyer, its seller and its kind' using errcode = '42501';
  end if;
  return new;
end $$;
create trigger invoices_immutable before update or delete on invoices
  for each row execute function invoices_immutable();

-- A billable item's snapshot never changes; it is assigned to one invoice once, only while
-- that invoice is a draft.
create function billable_items_immutable() returns trigger language plpgsql as $$
begin
  if tg_op = 'DELETE' then
    raise exception 'a billable item is never deleted' using errcode = '42501';
  end if;
  if new.tenant_id <> old.tenant_id or new.buyer_tenant_id <> old.buyer_tenant_id then
    raise exception 'a billable item keeps its buyer and its provider' using errcode = '42501';
  end if;
  if (to_jsonb(new) - 'invoice_id') <> (to_jsonb(old) - 'invoice_id') then
    raise exception 'a billable item is immutable; correct it with a credit note' using errcode = '42501';
  end if;
  if old.invoice_id is not null and new.invoice_id is distinct from old.invoice_id then
    raise exception 'a billable item is invoiced at most once' using errcode = '42501';
  end if;
  return new;
end $$;
create trigger billable_items_immutable before update or delete on billable_items
  for each row execute function billable_items_immutable();
