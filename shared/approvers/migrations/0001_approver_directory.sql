-- Each consuming service's own read model of who approves on which of a buyer's cost centres, fed
-- by organisations.cost_centre.approver_* events. A removal leaves a row (assigned = false) with the
-- event's version, so an older assignment delivered late cannot bring the approver back, nor an
-- older removal take them away.
create table approver_directory (
  tenant_id      uuid not null,
  cost_centre_id uuid not null,
  person_id      uuid not null,
  assigned       boolean not null,
  version        int not null,
  primary key (tenant_id, cost_centre_id, person_id)
);
create index approver_directory_person on approver_directory (tenant_id, person_id) where assigned;
alter table approver_directory enable row level security;
alter table approver_directory force row level security;
create policy tenant_isolation on approver_directory
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
