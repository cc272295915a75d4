-- An Idempotency-Key is the caller's own: two people of one tenant who happen to send the same key
-- must not get each other's stored response. Keys recorded before this migration keep an empty
-- subject (no caller's key can match them again).
alter table idempotency_keys add column subject text not null default '';
alter table idempotency_keys drop constraint idempotency_keys_pkey;
alter table idempotency_keys add primary key (tenant_id, subject, key);
