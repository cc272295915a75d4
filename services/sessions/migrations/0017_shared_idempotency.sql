-- Idempotency-Keys are kept in the shared idempotent_requests (shared.http.idempotency), with the
-- same key (tenant, caller, key) and request hash: the stored answers move there and replay as before.
insert into idempotent_requests (tenant_id, subject, key, request_hash, response, created_at)
select tenant_id, subject, key, request_hash, response_body, created_at
from idempotency_keys
where subject <> ''
on conflict do nothing;
drop table idempotency_keys;
