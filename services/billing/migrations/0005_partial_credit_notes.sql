-- Credit notes that correct, and corrections that can be billed again.
--
-- A credit note now has lines of its own: each credits one line (billable item) of the invoice it
-- references, in whole, by a quantity, or by a price correction. An invoice may have several
-- credit notes; a line is credited at most once (unique item_id). A line credited in whole may be
-- billed again: its item is copied, snapshot unchanged, as the session's next generation, unbilled,
-- so the next invoice run puts it on a new invoice. Issued documents and items stay immutable.

alter table invoices drop constraint invoices_credited_invoice_id_key;
create index invoices_credited on invoices (credited_invoice_id) where credited_invoice_id is not null;

alter table billable_items add column generation int not null default 0 check (generation >= 0);
alter table billable_items add column replaces_item_id uuid references billable_items (item_id);
alter table billable_items drop constraint billable_items_session_id_key;
alter table billable_items add constraint billable_items_session_generation unique (session_id, generation);

create table credit_note_lines (
  tenant_id           uuid not null,   -- the seller
  buyer_tenant_id     uuid not null,
  credit_note_id      uuid not null references invoices (invoice_id),
  credited_invoice_id uuid not null references invoices (invoice_id),
  item_id             uuid not null references billable_items (item_id),
  correction          text not null check (correction in ('full', 'quantity', 'price')),
  quantity            numeric(12, 4) not null check (quantity > 0),
  unit_price          numeric(18, 6) not null check (unit_price >= 0),
  net_cents           bigint not null check (net_cents >= 0),
  primary key (credit_note_id, item_id),
  unique (item_id)
);
create index credit_note_lines_invoice on credit_note_lines (credited_invoice_id);
alter table credit_note_lines enable row level security;
alter table credit_note_lines force row level security;
create policy credit_lines_read on credit_note_lines for select
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
         or buyer_tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy credit_lines_create on credit_note_lines for insert
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- Credit notes issued before this credited their invoice whole: their lines are all its items.
-- (The owner runs migrations under forced RLS; lifted for this one statement's tables, then forced
-- again. Those items are not made billable again: that is the seller's call, per new credit note.)
alter table invoices no force row level security;
alter table billable_items no force row level security;
alter table credit_note_lines no force row level security;
insert into credit_note_lines (tenant_id, buyer_tenant_id, credit_note_id, credited_invoice_id, item_id,
  correction, quantity, unit_price, net_cents)
select i.tenant_id, i.buyer_tenant_id, n.invoice_id, n.credited_invoice_id, i.item_id, 'full', i.quantity,
  i.unit_price, i.net_cents
from invoices n
join billable_items i on i.invoice_id = n.credited_invoice_id
where n.kind = 'credit_note';
alter table invoices force row level security;
alter table billable_items force row level security;
alter table credit_note_lines force row level security;

-- A retried credit request (same Idempotency-Key, same body) answers the credit note it made.
create table credit_requests (
  tenant_id       uuid not null,
  idempotency_key text not null,
  request_hash    text not null,
  credit_note_id  uuid not null references invoices (invoice_id),
  created_at      timestamptz not null default now(),
  primary key (tenant_id, idempotency_key)
);
alter table credit_requests enable row level security;
alter table credit_requests force row level security;
create policy tenant_isolation on credit_requests
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- Written once, never changed or deleted. Update policies exist only so that an update reaches the
-- trigger and fails loudly; the app role holds no DELETE or TRUNCATE privilege on them.
create policy credit_lines_update on credit_note_lines for update
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create function billing_append_only() returns trigger language plpgsql as $$
begin
  raise exception '% is append-only: a credit is corrected by another credit note', tg_table_name
    using errcode = '42501';
end $$;
create trigger credit_note_lines_append_only before update or delete on credit_note_lines
  for each row execute function billing_append_only();
create trigger credit_requests_append_only before update or delete on credit_requests
  for each row execute function billing_append_only();
do $$
declare
  app text := current_database() || '_app';
begin
  execute format('revoke delete, truncate on credit_note_lines, credit_requests from %I', app);
end $$;
