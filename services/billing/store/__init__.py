"""The billing service's SQL: one function per query, parameterised; typed rows out
(``records``), never ``asyncpg.Record``.

- ``read_models``: parties, cost centres, orders, the buyer's invoicing requirements;
- ``items``: billable items and the set-based invoice run;
- ``invoices``: issuing, crediting, the specification and the document lines.
"""

from services.billing.store.invoices import (
    document_lines,
    fetch_invoice,
    insert_credit_lines,
    insert_credit_note,
    invoice_facts,
    invoiced_lines,
    issue,
    list_invoices,
    next_sequence,
    specification,
)
from services.billing.store.items import (
    assign_unbilled_items,
    create_drafts,
    insert_billable_item,
    list_drafts,
    lock_provider_run,
    prefer_hash_joins,
    rebill_items,
    recompute_drafts,
)
from services.billing.store.read_models import (
    fetch_party,
    upsert_buyer_invoicing,
    upsert_cost_centre,
    upsert_order,
    upsert_party,
)
from services.billing.store.records import Invoice, IssueFacts, SpecificationRow

__all__ = [
    "Invoice",
    "IssueFacts",
    "SpecificationRow",
    "assign_unbilled_items",
    "create_drafts",
    "document_lines",
    "fetch_invoice",
    "fetch_party",
    "insert_billable_item",
    "insert_credit_lines",
    "insert_credit_note",
    "invoice_facts",
    "invoiced_lines",
    "issue",
    "list_drafts",
    "list_invoices",
    "lock_provider_run",
    "next_sequence",
    "prefer_hash_joins",
    "rebill_items",
    "recompute_drafts",
    "specification",
    "upsert_buyer_invoicing",
    "upsert_cost_centre",
    "upsert_order",
    "upsert_party",
]
