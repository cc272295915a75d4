"""Plain parameterised SQL of the sessions service, one function per query.

One module per sub-domain (audit, content, processes, sessions);
the public names are re-exported here.
"""

from __future__ import annotations

from services.sessions.store.audit import (
    append_entry,
    fetch_chain,
)
from services.sessions.store.content import (
    ItemRow,
    KeyRow,
    add_approval,
    clear_goal_consents,
    dequeue_shredded,
    due_for_shredding,
    fetch_item_meta,
    fetch_key,
    fetch_parties,
    fetch_retention_months,
    fetch_visible_item,
    insert_item,
    insert_key,
    keys_not_wrapped_by,
    list_visible_items,
    rewrap_key,
    session_in_process,
    set_goal_consent,
    set_retention_months,
    set_shared_with_supervisor,
    shred_key,
    tenants_with_closures,
    update_item_body,
)
from services.sessions.store.processes import (
    fetch_process,
    fetch_process_by_order,
    insert_process,
    list_processes,
    update_process,
)
from services.sessions.store.sessions import (
    Overlap,
    fetch_session,
    insert_session,
    list_sessions,
    overlapping_session_of_supervisor,
    sessions_of,
    update_session,
)

__all__ = [
    "ItemRow",
    "KeyRow",
    "Overlap",
    "add_approval",
    "append_entry",
    "clear_goal_consents",
    "dequeue_shredded",
    "due_for_shredding",
    "fetch_chain",
    "fetch_item_meta",
    "fetch_key",
    "fetch_parties",
    "fetch_process",
    "fetch_process_by_order",
    "fetch_retention_months",
    "fetch_session",
    "fetch_visible_item",
    "insert_item",
    "insert_key",
    "insert_process",
    "insert_session",
    "keys_not_wrapped_by",
    "list_processes",
    "list_sessions",
    "list_visible_items",
    "overlapping_session_of_supervisor",
    "rewrap_key",
    "session_in_process",
    "sessions_of",
    "set_goal_consent",
    "set_retention_months",
    "set_shared_with_supervisor",
    "shred_key",
    "tenants_with_closures",
    "update_item_body",
    "update_process",
    "update_session",
]
