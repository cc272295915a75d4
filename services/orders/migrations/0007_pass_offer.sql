-- A provider who declines a ranking offer passes it to the next-ranked provider of the lot as
-- snapshotted in the order at approval. The provider writes in its own tenant scope, but the new
-- row names another provider, which neither the update policy nor the read policy (applied to the
-- new row of an UPDATE with a WHERE clause) admits. This function is the one narrow way through:
-- it moves only an offer the calling tenant holds right now, at the expected version, to another
-- provider admitted to the snapshotted lot, with the caller recorded among those who declined. It
-- writes in the buyer's scope for that one statement and puts the caller's scope back.
create function pass_order_offer(p_order_id uuid, p_expected_version int, p_doc jsonb)
returns boolean language plpgsql security definer set search_path = public as $$
declare
  caller uuid := nullif(current_setting('app.tenant_id', true), '')::uuid;
  next_provider uuid := (p_doc ->> 'provider_id')::uuid;
  held supervision_orders%rowtype;
begin
  select * into held from supervision_orders
    where order_id = p_order_id and provider_tenant_id = caller and version = p_expected_version
    for update;
  if not found then
    return false;
  end if;
  if held.status <> 'offered' or p_doc ->> 'status' <> 'offered'
     or next_provider is null or next_provider = caller
     or not exists (select 1 from jsonb_array_elements_text(p_doc -> 'declined_by_providers') d
                    where d::uuid = caller)
     or not exists (select 1 from jsonb_array_elements(held.doc -> 'lot_terms' -> 'providers') p
                    where (p ->> 'provider_id')::uuid = next_provider)
     or (p_doc ->> 'version')::int <> p_expected_version + 1
     or (p_doc ->> 'buyer_tenant_id')::uuid <> held.tenant_id
     or (p_doc ->> 'order_id')::uuid <> held.order_id then
    raise exception 'not a pass of this offer to the next provider' using errcode = '42501';
  end if;
  perform set_config('app.tenant_id', held.tenant_id::text, true);
  update supervision_orders
    set provider_tenant_id = next_provider, doc = p_doc, version = p_expected_version + 1,
        updated_at = now()
    where order_id = p_order_id and version = p_expected_version;
  perform set_config('app.tenant_id', caller::text, true);
  return true;
end $$;
