-- Webhook signing secrets sealed at rest (AES-256-GCM under the integrations keyring; associated
-- data = tenant, endpoint, column). The plain columns go: no production data exists yet, so no
-- endpoint needs its secret carried over (the few development endpoints are registered again).
delete from webhook_endpoints;
alter table webhook_endpoints
  drop column secret,
  drop column previous_secret,
  add column secret_key_id          text not null,
  add column secret_sealed          bytea not null,
  add column previous_secret_sealed bytea;
