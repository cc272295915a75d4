"""Framework agreements over HTTP: a buyer admin drafts, activates, changes and ends them.

Every route acts on the caller's own tenant (from the token); another tenant's ids answer 404.
Updates and transitions take ``If-Match`` (a stale ETag is refused with 412); every broken rule
answers 422 problem+json naming the field.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, TypeVar

import msgspec
from litestar import Controller, Response, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from services.orders import handlers
from services.orders.domain.agreements import (
    DEFAULT_PAYMENT_TERMS_DAYS,
    AdmittedProvider,
    AgreementContent,
    AgreementStatus,
    CancellationTerms,
    DeliveryMode,
    FrameworkAgreement,
    Lot,
    PriceItem,
    PriceUnit,
    QualificationKind,
    SupervisionForm,
    Validity,
)
from shared.auth.guards import requires_role
from shared.auth.principal import APPROVER, BUYER_ADMIN
from shared.http.dependencies import Caller, Pool
from shared.http.pagination import Page, PageSize
from shared.http.versions import IfMatch, expected_version, versioned

__all__ = [
    "AgreementBody",
    "AgreementController",
    "AgreementOut",
    "CancellationBody",
    "LotBody",
    "PriceItemBody",
    "ProviderBody",
    "ValidityBody",
]

T = TypeVar("T")

BUYER_ADMINS = [requires_role(BUYER_ADMIN)]
BUYER_READERS = [requires_role(BUYER_ADMIN, APPROVER)]

# --- bodies (the same shapes in and out) ---


class _Body(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel", kw_only=True):
    pass


Text = Annotated[str, msgspec.Meta(max_length=1000)]


class ValidityBody(_Body, frozen=True, kw_only=True):
    starts_on: Annotated[dt.date, msgspec.Meta(description="The first day the agreement is in force")]
    first_term_ends_on: Annotated[
        dt.date,
        msgspec.Meta(
            description="The last day of the first contract term; options may extend it up to hardEndOn"
        ),
    ]
    hard_end_on: Annotated[
        dt.date,
        msgspec.Meta(
            description=(
                "The last day the agreement can be in force with every option used; no order may run past it"
            )
        ),
    ]


class ProviderBody(_Body, frozen=True, kw_only=True):
    provider_id: Annotated[uuid.UUID, msgspec.Meta(description="The admitted provider's tenant id")]
    rank: Annotated[
        int | None,
        msgspec.Meta(
            description=(
                "The provider's place in the lot's ranking (1 = asked first) when orders go by "
                "ranking; absent when the lot is not ranked"
            )
        ),
    ] = None


class LotBody(_Body, frozen=True, kw_only=True):
    name: Annotated[
        Text,
        msgspec.Meta(
            description="The lot's name, unique within the agreement; orders and price items name it"
        ),
    ]
    forms: Annotated[
        list[SupervisionForm],
        msgspec.Meta(description="The supervision forms (individual, group, team, …) the lot covers"),
    ]
    region: Annotated[
        Text,
        msgspec.Meta(description="Where the lot's supervision is delivered (a region or area of the buyer)"),
    ]
    required_qualifications: Annotated[
        list[QualificationKind],
        msgspec.Meta(description="Qualifications a supervisor must hold to supervise in this lot"),
    ] = []
    providers: Annotated[
        list[ProviderBody], msgspec.Meta(description="The providers admitted to the lot, with their ranks")
    ] = []


class PriceItemBody(_Body, frozen=True, kw_only=True):
    lot: Annotated[Text, msgspec.Meta(description="The lot the price is for")]
    form: Annotated[SupervisionForm, msgspec.Meta(description="The supervision form the price is for")]
    duration_minutes: Annotated[
        int, msgspec.Meta(description="The session length the price is for, in minutes")
    ]
    mode: Annotated[
        DeliveryMode,
        msgspec.Meta(description="How the session is delivered (on site, remote, …) at this price"),
    ]
    unit: Annotated[PriceUnit, msgspec.Meta(description="What the price is per: a session or an hour")]
    net_price_cents: Annotated[int, msgspec.Meta(description="The price before VAT, in euro cents")]
    valid_from: Annotated[
        dt.date,
        msgspec.Meta(
            description=(
                "The first day the price is in force; the latest one on or before an order's start applies"
            )
        ),
    ]


class CancellationBody(_Body, frozen=True, kw_only=True):
    late_threshold_hours: Annotated[
        int, msgspec.Meta(description="A cancellation fewer than this many hours before the session is late")
    ] = 24
    late_cancellation_charge_percent: Annotated[
        int, msgspec.Meta(description="Share of the session price charged for a late cancellation (0–100)")
    ] = 100
    no_show_charge_percent: Annotated[
        int,
        msgspec.Meta(
            description="Share of the session price charged when a participant does not come (0–100)"
        ),
    ] = 100
    illness_exempt: Annotated[
        bool, msgspec.Meta(description="Whether a late cancellation for illness is free of charge")
    ] = False


class AgreementBody(_Body, frozen=True, kw_only=True):
    """A whole agreement as the buyer writes it; a PUT replaces all of it."""

    number: Annotated[
        Text,
        msgspec.Meta(description="The agreement's number (diaarinumero) as the buyer's procurement gave it"),
    ]
    title: Annotated[Text, msgspec.Meta(description="The agreement's title")]
    validity: Annotated[ValidityBody, msgspec.Meta(description="When the agreement is in force")]
    lots: Annotated[list[LotBody], msgspec.Meta(description="The agreement's lots (osa-alueet)")] = []
    price_items: Annotated[
        list[PriceItemBody],
        msgspec.Meta(description="The price list: one price per lot, form, duration, mode and start date"),
    ] = []
    cancellation: Annotated[
        CancellationBody, msgspec.Meta(description="What late cancellations and no-shows cost")
    ] = CancellationBody()
    payment_terms_days: Annotated[
        int, msgspec.Meta(description="Days from the invoice date to its due date (0–120).")
    ] = DEFAULT_PAYMENT_TERMS_DAYS


class AgreementOut(AgreementBody, frozen=True, kw_only=True):
    id: Annotated[uuid.UUID, msgspec.Meta(description="The agreement's id")]
    status: Annotated[
        AgreementStatus,
        msgspec.Meta(description="Where the agreement is in its lifecycle (draft, active, ended, …)"),
    ]
    version: Annotated[
        int, msgspec.Meta(description="The agreement's version; its ETag, to send back as If-Match")
    ]


def _content(body: AgreementBody) -> AgreementContent:
    terms = body.cancellation
    return AgreementContent(
        number=body.number,
        title=body.title,
        validity=Validity(
            starts_on=body.validity.starts_on,
            first_term_ends_on=body.validity.first_term_ends_on,
            hard_end_on=body.validity.hard_end_on,
        ),
        lots=tuple(
            Lot(
                name=lot.name,
                forms=tuple(lot.forms),
                region=lot.region,
                required_qualifications=frozenset(lot.required_qualifications),
                providers=tuple(
                    AdmittedProvider(provider_id=p.provider_id, rank=p.rank) for p in lot.providers
                ),
            )
            for lot in body.lots
        ),
        price_items=tuple(
            PriceItem(
                lot=item.lot,
                form=item.form,
                duration_minutes=item.duration_minutes,
                mode=item.mode,
                unit=item.unit,
                net_price_cents=item.net_price_cents,
                valid_from=item.valid_from,
            )
            for item in body.price_items
        ),
        cancellation=CancellationTerms(
            late_threshold_hours=terms.late_threshold_hours,
            late_cancellation_charge_percent=terms.late_cancellation_charge_percent,
            no_show_charge_percent=terms.no_show_charge_percent,
            illness_exempt=terms.illness_exempt,
        ),
        payment_terms_days=body.payment_terms_days,
    )


def _out(agreement: FrameworkAgreement) -> AgreementOut:
    content = agreement.content
    terms = content.cancellation
    return AgreementOut(
        id=agreement.agreement_id,
        status=agreement.status,
        version=agreement.version,
        number=content.number,
        title=content.title,
        validity=ValidityBody(
            starts_on=content.validity.starts_on,
            first_term_ends_on=content.validity.first_term_ends_on,
            hard_end_on=content.validity.hard_end_on,
        ),
        lots=[
            LotBody(
                name=lot.name,
                forms=list(lot.forms),
                region=lot.region,
                required_qualifications=sorted(lot.required_qualifications),
                providers=[ProviderBody(provider_id=p.provider_id, rank=p.rank) for p in lot.providers],
            )
            for lot in content.lots
        ],
        price_items=[
            PriceItemBody(
                lot=item.lot,
                form=item.form,
                duration_minutes=item.duration_minutes,
                mode=item.mode,
                unit=item.unit,
                net_price_cents=item.net_price_cents,
                valid_from=item.valid_from,
            )
            for item in content.price_items
        ],
        cancellation=CancellationBody(
            late_threshold_hours=terms.late_threshold_hours,
            late_cancellation_charge_percent=terms.late_cancellation_charge_percent,
            no_show_charge_percent=terms.no_show_charge_percent,
            illness_exempt=terms.illness_exempt,
        ),
        payment_terms_days=content.payment_terms_days,
    )


class AgreementController(Controller):
    """A buyer's framework agreements (puitejärjestelyt): lots, providers, price list, terms."""

    path = "/agreements"
    tags = ["framework agreements"]

    @post("/", operation_id="createAgreement", summary="Draft a framework agreement", guards=BUYER_ADMINS)
    async def create(
        self, data: JSONBody[AgreementBody], pool: Pool, principal: Caller
    ) -> Response[AgreementOut]:
        agreement = await handlers.create_agreement(pool, principal, _content(data))
        return versioned(_out(agreement), agreement.version, status_code=201)

    @get(
        "/", operation_id="listAgreements", summary="The tenant's framework agreements", guards=BUYER_READERS
    )
    async def index(
        self,
        pool: Pool,
        principal: Caller,
        cursor: FromQuery[str | None] = None,
        limit: PageSize = 50,
        status: FromQuery[AgreementStatus | None] = None,
    ) -> Page[AgreementOut]:
        rows, next_cursor = await handlers.list_agreements(
            pool, principal, cursor=cursor, limit=limit, status=status
        )
        return Page(items=[_out(a) for a in rows], next_cursor=next_cursor)

    @get(
        "/{agreement_id:uuid}",
        operation_id="getAgreement",
        summary="One framework agreement",
        guards=BUYER_READERS,
    )
    async def read(
        self, agreement_id: FromPath[uuid.UUID], pool: Pool, principal: Caller
    ) -> Response[AgreementOut]:
        agreement = await handlers.get_agreement(pool, principal, agreement_id)
        return versioned(_out(agreement), agreement.version)

    @put(
        "/{agreement_id:uuid}",
        operation_id="replaceAgreement",
        summary="Replace a draft; of an active agreement only the price list and providers may change",
        guards=BUYER_ADMINS,
    )
    async def replace(
        self,
        agreement_id: FromPath[uuid.UUID],
        data: JSONBody[AgreementBody],
        pool: Pool,
        principal: Caller,
        if_match: IfMatch = None,
    ) -> Response[AgreementOut]:
        agreement = await handlers.replace_agreement(
            pool, principal, agreement_id, _content(data), expected_version=expected_version(if_match)
        )
        return versioned(_out(agreement), agreement.version)

    @post(
        "/{agreement_id:uuid}/activate",
        operation_id="activateAgreement",
        summary="Bring a draft into force (needs a lot, an admitted provider and a price item)",
        guards=BUYER_ADMINS,
        status_code=200,
    )
    async def activate(
        self, agreement_id: FromPath[uuid.UUID], pool: Pool, principal: Caller, if_match: IfMatch = None
    ) -> Response[AgreementOut]:
        agreement = await handlers.activate_agreement(
            pool, principal, agreement_id, expected_version=expected_version(if_match)
        )
        return versioned(_out(agreement), agreement.version)

    @post(
        "/{agreement_id:uuid}/end",
        operation_id="endAgreement",
        summary="End an active agreement: no new orders under it",
        guards=BUYER_ADMINS,
        status_code=200,
    )
    async def end(
        self, agreement_id: FromPath[uuid.UUID], pool: Pool, principal: Caller, if_match: IfMatch = None
    ) -> Response[AgreementOut]:
        agreement = await handlers.end_agreement(
            pool, principal, agreement_id, expected_version=expected_version(if_match)
        )
        return versioned(_out(agreement), agreement.version)
