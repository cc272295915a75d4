-- The event kit's tables, in every service database. They are platform tables, not tenant
-- tables: the relay reads the outbox across tenants through its own narrow role.

create table outbox (
  id           uuid primary key,              -- the envelope id, also the Nats-Msg-Id
  tenant_id    uuid not null,
  subject      text not null,
  payload      bytea not null,                -- the encoded envelope
  created_at   timestamptz not null default clock_timestamp(),
  published_at timestamptz,
  failed_attempts int not null default 0,     -- refusals by JetStream; quarantined at the limit
  last_error   text
);
create index outbox_pending on outbox (created_at, id) where published_at is null;

create table inbox (
  consumer    text not null,
  message_id  uuid not null,
  tenant_id   uuid not null,
  received_at timestamptz not null default now(),
  primary key (consumer, message_id)
);

create table dead_letter (
  id            bigint generated always as identity primary key,
  consumer      text not null,
  message_id    text,
  subject       text not null,
  stream_seq    bigint not null,
  num_delivered int not null,
  payload       bytea not null,
  error         text not null,
  received_at   timestamptz not null default now()
);

-- The app role writes events, inbox and dead-letter rows; it never reads or changes them.
do $$
declare
  app   text := current_database() || '_app';
  relay text := current_database() || '_relay';
begin
  execute format('revoke all on outbox, inbox, dead_letter from %I', app);
  execute format('grant insert on outbox to %I', app);
  execute format('grant insert on inbox, dead_letter to %I', app);
  execute format('grant select, update, delete on outbox to %I', relay);
end $$;
