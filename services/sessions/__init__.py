"""Sessions: supervision processes, sessions, attendance and the encrypted content wall."""

from shared.events import MIGRATIONS as EVENT_MIGRATIONS
from shared.tenancy import MIGRATIONS as TENANCY_MIGRATIONS

SERVICE = "sessions"
MIGRATIONS = [EVENT_MIGRATIONS, TENANCY_MIGRATIONS]
