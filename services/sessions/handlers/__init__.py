"""The sessions service's use cases: the only code that writes its tables.

One module per sub-domain (content, processes, retention, sessions);
the public names are re-exported here.
"""

from __future__ import annotations

from services.sessions.handlers.content import (
    ContentShredded,
    ContentStatus,
    ContentUnreadable,
    approve_summary,
    content_status,
    create_item,
    get_item,
    list_items,
    rewrap_keys,
    set_goal_consent,
    share_reflection,
    update_item,
    verify_audit,
)
from services.sessions.handlers.processes import (
    ProcessNotYetKnown,
    actor_of,
    announce,
    apply_order_accepted,
    apply_order_closed,
    apply_order_extended,
    decide_trial,
    get_process,
    list_processes,
    process_facts,
    readable_process,
    record_agreement,
    record_evaluation,
    utcnow,
    with_approvals,
)
from services.sessions.handlers.retention import (
    RETENTION_ACTOR,
    retention_months,
    set_retention_months,
    shred_due,
)
from services.sessions.handlers.sessions import (
    cancel_session,
    get_session,
    list_sessions,
    mark_held,
    record_no_show,
    reschedule_session,
    schedule_session,
)

__all__ = [
    "RETENTION_ACTOR",
    "ContentShredded",
    "ContentStatus",
    "ContentUnreadable",
    "ProcessNotYetKnown",
    "actor_of",
    "announce",
    "apply_order_accepted",
    "apply_order_closed",
    "apply_order_extended",
    "approve_summary",
    "cancel_session",
    "content_status",
    "create_item",
    "decide_trial",
    "get_item",
    "get_process",
    "get_session",
    "list_items",
    "list_processes",
    "list_sessions",
    "mark_held",
    "process_facts",
    "readable_process",
    "record_agreement",
    "record_evaluation",
    "record_no_show",
    "reschedule_session",
    "retention_months",
    "rewrap_keys",
    "schedule_session",
    "set_goal_consent",
    "set_retention_months",
    "share_reflection",
    "shred_due",
    "update_item",
    "utcnow",
    "verify_audit",
    "with_approvals",
]
