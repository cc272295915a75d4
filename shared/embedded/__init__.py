"""PostgreSQL and NATS JetStream servers started by Tila itself, on loopback, for `make run` and tests."""

from shared.embedded.nats import EmbeddedNats
from shared.embedded.postgres import EmbeddedPostgres, find_postgres_bindir
from shared.embedded.servers import Servers, free_port, servers

__all__ = ["EmbeddedNats", "EmbeddedPostgres", "Servers", "find_postgres_bindir", "free_port", "servers"]
