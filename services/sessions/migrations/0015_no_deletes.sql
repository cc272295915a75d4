-- The app role deletes nothing in the sessions database: content is shredded by destroying its
-- data key (an update), processes and sessions are closed or cancelled, never removed. No policy
-- admits DELETE, so RLS already refuses it; the privilege goes too, so a missing policy is never
-- the only guard. Found by the security suite's catalogue check (tests/security/test_catalogue.py).
do $$
declare
  app text := current_database() || '_app';
begin
  execute format('revoke delete on processes, sessions, content_items, content_keys from %I', app);
end $$;
