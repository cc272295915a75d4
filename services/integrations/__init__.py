"""Integrations: the event feed and webhooks through which HR and finance systems hear of Tila's events."""

from pathlib import Path

from shared.db.migrate import MigrationSource
from shared.events import MIGRATIONS as EVENT_MIGRATIONS
from shared.tenancy import MIGRATIONS as TENANCY_MIGRATIONS

SERVICE = "integrations"
MIGRATIONS = [
    EVENT_MIGRATIONS,
    TENANCY_MIGRATIONS,
    MigrationSource(SERVICE, Path(__file__).parent / "migrations"),
]
