-- The feed now holds public CloudEvents only (services/integrations/domain/catalogue.py): each row
-- is one public event as subscribers receive it. The rows recorded before this change were
-- internal events, which are no longer served: they are dropped and positions start over.
delete from event_feed;
delete from feed_heads;
alter table event_feed add column body text not null;
comment on column event_feed.event_id is 'The public event id (CloudEvents id).';
comment on column event_feed.type is 'The public event type (fi.tila.*.vN).';

-- Read models fed by organisations, used only to build public events.
create table hr_people (
  tenant_id          uuid not null,
  person_id          uuid not null,
  hr_employee_number text,
  active             boolean not null,
  version            bigint not null,
  primary key (tenant_id, person_id)
);
create table cost_centre_codes (
  tenant_id      uuid not null,
  cost_centre_id uuid not null,
  code           text not null,
  version        bigint not null,
  primary key (tenant_id, cost_centre_id)
);
-- A buyer's integration settings.
create table tenant_settings (
  tenant_id                 uuid primary key,
  working_time_reason_code  text not null,
  version                   bigint not null default 1,
  updated_at                timestamptz not null default now()
);

do $$
declare t text;
begin
  foreach t in array array['hr_people', 'cost_centre_codes', 'tenant_settings'] loop
    execute format('alter table %I enable row level security', t);
    execute format('alter table %I force row level security', t);
    execute format($p$create policy tenant_isolation on %I
      using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
      with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)$p$, t);
  end loop;
end $$;
