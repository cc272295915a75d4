-- Narrower rules for the rows a buyer and a provider share: both read and update them (the
-- provider once offered), only the buyer creates them, nobody deletes them, and no update moves
-- an order to another buyer or renames it.
drop policy buyer_or_provider on supervision_orders;
create policy orders_read on supervision_orders for select
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
         or provider_tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy orders_create on supervision_orders for insert
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy orders_update on supervision_orders for update
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
         or provider_tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
              or provider_tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

create function supervision_orders_keep_identity() returns trigger language plpgsql as $$
begin
  if new.tenant_id <> old.tenant_id or new.order_id <> old.order_id then
    raise exception 'an order keeps its buyer and its id' using errcode = '42501';
  end if;
  return new;
end $$;
create trigger supervision_orders_keep_identity before update on supervision_orders
  for each row execute function supervision_orders_keep_identity();
