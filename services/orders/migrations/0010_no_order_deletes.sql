-- Nobody deletes an order (0005 gives DELETE no policy, so RLS already refuses it); the app role
-- does not hold the privilege either, so a missing policy can never be the only guard. Found by
-- the security suite's catalogue check (tests/security/test_catalogue.py).
do $$
declare
  app text := current_database() || '_app';
begin
  execute format('revoke delete on supervision_orders from %I', app);
end $$;
