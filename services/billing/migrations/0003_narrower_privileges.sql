-- A billable item and an invoice are never deleted (corrections are credit notes): no policy admits
-- DELETE and a trigger refuses it; the app role loses the privilege too, so neither is the only
-- guard. billing_uuid_v7() was executable by PUBLIC, the relay role included; only the app role
-- calls it. Found by the security suite's catalogue checks (tests/security/test_catalogue.py,
-- tests/shared/test_db_isolation.py).
do $$
declare
  app text := current_database() || '_app';
begin
  execute format('revoke delete on billable_items, invoices from %I', app);
  revoke execute on function billing_uuid_v7() from public;
  execute format('grant execute on function billing_uuid_v7() to %I', app);
end $$;
