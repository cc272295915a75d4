-- Human-readable order numbers per buyer (issue 13 item 10): TO-<year of creation in Helsinki>-<six
-- digits>, from a counter row per (buyer, year) that the creating transaction locks, so numbers are
-- unique and gapless per buyer and year whatever runs at the same time (a rolled-back create rolls
-- its increment back too). The domain Order in `doc` carries the number; the column repeats it for
-- the uniqueness guarantee and lookups.
create table order_number_counters (
  tenant_id   uuid not null,
  year        int not null,
  last_number int not null,
  primary key (tenant_id, year)
);
alter table order_number_counters enable row level security;
alter table order_number_counters force row level security;
create policy tenant_isolation on order_number_counters
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
do $$
declare
  app text := current_database() || '_app';
begin
  execute format('revoke delete, truncate on order_number_counters from %I', app);
end $$;

alter table supervision_orders add column order_number text;

-- Orders made before numbers existed get theirs in the order they were created.
with numbered as (
  select tenant_id, order_id,
         extract(year from created_at at time zone 'Europe/Helsinki')::int as year,
         row_number() over (
           partition by tenant_id, extract(year from created_at at time zone 'Europe/Helsinki')
           order by created_at, order_id
         ) as n
  from supervision_orders
)
update supervision_orders o
set order_number = 'TO-' || numbered.year || '-' || lpad(numbered.n::text, 6, '0'),
    doc = jsonb_set(o.doc, '{order_number}',
                    to_jsonb('TO-' || numbered.year || '-' || lpad(numbered.n::text, 6, '0')))
from numbered
where o.tenant_id = numbered.tenant_id and o.order_id = numbered.order_id;

insert into order_number_counters (tenant_id, year, last_number)
select tenant_id, extract(year from created_at at time zone 'Europe/Helsinki')::int, count(*)
from supervision_orders
group by 1, 2;

create unique index supervision_orders_number on supervision_orders (tenant_id, order_number);

-- An order keeps its number as it keeps its buyer and id.
create or replace function supervision_orders_keep_identity() returns trigger language plpgsql as $$
begin
  if new.tenant_id <> old.tenant_id or new.order_id <> old.order_id
     or (old.order_number is not null and new.order_number is distinct from old.order_number) then
    raise exception 'an order keeps its buyer, its id and its number' using errcode = '42501';
  end if;
  return new;
end $$;
