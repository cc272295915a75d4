-- A billable item's snapshot is immutable by privilege: the app role may update only invoice_id
-- (and the tenant ids, so that a move is refused by the trigger's clear message rather than by a
-- bare permission error). The row trigger now fires only for what it still has to judge — a
-- move, or a change of an item already on an invoice — so an invoice run assigning a million
-- items never calls it.
do $$
declare
  app text := current_database() || '_app';
begin
  execute format('revoke update on billable_items from %I', app);
  execute format('grant update (invoice_id, tenant_id, buyer_tenant_id) on billable_items to %I', app);
end $$;

drop trigger billable_items_immutable on billable_items;
create trigger billable_items_immutable before update on billable_items
  for each row
  when (new.tenant_id is distinct from old.tenant_id
        or new.buyer_tenant_id is distinct from old.buyer_tenant_id
        or old.invoice_id is not null)
  execute function billable_items_immutable();
create trigger billable_items_never_deleted before delete on billable_items
  for each row execute function billable_items_immutable();
