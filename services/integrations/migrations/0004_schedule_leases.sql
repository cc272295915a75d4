-- A lease of its own beside the due time: a loop working on an endpoint holds it until
-- leased_until, whatever new deliveries do to due_at meanwhile, so two workers never work on one
-- endpoint at once (its events go out one at a time, in order). A crashed worker's lease runs out.
alter table webhook_schedule add column leased_until timestamptz;
