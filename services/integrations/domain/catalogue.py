"""The public event catalogue: which internal events HR and finance systems hear of, and how.

Invariants are cited by their number in docs/architecture.md §8.

Only the internal types listed in :data:`CATALOGUE` ever leave Tila, and each leaves as a
CloudEvents 1.0 event whose ``data`` is one of the versioned public Structs below, built field by
field from the internal event. An internal change therefore never reaches a subscriber unless
this module maps it, and a public schema changes only by a new ``.vN`` type.

Never in a public event: content (notes, goals, evaluations, reasons), names, e-mail addresses,
personal identity codes. The working-time event names a person only by the buyer's own HR
employee number.
"""

from __future__ import annotations

import builtins
import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
from stdnum.fi import hetu

from shared.contracts import Event
from shared.contracts import billing as billing_events
from shared.contracts import orders as order_events
from shared.contracts import sessions as session_events
from shared.contracts.vocabulary import DeliveryModeName, SupervisionFormName

__all__ = [
    "CATALOGUE",
    "CLOUDEVENTS_ATTRIBUTES",
    "DEFAULT_REASON_CODE",
    "CreditNoteData",
    "InvoiceData",
    "Lookups",
    "OrderData",
    "OrderExtendedData",
    "PublicEvent",
    "PublicType",
    "SessionCancelledData",
    "SessionData",
    "SessionHeldData",
    "SessionRescheduledData",
    "WorkingTimeData",
    "public_events",
    "public_type",
]

DEFAULT_REASON_CODE = "TYONOHJAUS"
SPEC_VERSION = "1.0"
DATA_CONTENT_TYPE = "application/json"
CLOUDEVENTS_ATTRIBUTES = frozenset(
    {"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data"}
)
"""Every top-level key of a public event; nothing else is ever sent."""

Form = SupervisionFormName
Mode = DeliveryModeName
Category = Literal["on_time", "late", "by_supervisor"]


