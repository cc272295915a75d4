-- Which cost centres each approver of a buyer holds, fed by organisations events: an approver is
-- the employer only of the processes charged to a cost centre they hold. A removal leaves a row
-- (assigned = false) with the event's version, so an older assignment delivered late cannot bring
-- the approver back, nor an older removal take them away.
create table known_approvers (
  tenant_id      uuid not null,
  cost_centre_id uuid not null,
  person_id      uuid not null,
  assigned       boolean not null,
  version        int not null,
  primary key (tenant_id, cost_centre_id, person_id)
);
create index known_approvers_person on known_approvers (tenant_id, person_id) where assigned;
alter table known_approvers enable row level security;
alter table known_approvers force row level security;
create policy tenant_isolation on known_approvers
  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
