"""Use cases inside a tenant: org units, cost centres and their approvers, people, supervisor profiles."""

from services.organisations.handlers.directory.people import *  # noqa: F403
from services.organisations.handlers.directory.people import __all__ as __all__
