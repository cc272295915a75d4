"""Organisations: tenants (buyers and providers), their people and identity, and our tokens."""

from pathlib import Path

from shared.db.migrate import MigrationSource
from shared.events import MIGRATIONS as EVENT_MIGRATIONS

SERVICE = "organisations"
MIGRATIONS = [EVENT_MIGRATIONS, MigrationSource(SERVICE, Path(__file__).parent / "migrations")]
