-- A billable item and an invoice are never deleted (corrections are credit notes): no policy admits
-- DELETE and a trigger refuses it; the app role loses the privilege too, so neither is the only
-- guard. Found by the security suite's catalogue checks (tests/security/test_catalogue.py).
do $$
declare
  app text := current_database() || '_app';
begin
  execute format('revoke delete on billable_items, invoices from %I', app);
end $$;
