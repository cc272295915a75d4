"""The billing service's handlers (one module for now; split by sub-domain next)."""

from services.billing.handlers.invoices import (
    DEFAULT_PAYMENT_TERMS_DAYS,
    DocumentFormat,
    apply_cost_centre,
    apply_order,
    apply_session,
    apply_tenant_facts,
    credit_invoice,
    document_chunks,
    get_invoice,
    get_specification,
    issue_invoice,
    list_invoices,
    open_document,
    run_invoices,
    set_invoicing_requirements,
)

__all__ = [
    "DEFAULT_PAYMENT_TERMS_DAYS",
    "DocumentFormat",
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
