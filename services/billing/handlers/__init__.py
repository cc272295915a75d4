"""The billing service's use cases: the only code that writes its tables.

- ``read_models``: organisations, orders and sessions events into read models and billable items;
  the buyer's invoicing requirements;
- ``invoices``: who sees which invoice, the invoice run, issuing, the documents;
- ``credits``: credit notes.

The rules they apply are ``domain``'s (issuing, credits, items, documents); the SQL is ``store``'s.
Each use case is one transaction and its events go to the outbox in it.
"""

from services.billing.domain.issuing import DEFAULT_PAYMENT_TERMS_DAYS
from services.billing.handlers.credits import credit_invoice
from services.billing.handlers.invoices import (
    DocumentFormat,
    document_chunks,
    get_invoice,
    get_specification,
    issue_invoice,
    list_invoices,
    open_document,
    run_invoices,
)
from services.billing.handlers.read_models import (
    apply_cost_centre,
    apply_order,
    apply_session,
    apply_tenant_facts,
    set_invoicing_requirements,
)
from services.billing.store import Invoice, SpecificationRow

__all__ = [
    "DEFAULT_PAYMENT_TERMS_DAYS",
    "DocumentFormat",
    "Invoice",
    "SpecificationRow",
    "apply_cost_centre",
    "apply_order",
    "apply_session",
    "apply_tenant_facts",
    "credit_invoice",
    "document_chunks",
    "get_invoice",
    "get_specification",
    "issue_invoice",
    "list_invoices",
    "open_document",
    "run_invoices",
    "set_invoicing_requirements",
]
