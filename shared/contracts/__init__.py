"""Event schemas: one module per producing service, the only thing that crosses a service boundary.

Every event is a frozen msgspec Struct subclassing :class:`Event` with a versioned
``event_type`` (``<service>.<aggregate>.<event>.v<N>``), which is also its NATS subject.
Events carry ids, states, times, counts and money — never confidential content.
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

import msgspec

__all__ = ["Event", "UnknownEventType", "event_class", "events_of", "register"]


class UnknownEventType(LookupError):
    pass


class Event(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Base of every event payload."""

    event_type: ClassVar[str]
    aggregate: ClassVar[str]


_registry: dict[str, type[Event]] = {}


E = TypeVar("E", bound=type[Event])


def register(cls: E) -> E:
    """Class decorator: make an event type decodable by consumers."""
    if cls.event_type in _registry and _registry[cls.event_type] is not cls:
        raise ValueError(f"event type {cls.event_type} registered twice")
    _registry[cls.event_type] = cls
    return cls


def event_class(event_type: str) -> type[Event]:
    # Import the producers' modules lazily so every registered type is known.
    from shared.contracts import billing, orders, organisations, sessions  # noqa: F401

    try:
        return _registry[event_type]
    except KeyError:
        raise UnknownEventType(event_type) from None


def events_of(producer: str) -> tuple[type[Event], ...]:
    """Every event type ``producer`` publishes (for a consumer that hears a whole stream)."""
    from shared.contracts import billing, orders, organisations, sessions  # noqa: F401

    return tuple(cls for event_type, cls in _registry.items() if event_type.startswith(f"{producer}."))
