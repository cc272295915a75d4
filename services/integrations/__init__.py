"""Integrations: the event feed and webhooks through which HR and finance systems hear of Tila's events."""

from pathlib import Path

from shared.db.migrate import MigrationSource
from shared.events import MIGRATIONS as EVENT_MIGRATIONS

SERVICE = "integrations"
MIGRATIONS = [EVENT_MIGRATIONS, MigrationSource(SERVICE, Path(__file__).parent / "migrations")]
