-- No two live sessions (scheduled, held or a no-show; not cancelled) of one person overlap: not
-- of the supervisor across her processes, not of a participant across every process of the
-- sessions database — also processes of other providers, whose rows RLS hides from this one. One
-- row per (session, person) holds the session's time as a range in a per-person band, and an
-- exclusion constraint keeps the live ranges apart. Constraints see every row whatever the
-- policies say, and two concurrent transactions cannot both pass one (the second waits for the
-- first and fails once it commits), so a race cannot book a person twice.
--
-- The band: btree_gist (which `exclude (person_id with =, during with &&)` would need) is not in
-- the embedded PostgreSQL, so the person goes into the range's numbers. A person's 128-bit id
-- times 10^14, plus the time's epoch seconds shifted by 10^13 (positive and below 10^14 for
-- every timestamptz PostgreSQL has), gives ranges that overlap only for the same person and
-- overlapping times; numeric is exact, so there are no collisions. Ranges are [start, end): a
-- session may begin the moment the previous one ends.
create function person_band(person uuid) returns numeric language sql immutable parallel safe as $$
  select (('x' || substr(h, 1, 8))::bit(32)::bigint & 4294967295)::numeric * 79228162514264337593543950336
       + (('x' || substr(h, 9, 8))::bit(32)::bigint & 4294967295)::numeric * 18446744073709551616
       + (('x' || substr(h, 17, 8))::bit(32)::bigint & 4294967295)::numeric * 4294967296
       + (('x' || substr(h, 25, 8))::bit(32)::bigint & 4294967295)::numeric
  from (select replace(person::text, '-', '') as h) as hex
$$;

create function busy_slot(person uuid, starts_at timestamptz, duration_minutes int)
returns numrange language sql immutable parallel safe as $$
  select numrange(base + extract(epoch from starts_at),
                  base + extract(epoch from starts_at) + duration_minutes * 60, '[)')
  from (select person_band(person) * 100000000000000 + 10000000000000 as base) as b
$$;

create table session_busy (
  tenant_id   uuid not null,
  provider_id uuid not null,
  session_id  uuid not null references sessions (id),
  person_id   uuid not null,
  slot        numrange not null,
  live        boolean not null,
  primary key (session_id, person_id),
  constraint session_busy_no_overlap exclude using gist (slot with &&) where (live)
);
alter table session_busy enable row level security;
alter table session_busy force row level security;
create policy session_busy_read on session_busy for select
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
         or provider_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy session_busy_create on session_busy for insert
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
              or provider_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy session_busy_update on session_busy for update
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
         or provider_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
              or provider_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- Kept by the sessions table itself, so no write path can forget it: the supervisor and every
-- participant of the session's process are busy while it is live. A conflict fails the session's
-- insert or update with exclusion_violation (23P01), which the handlers answer with 409.
create function sessions_keep_busy() returns trigger language plpgsql as $$
declare
  supervisor uuid;
  people uuid[];
begin
  if tg_op = 'UPDATE' and new.starts_at = old.starts_at and new.duration_minutes = old.duration_minutes
     and (new.status = 'cancelled') = (old.status = 'cancelled') then
    return new;
  end if;
  select p.supervisor_id, p.participants into supervisor, people from processes p where p.id = new.process_id;
  insert into session_busy (tenant_id, provider_id, session_id, person_id, slot, live)
  select distinct new.tenant_id, new.provider_id, new.id, person,
         busy_slot(person, new.starts_at, new.duration_minutes), new.status <> 'cancelled'
  from unnest(array[supervisor] || people) as person
  on conflict (session_id, person_id) do update set slot = excluded.slot, live = excluded.live;
  return new;
end $$;
create trigger sessions_keep_busy after insert or update on sessions
  for each row execute function sessions_keep_busy();

-- Sessions booked before this migration: the earlier of two overlapping ones keeps its place
-- (the later one has no row for that person until it is rescheduled; then it is checked).
insert into session_busy (tenant_id, provider_id, session_id, person_id, slot, live)
select s.tenant_id, s.provider_id, s.id, person, busy_slot(person, s.starts_at, s.duration_minutes), true
from sessions s
join processes p on p.id = s.process_id
cross join lateral (select distinct unnest(array[p.supervisor_id] || p.participants) as person) as people
where s.status <> 'cancelled'
order by s.starts_at, s.created_at, s.id
on conflict do nothing;

-- Functions are executable by PUBLIC by default: only the app role (whose writes fire the
-- trigger) runs these. It deletes nothing here either (a cancelled session's rows turn not live).
revoke execute on function person_band(uuid), busy_slot(uuid, timestamptz, int) from public;
do $$
declare
  app text := current_database() || '_app';
begin
  execute format('grant execute on function person_band(uuid), busy_slot(uuid, timestamptz, int) to %I', app);
  execute format('revoke delete on session_busy from %I', app);
end $$;
