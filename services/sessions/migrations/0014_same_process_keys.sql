-- A session or a content row cannot name a process of other tenants than its own, and content of a
-- session belongs to that session's process: composite foreign keys over (process, buyer,
-- provider). Processes carry the buyer as tenant_id; content rows carry the provider as tenant_id
-- and the buyer as buyer_id.
alter table processes add constraint processes_id_parties unique (id, tenant_id, provider_id);
alter table sessions add constraint sessions_process_parties
  foreign key (process_id, tenant_id, provider_id) references processes (id, tenant_id, provider_id);
alter table sessions add constraint sessions_id_process unique (id, process_id);
alter table content_keys add constraint content_keys_process_parties
  foreign key (process_id, buyer_id, tenant_id) references processes (id, tenant_id, provider_id);
alter table content_items add constraint content_items_process_parties
  foreign key (process_id, buyer_id, tenant_id) references processes (id, tenant_id, provider_id);
alter table content_items add constraint content_items_session_of_process
  foreign key (session_id, process_id) references sessions (id, process_id);
