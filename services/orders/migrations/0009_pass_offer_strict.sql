-- pass_order_offer (0007) trusted most of the document the caller passed in: a provider holding an
-- offer could have rewritten the price, the participants or the period while passing it on. Now
-- the document must be the held one with only what a decline changes (domain.orders.decline under
-- ranking): the provider (the first-ranked provider of the snapshotted lot who has not declined),
-- no supervisor, an undeclared conflict, the caller appended to those who declined, and the next
-- version. Same signature, so the grant of 0008 stays; the search path puts pg_temp last.
create or replace function pass_order_offer(p_order_id uuid, p_expected_version int, p_doc jsonb)
returns boolean language plpgsql security definer set search_path = pg_catalog, public, pg_temp as $$
declare
  caller uuid := nullif(current_setting('app.tenant_id', true), '')::uuid;
  next_provider uuid;
  expected_declined jsonb;
  first_ranked uuid;
  held public.supervision_orders%rowtype;
  -- what a pass may change; everything else in the document stays exactly as held
  passable constant text[] := array[
    'provider_id', 'supervisor_id', 'supervisor_assigned', 'conflict', 'declined_by_providers', 'version'
  ];
begin
  if p_doc is null or jsonb_typeof(p_doc) <> 'object' then
    raise exception 'not a pass of this offer to the next provider' using errcode = '42501';
  end if;
  select * into held from public.supervision_orders
    where order_id = p_order_id and provider_tenant_id = caller and version = p_expected_version
    for update;
  if not found then
    return false;
  end if;
  next_provider := (p_doc ->> 'provider_id')::uuid;
  expected_declined := coalesce(held.doc -> 'declined_by_providers', '[]'::jsonb)
                       || jsonb_build_array(caller::text);
  select (e.p ->> 'provider_id')::uuid into first_ranked
    from jsonb_array_elements(held.doc -> 'lot_terms' -> 'providers') with ordinality as e(p, n)
    where e.p ->> 'rank' is not null
      and not exists (select 1 from jsonb_array_elements_text(expected_declined) d
                      where d::uuid = (e.p ->> 'provider_id')::uuid)
    order by (e.p ->> 'rank')::int, e.n
    limit 1;
  if held.status <> 'offered' or held.doc ->> 'status' <> 'offered'
     or held.doc ->> 'selection' <> 'ranking'
     or (p_doc - passable) <> (held.doc - passable)
     or next_provider is null or first_ranked is null or next_provider <> first_ranked
     or p_doc -> 'declined_by_providers' <> expected_declined
     or (p_doc ->> 'version')::int is distinct from p_expected_version + 1
     or p_doc ->> 'supervisor_id' is not null
     or coalesce((p_doc ->> 'supervisor_assigned')::boolean, false)
     or p_doc -> 'conflict' ->> 'state' is distinct from 'undeclared'
     or p_doc -> 'conflict' ->> 'declared_by' is not null
     or p_doc -> 'conflict' ->> 'accepted_by_buyer' is not null
     or coalesce(jsonb_array_length(p_doc -> 'conflict' -> 'related_participants'), 0) <> 0
     or coalesce(jsonb_array_length(p_doc -> 'conflict' -> 'accepted_by_participants'), 0) <> 0 then
    raise exception 'not a pass of this offer to the next provider' using errcode = '42501';
  end if;
  perform set_config('app.tenant_id', held.tenant_id::text, true);
  update public.supervision_orders
    set provider_tenant_id = next_provider, doc = p_doc, version = p_expected_version + 1,
        updated_at = now()
    where order_id = p_order_id and version = p_expected_version;
  perform set_config('app.tenant_id', caller::text, true);
  return true;
end $$;
