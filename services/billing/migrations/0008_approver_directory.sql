-- The approver read model moves to the platform's approver_directory (shared/approvers): its rows
-- are copied over (a newer version already there wins) and the service's own table goes.
-- Forced RLS would hide every row from the owner here, so it is lifted for this transaction only.
alter table billing_approvers no force row level security;
alter table approver_directory no force row level security;
insert into approver_directory (tenant_id, cost_centre_id, person_id, assigned, version)
select tenant_id, cost_centre_id, person_id, assigned, version from billing_approvers
on conflict (tenant_id, cost_centre_id, person_id) do update
  set assigned = excluded.assigned, version = excluded.version
  where approver_directory.version < excluded.version;
alter table approver_directory force row level security;
drop table billing_approvers;
