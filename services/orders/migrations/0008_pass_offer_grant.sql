-- Only the app role may pass an offer on; functions are executable by PUBLIC by default, which
-- would include the relay role.
do $$
declare
  app text := current_database() || '_app';
begin
  revoke execute on function pass_order_offer(uuid, int, jsonb) from public;
  execute format('grant execute on function pass_order_offer(uuid, int, jsonb) to %I', app);
end $$;
