-- The providers a buyer may admit to its framework agreements: public facts about provider
-- tenants (no contact data, nothing of their work), readable by every tenant. Deliberately not
-- under tenant row-level security, so checking a provider never means leaving the buyer's scope.
create table provider_catalogue (
  provider_id uuid primary key,
  name        text not null,
  active      boolean not null,
  version     int not null,
  updated_at  timestamptz not null default now()
);
