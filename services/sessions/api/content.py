"""The content wall over HTTP: notes, reflections, goals, evaluations and the shared summary.

Every route is under ``/sessions/processes/{process_id}/``. Who may read or write what follows
``domain/visibility.py``; a process the caller has no relationship to answers 404 (whichever
tenant), a related caller's forbidden action 403, a process whose content was shredded 410. Every
attempt, allowed or refused, is in the audit log. Error bodies never repeat content.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

import msgspec
from litestar import Controller, Response, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from services.sessions.adapters.crypto import ContentKeyring
from services.sessions.domain.content import MAX_BODY_CHARS, ContentItem, Phase
from services.sessions.domain.visibility import ContentKind
from services.sessions.handlers import content as handlers
from services.sessions.handlers import retention
from shared.errors import Unavailable
from shared.http.dependencies import Caller, Pool
from shared.http.pagination import Page, PageSize
from shared.http.versions import IfMatch, expected_version, versioned

__all__ = [
    "CONTENT_KEYRING_STATE_KEY",
    "ConsentBody",
    "ContentBody",
    "ContentController",
    "ContentOut",
    "ContentStatusOut",
    "RetentionBody",
    "ShareBody",
    "UpdateBody",
    "provide_keyring",
    "set_content_retention",
]

CONTENT_KEYRING_STATE_KEY = "content_keyring"

Keyring = NamedDependency[ContentKeyring]
Body = Annotated[str, msgspec.Meta(max_length=MAX_BODY_CHARS)]


async def provide_keyring(state: State) -> ContentKeyring:
    """The app's content keyring, set on ``app.state`` by ``create_app`` from its settings."""
    keyring = state.get(CONTENT_KEYRING_STATE_KEY)
    if keyring is None:
        raise Unavailable("no content keys are configured (TILA_SESSIONS_CONTENT_KEYS)")
    assert isinstance(keyring, ContentKeyring)
    return keyring