class _Data(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """Base of the public data schemas."""


# --- orders ---


class OrderData(_Data, frozen=True, kw_only=True):
    """An order of work supervision as it is after the change."""

    order_id: uuid.UUID
    buyer_id: uuid.UUID
    provider_id: uuid.UUID
    agreement_id: uuid.UUID
    cost_centre_id: uuid.UUID
    cost_centre_code: str | None
    """The buyer's own code of the cost centre (known to the buyer only)."""
    form: Form
    delivery_mode: Mode
    planned_sessions: int
    session_minutes: int
    participant_count: int
    starts_on: dt.date
    ends_on: dt.date
    committed_cents: int | None
    """The order's committed amount (net, euro cents) once approved."""


class OrderExtendedData(OrderData, frozen=True, kw_only=True):
    additional_sessions: int


# --- sessions ---


class SessionData(_Data, frozen=True, kw_only=True):
    """A supervision session as it is after the change (never what was said in it)."""

    session_id: uuid.UUID
    order_id: uuid.UUID
    cost_centre_id: uuid.UUID
    cost_centre_code: str | None
    form: Form
    delivery_mode: Mode
    starts_at: dt.datetime
    duration_minutes: int


class SessionRescheduledData(SessionData, frozen=True, kw_only=True):
    previous_starts_at: dt.datetime
    previous_duration_minutes: int


class SessionHeldData(SessionData, frozen=True, kw_only=True):
    ends_at: dt.datetime
    attended_count: int


class SessionCancelledData(_Data, frozen=True, kw_only=True):
    """A cancelled session: only which kind of cancellation it was, never why. ``late`` means a
    charged late cancellation; a late cancellation the terms exempt (illness) is told as
    ``on_time``, like a free one, so an HR system can never single out an illness (the sessions
    visibility rule)."""

    session_id: uuid.UUID
    order_id: uuid.UUID
    starts_at: dt.datetime
    category: Category


class WorkingTimeData(_Data, frozen=True, kw_only=True):
    """Working time one employee spent in a held session, for the buyer's HR system: exactly the
    fields invariant 13 allows (employee number, times, reason code, mode, order, cost
    centre), nothing else."""

    employee_number: str | None
    """The buyer's HR employee number of the participant (null when the buyer has not set one)."""
    start: dt.datetime
    end: dt.datetime
    reason_code: str
    """The buyer's own working-time reason code (tenant setting; default TYONOHJAUS)."""
    delivery_mode: Mode
    order_id: uuid.UUID
    cost_centre_id: uuid.UUID
    cost_centre_code: str | None
    """The buyer's own code of the cost centre."""


# --- billing ---


class InvoiceData(_Data, frozen=True, kw_only=True):
    """An issued invoice; amounts in euro cents."""

    invoice_id: uuid.UUID
    number: str
    seller_id: uuid.UUID
    buyer_id: uuid.UUID
    issue_date: dt.date
    due_date: dt.date
    currency: str
    net_cents: int
    vat_cents: int
    gross_cents: int
    payment_reference: str
    billing_month: str
    agreement_id: uuid.UUID | None
    cost_centre_id: uuid.UUID | None
    order_ids: list[uuid.UUID]


class CreditNoteData(InvoiceData, frozen=True, kw_only=True):
    """An issued credit note; its amounts are negative."""

    credited_invoice_id: uuid.UUID
    credited_invoice_number: str


@dataclass(frozen=True)
class Lookups:
    """What the mapping needs from the receiving tenant's read models (no I/O here)."""

    employee_numbers: Mapping[uuid.UUID, str | None]
    """Person id → HR employee number, for the tenant's people known to integrations."""
    cost_centre_codes: Mapping[uuid.UUID, str]
    reason_code: str = DEFAULT_REASON_CODE


class PublicEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A CloudEvents 1.0 event in JSON format, exactly as subscribers receive it."""

    specversion: str
    id: uuid.UUID
    source: str
    type: str
    subject: str
    time: dt.datetime
    datacontenttype: str
    data: _Data


Builder = Callable[[Event, uuid.UUID, Lookups], list[tuple[str, _Data]]]
"""internal event, receiving tenant, lookups → (id suffix, data) per public event."""


@dataclass(frozen=True)
class PublicType:
    type: str
    data: builtins.type[_Data]
    summary: str
    source: str
    internal: tuple[str, ...]
    build: Builder
    buyer_only: bool = False


def _order(e: Event, lookups: Lookups) -> dict[str, Any]:
    assert isinstance(e, order_events.OrderFacts)
    return {
        "order_id": e.order_id,
        "buyer_id": e.buyer_id,
        "provider_id": e.provider_id,
        "agreement_id": e.agreement_id,
        "cost_centre_id": e.cost_centre_id,
        "cost_centre_code": lookups.cost_centre_codes.get(e.cost_centre_id),
        "form": e.form,
        "delivery_mode": e.mode,
        "planned_sessions": e.planned_sessions,
        "session_minutes": e.duration_minutes,
        "participant_count": len(e.participants),
        "starts_on": e.starts_on,
        "ends_on": e.ends_on,
        "committed_cents": e.committed_cents,
    }


def _session(e: Event, lookups: Lookups) -> dict[str, Any]:
    assert isinstance(e, session_events.SessionFacts)
    return {
        "session_id": e.session_id,
        "order_id": e.order_id,
        "cost_centre_id": e.cost_centre_id,
        "cost_centre_code": lookups.cost_centre_codes.get(e.cost_centre_id),
        "form": e.form,
        "delivery_mode": e.mode,
        "starts_at": e.starts_at,
        "duration_minutes": e.duration_minutes,
    }


def _invoice(e: Event) -> dict[str, Any]:
    assert isinstance(e, billing_events.InvoiceFacts)
    return {
        "invoice_id": e.invoice_id,
        "number": e.number,
        "seller_id": e.provider_id,
        "buyer_id": e.buyer_id,
        "issue_date": e.issue_date,
        "due_date": e.due_date,
        "currency": e.currency,
        "net_cents": e.net_cents,
        "vat_cents": e.vat_cents,
        "gross_cents": e.gross_cents,
        "payment_reference": e.payment_reference,
        "billing_month": e.billing_month,
        "agreement_id": e.agreement_id,
        "cost_centre_id": e.cost_centre_id,
        "order_ids": list(e.order_ids),
    }


def _one(data: _Data) -> list[tuple[str, _Data]]:
    return [("", data)]


def _build_order(e: Event, _: uuid.UUID, lookups: Lookups) -> list[tuple[str, _Data]]:
    return _one(OrderData(**_order(e, lookups)))


def _build_order_extended(e: Event, _: uuid.UUID, lookups: Lookups) -> list[tuple[str, _Data]]:
    assert isinstance(e, order_events.OrderExtended)
    return _one(OrderExtendedData(**_order(e, lookups), additional_sessions=e.additional_sessions))


def _build_session(e: Event, _: uuid.UUID, lookups: Lookups) -> list[tuple[str, _Data]]:
    return _one(SessionData(**_session(e, lookups)))


def _build_rescheduled(e: Event, _: uuid.UUID, lookups: Lookups) -> list[tuple[str, _Data]]:
    assert isinstance(e, session_events.SessionRescheduled)
    return _one(
        SessionRescheduledData(
            **_session(e, lookups),
            previous_starts_at=e.previous_starts_at,
            previous_duration_minutes=e.previous_duration_minutes,
        )
    )


def _build_held(e: Event, _: uuid.UUID, lookups: Lookups) -> list[tuple[str, _Data]]:
    assert isinstance(e, session_events.SessionHeld)
    attended = sum(1 for a in e.attendance if a.attended)
    return _one(SessionHeldData(**_session(e, lookups), ends_at=e.ends_at, attended_count=attended))


def _build_cancelled(e: Event, _: uuid.UUID, __: Lookups) -> list[tuple[str, _Data]]:
    assert isinstance(e, session_events.SessionCancelled)
    return _one(
        SessionCancelledData(
            session_id=e.session_id,
            order_id=e.order_id,
            starts_at=e.starts_at,
            category="on_time" if e.category == "late" and e.charge_exempt else e.category,
        )
    )


def _employee_number(value: str | None) -> str | None:
    """The HR employee number, unless it is a personal identity code (henkilötunnus) entered by
    mistake: that never leaves Tila."""
    if value is None or hetu.is_valid(value):
        return None
    return value


def _build_working_time(e: Event, _: uuid.UUID, lookups: Lookups) -> list[tuple[str, _Data]]:
    assert isinstance(e, session_events.SessionHeld)
    return [
        (
            str(a.person_id),
            WorkingTimeData(
                employee_number=_employee_number(lookups.employee_numbers.get(a.person_id)),
                start=e.starts_at,
                end=e.ends_at,
                reason_code=lookups.reason_code,
                delivery_mode=e.mode,
                order_id=e.order_id,
                cost_centre_id=e.cost_centre_id,
                cost_centre_code=lookups.cost_centre_codes.get(e.cost_centre_id),
            ),
        )
        for a in e.attendance
        if a.attended
    ]


def _build_invoice(e: Event, _: uuid.UUID, __: Lookups) -> list[tuple[str, _Data]]:
    return _one(InvoiceData(**_invoice(e)))


def _build_credit_note(e: Event, _: uuid.UUID, __: Lookups) -> list[tuple[str, _Data]]:
    assert isinstance(e, billing_events.CreditNoteIssued)
    return _one(
        CreditNoteData(
            **_invoice(e),
            credited_invoice_id=e.credited_invoice_id,
            credited_invoice_number=e.credited_invoice_number,
        )
    )


_PREFIX = "fi.tila."

CATALOGUE: tuple[PublicType, ...] = (
    PublicType(
        f"{_PREFIX}order.approved.v1", OrderData, "An order was approved by the buyer's approver.",
        "urn:tila:orders", (order_events.OrderApproved.event_type,), build=_build_order,
    ),
    PublicType(
        f"{_PREFIX}order.started.v1", OrderData, "Supervision under the order started.",
        "urn:tila:orders", (order_events.OrderStarted.event_type,), build=_build_order,
    ),
    PublicType(
        f"{_PREFIX}order.extended.v1", OrderExtendedData, "The order was extended by more sessions.",
        "urn:tila:orders", (order_events.OrderExtended.event_type,), build=_build_order_extended,
    ),
    PublicType(
        f"{_PREFIX}order.completed.v1", OrderData, "Every session of the order was held.",
        "urn:tila:orders", (order_events.OrderCompleted.event_type,), build=_build_order,
    ),
    PublicType(
        f"{_PREFIX}order.interrupted.v1", OrderData, "The order ended before all its sessions were held.",
        "urn:tila:orders", (order_events.OrderInterrupted.event_type,), build=_build_order,
    ),
    PublicType(
        f"{_PREFIX}order.cancelled.v1", OrderData, "The order was cancelled.",
        "urn:tila:orders", (order_events.OrderCancelled.event_type,), build=_build_order,
    ),
    PublicType(
        f"{_PREFIX}session.scheduled.v1", SessionData, "A session was scheduled.",
        "urn:tila:sessions", (session_events.SessionScheduled.event_type,), build=_build_session,
    ),
    PublicType(
        f"{_PREFIX}session.rescheduled.v1", SessionRescheduledData, "A session was moved.",
        "urn:tila:sessions", (session_events.SessionRescheduled.event_type,), build=_build_rescheduled,
    ),
    PublicType(
        f"{_PREFIX}session.held.v1", SessionHeldData, "A session was held.",
        "urn:tila:sessions", (session_events.SessionHeld.event_type,), build=_build_held,
    ),
    PublicType(
        f"{_PREFIX}session.cancelled.v1", SessionCancelledData,
        "A session was cancelled; only the category (on_time, late, by_supervisor) is told, and "
        "late only when it is charged (an illness-exempt late cancellation is told as on_time).",
        "urn:tila:sessions", (session_events.SessionCancelled.event_type,), build=_build_cancelled,
    ),
    PublicType(
        f"{_PREFIX}working_time.recorded.v1", WorkingTimeData,
        "Working time of one attending employee in a held session (buyer only).",
        "urn:tila:sessions", (session_events.SessionHeld.event_type,), build=_build_working_time,
        buyer_only=True,
    ),
    PublicType(
        f"{_PREFIX}invoice.issued.v1", InvoiceData, "An invoice was issued.",
        "urn:tila:billing", (billing_events.InvoiceIssued.event_type,), build=_build_invoice,
    ),
    PublicType(
        f"{_PREFIX}credit_note.issued.v1", CreditNoteData, "A credit note was issued.",
        "urn:tila:billing", (billing_events.CreditNoteIssued.event_type,), build=_build_credit_note,
    ),
)  # fmt: skip


_BY_TYPE = {p.type: p for p in CATALOGUE}
_BY_INTERNAL: dict[str, list[PublicType]] = {}
for _public in CATALOGUE:
    for _internal in _public.internal:
        _BY_INTERNAL.setdefault(_internal, []).append(_public)

PUBLIC_TYPES = frozenset(_BY_TYPE)
INTERNAL_TYPES = frozenset(_BY_INTERNAL)


def public_type(name: str) -> PublicType | None:
    return _BY_TYPE.get(name)


def _buyer_of(event: Event) -> uuid.UUID | None:
    buyer = getattr(event, "buyer_id", None)
    return buyer if isinstance(buyer, uuid.UUID) else None


def public_events(
    *,
    internal_type: str,
    event: Event,
    event_id: uuid.UUID,
    subject: str,
    occurred_at: dt.datetime,
    tenant_id: uuid.UUID,
    lookups: Lookups,
) -> list[PublicEvent]:
    """The public events one internal event becomes for one of its tenants (often none)."""
    made: list[PublicEvent] = []
    for public in _BY_INTERNAL.get(internal_type, []):
        if public.buyer_only and _buyer_of(event) != tenant_id:
            continue
        for suffix, data in public.build(event, tenant_id, lookups):
            made.append(
                PublicEvent(
                    specversion=SPEC_VERSION,
                    # One internal event may become several public ones: each id is derived from
                    # the internal id, so a redelivered internal event makes the same public ids.
                    id=uuid.uuid5(event_id, f"{public.type}/{suffix}"),
                    source=public.source,
                    type=public.type,
                    subject=subject,
                    time=occurred_at,
                    datacontenttype=DATA_CONTENT_TYPE,
                    data=data,
                )
            )
    return made
