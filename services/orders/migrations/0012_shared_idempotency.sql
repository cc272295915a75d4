-- Idempotency-Keys are kept in the shared idempotent_requests (shared.http.idempotency), per
-- (tenant, caller, key). The stored answers move there under the caller who made them: the person
-- who requested the order (a person's token carries their id as its subject); the hash already
-- covered the caller and the body, so a retry replays as before.
insert into idempotent_requests (tenant_id, subject, key, request_hash, response, created_at)
select tenant_id, response_body ->> 'requested_by', key, request_hash, response_body, created_at
from idempotency_keys
where response_body ->> 'requested_by' is not null
on conflict do nothing;
drop table idempotency_keys;