class _In(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel", kw_only=True):
    pass


class ContentBody(_In, frozen=True, kw_only=True):
    kind: Annotated[
        ContentKind, msgspec.Meta(description="What the item is: a goal, a note, an evaluation, a summary, …")
    ]
    body: Annotated[
        Body,
        msgspec.Meta(
            description=(
                "The text of the item; supervision content, encrypted at rest and never shown to "
                "the employer unless shared"
            )
        ),
    ]
    phase: Annotated[
        Phase | None, msgspec.Meta(description="mid or final for evaluations; nothing else has one.")
    ] = None
    session_id: Annotated[
        uuid.UUID | None, msgspec.Meta(description="The session of this process the item is about, if any.")
    ] = None


class UpdateBody(_In, frozen=True, kw_only=True):
    body: Annotated[Body, msgspec.Meta(description="The item's new text, replacing the old")]


class ShareBody(_In, frozen=True, kw_only=True):
    shared: Annotated[
        bool, msgspec.Meta(description="Whether the author shares the item with the process's supervisor")
    ]


class ConsentBody(_In, frozen=True, kw_only=True):
    consent: Annotated[
        bool,
        msgspec.Meta(
            description="Whether the participant consents to the process's goals being shown to the employer"
        ),
    ]


class RetentionBody(_In, frozen=True, kw_only=True):
    months: Annotated[
        Annotated[int, msgspec.Meta(ge=1, le=240)],
        msgspec.Meta(
            description=(
                "How many months after a process closes its content is kept before it is shredded (1–240)"
            )
        ),
    ]


class ContentOut(msgspec.Struct, frozen=True, rename="camel", kw_only=True):
    id: Annotated[uuid.UUID, msgspec.Meta(description="The item's id")]
    process_id: Annotated[uuid.UUID, msgspec.Meta(description="The supervision process the item belongs to")]
    kind: Annotated[
        ContentKind, msgspec.Meta(description="What the item is: a goal, a note, an evaluation, a summary, …")
    ]
    phase: Annotated[
        Phase | None, msgspec.Meta(description="mid or final for evaluations; absent for other kinds")
    ]
    owner_id: Annotated[
        uuid.UUID | None,
        msgspec.Meta(description="The author (person id); absent for items of the process as a whole"),
    ]
    body: Annotated[str, msgspec.Meta(description="The text of the item")]
    shared_with_supervisor: Annotated[
        bool, msgspec.Meta(description="Whether the author shares the item with the process's supervisor")
    ]
    approved_by: Annotated[
        list[uuid.UUID] | None,
        msgspec.Meta(
            description="For a summary, the participants who approved this version; absent for other kinds"
        ),
    ]
    version: Annotated[
        int, msgspec.Meta(description="The item's version; its ETag, to send back as If-Match")
    ]
    created_at: Annotated[dt.datetime, msgspec.Meta(description="When the item was written")]
    updated_at: Annotated[dt.datetime, msgspec.Meta(description="When the item was last changed")]
    session_id: Annotated[
        uuid.UUID | None, msgspec.Meta(description="The session of this process the item is about, if any")
    ] = None


class ContentStatusOut(msgspec.Struct, frozen=True, rename="camel", kw_only=True):
    process_id: Annotated[uuid.UUID, msgspec.Meta(description="The supervision process")]
    relation: Annotated[
        str,
        msgspec.Meta(
            description="How the caller relates to the process (participant, supervisor, employer, …)"
        ),
    ]
    goals_shared_with_employer: Annotated[
        bool, msgspec.Meta(description="Whether every participant consented, so the employer sees the goals")
    ]
    consented: Annotated[
        list[uuid.UUID],
        msgspec.Meta(description="The participants who consented to sharing the goals with the employer"),
    ]
    shredded: Annotated[
        bool,
        msgspec.Meta(description="Whether the process's content has been shredded after its retention time"),
    ]


def _out(item: ContentItem) -> ContentOut:
    return ContentOut(
        id=item.item_id,
        process_id=item.process_id,
        kind=item.kind,
        phase=item.phase,
        owner_id=None if item.participants_hidden else item.owner_id,
        body=item.body,
        shared_with_supervisor=item.shared_with_supervisor,
        approved_by=None if item.participants_hidden else sorted(item.approved_by),
        version=item.version,
        created_at=item.created_at,
        updated_at=item.updated_at,
        session_id=item.session_id,
    )


def _status(status: handlers.ContentStatus) -> ContentStatusOut:
    return ContentStatusOut(
        process_id=status.process_id,
        relation=status.relation.value,
        goals_shared_with_employer=status.goals_shared_with_employer,
        consented=sorted(status.consented),
        shredded=status.shredded,
    )


class ContentController(Controller):
    """Confidential content of a supervision process, encrypted per process and audited."""

    path = "/processes/{process_id:uuid}"
    tags = ["content"]
    dependencies = {"keyring": Provide(provide_keyring)}

    @post(
        "/content",
        operation_id="createContent",
        summary="Write a note, reflection, goal, evaluation or summary",
    )
    async def create(
        self,
        process_id: FromPath[uuid.UUID],
        data: JSONBody[ContentBody],
        pool: Pool,
        principal: Caller,
        keyring: Keyring,
    ) -> Response[ContentOut]:
        item = await handlers.create_item(
            pool,
            keyring,
            principal,
            process_id,
            kind=data.kind,
            phase=data.phase,
            body=data.body,
            session_id=data.session_id,
        )
        return versioned(_out(item), item.version, status_code=201)

    @get("/content", operation_id="listContent", summary="The process's content the caller may read")
    async def index(
        self,
        process_id: FromPath[uuid.UUID],
        pool: Pool,
        principal: Caller,
        keyring: Keyring,
        kind: FromQuery[ContentKind | None] = None,
        session_id: Annotated[uuid.UUID | None, QueryParameter(name="sessionId")] = None,
        cursor: FromQuery[str | None] = None,
        limit: PageSize = 50,
    ) -> Page[ContentOut]:
        items, next_cursor = await handlers.list_items(
            pool, keyring, principal, process_id, kind=kind, cursor=cursor, limit=limit, session_id=session_id
        )
        return Page(items=[_out(i) for i in items], next_cursor=next_cursor)

    @get("/content/{item_id:uuid}", operation_id="getContent", summary="One content item")
    async def read(
        self,
        process_id: FromPath[uuid.UUID],
        item_id: FromPath[uuid.UUID],
        pool: Pool,
        principal: Caller,
        keyring: Keyring,
    ) -> Response[ContentOut]:
        item = await handlers.get_item(pool, keyring, principal, process_id, item_id)
        return versioned(_out(item), item.version)

    @put("/content/{item_id:uuid}", operation_id="updateContent", summary="The author rewrites an item")
    async def update(
        self,
        process_id: FromPath[uuid.UUID],
        item_id: FromPath[uuid.UUID],
        data: JSONBody[UpdateBody],
        pool: Pool,
        principal: Caller,
        keyring: Keyring,
        if_match: IfMatch = None,
    ) -> Response[ContentOut]:
        item = await handlers.update_item(
            pool,
            keyring,
            principal,
            process_id,
            item_id,
            body=data.body,
            expected_version=expected_version(if_match),
        )
        return versioned(_out(item), item.version)

    @post(
        "/content/{item_id:uuid}/share",
        operation_id="shareReflection",
        summary="A participant shows a reflection to the supervisor, or hides it again",
        status_code=200,
    )
    async def share(
        self,
        process_id: FromPath[uuid.UUID],
        item_id: FromPath[uuid.UUID],
        data: JSONBody[ShareBody],
        pool: Pool,
        principal: Caller,
        keyring: Keyring,
        if_match: IfMatch = None,
    ) -> Response[ContentOut]:
        item = await handlers.share_reflection(
            pool,
            keyring,
            principal,
            process_id,
            item_id,
            shared=data.shared,
            expected_version=expected_version(if_match),
        )
        return versioned(_out(item), item.version)

    @post(
        "/content/{item_id:uuid}/approve",
        operation_id="approveSummary",
        summary="A participant approves the summary as it is (its ETag as If-Match is required: 428 without)",
        status_code=200,
    )
    async def approve(
        self,
        process_id: FromPath[uuid.UUID],
        item_id: FromPath[uuid.UUID],
        pool: Pool,
        principal: Caller,
        keyring: Keyring,
        if_match: IfMatch = None,
    ) -> Response[ContentOut]:
        item = await handlers.approve_summary(
            pool, keyring, principal, process_id, item_id, expected_version=expected_version(if_match)
        )
        return versioned(_out(item), item.version)

    @put(
        "/goal-consent",
        operation_id="setGoalConsent",
        summary="A participant agrees (or not) that the employer may read the goals",
    )
    async def consent(
        self,
        process_id: FromPath[uuid.UUID],
        data: JSONBody[ConsentBody],
        pool: Pool,
        principal: Caller,
        keyring: Keyring,
    ) -> ContentStatusOut:
        return _status(
            await handlers.set_goal_consent(pool, keyring, principal, process_id, consent=data.consent)
        )

    @get(
        "/content-status",
        operation_id="getContentStatus",
        summary="Whether the goals are shared with the employer and whether the content still exists",
    )
    async def status(
        self, process_id: FromPath[uuid.UUID], pool: Pool, principal: Caller
    ) -> ContentStatusOut:
        return _status(await handlers.content_status(pool, principal, process_id))


class RetentionOut(msgspec.Struct, frozen=True, rename="camel"):
    months: Annotated[
        int,
        msgspec.Meta(
            description="How many months after a process closes its content is kept before it is shredded"
        ),
    ]


@put(
    "/content-retention",
    operation_id="setContentRetention",
    tags=["content"],
    summary="A provider admin sets how many months closed processes' content is kept",
)
async def set_content_retention(data: JSONBody[RetentionBody], pool: Pool, principal: Caller) -> RetentionOut:
    return RetentionOut(months=await retention.set_retention_months(pool, principal, data.months))
