"""PostgreSQL and NATS JetStream servers started by Tila itself, on loopback, for `make run` and tests."""

from shared.embedded.nats import EmbeddedNats
from shared.embedded.postgres import EmbeddedPostgres, find_postgres_bindir

__all__ = ["EmbeddedNats", "EmbeddedPostgres", "find_postgres_bindir"]
