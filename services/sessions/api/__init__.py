"""HTTP API of the sessions service.

One module per sub-domain (content, processes, routes, sessions);
the public names are re-exported here.
"""

from __future__ import annotations

from services.sessions.api.content import (
    CONTENT_KEYRING_STATE_KEY,
    ConsentBody,
    ContentBody,
    ContentController,
    ContentOut,
    ContentStatusOut,
    RetentionBody,
    ShareBody,
    UpdateBody,
    provide_keyring,
    set_content_retention,
)
from services.sessions.api.processes import (
    READERS,
    SUPERVISORS,
    AgreementBody,
    EvaluationBody,
    ProcessController,
    ProcessOut,
    TrialDecisionBody,
)
from services.sessions.api.routes import (
    ROUTES,
)
from services.sessions.api.sessions import (
    AttendanceBody,
    CancelBody,
    HeldBody,
    ScheduleBody,
    SessionController,
    SessionOut,
)

__all__ = [
    "CONTENT_KEYRING_STATE_KEY",
    "READERS",
    "ROUTES",
    "SUPERVISORS",
    "AgreementBody",
    "AttendanceBody",
    "CancelBody",
    "ConsentBody",
    "ContentBody",
    "ContentController",
    "ContentOut",
    "ContentStatusOut",
    "EvaluationBody",
    "HeldBody",
    "ProcessController",
    "ProcessOut",
    "RetentionBody",
    "ScheduleBody",
    "SessionController",
    "SessionOut",
    "ShareBody",
    "TrialDecisionBody",
    "UpdateBody",
    "provide_keyring",
    "set_content_retention",
]
