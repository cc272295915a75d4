-- One database per service, three roles per database. Run by `tila run` and the test fixtures
-- (shared/db/provision.py) after creating the bare roles and the database; every statement is
-- idempotent. Placeholders in braces: db, owner, app, relay (identifiers) and the passwords (literals).
--
--   owner  owns the schema and every table; runs the migrations; never used by a request
--   app    what the API and consumers log in as: owns nothing, NOBYPASSRLS, so RLS always applies
--   relay  the outbox relay: reads and marks outbox rows across tenants, nothing else
--
-- section: cluster (connected to the maintenance database)
ALTER ROLE {owner} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD {owner_password};
ALTER ROLE {app} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT PASSWORD {app_password};
ALTER ROLE {relay} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT PASSWORD {relay_password};
ALTER DATABASE {db} OWNER TO {owner};
REVOKE ALL ON DATABASE {db} FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {app}, {relay};
-- section: database (connected to {db})
ALTER SCHEMA public OWNER TO {owner};
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO {app}, {relay};
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app};
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {app};
