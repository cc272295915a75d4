"""Least-privilege NATS users, derived from what each service publishes and consumes.

A service may publish its own events, manage its own stream and its own durable consumers on
the streams it reads, fetch and acknowledge through those consumers, and read replies under its
own inbox prefix — nothing of another service's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from shared.events.nats import inbox_prefix
from shared.events.streams import STREAMS, ConsumerSpec

__all__ = ["render_authorization", "service_permissions"]


def service_permissions(
    service: str, *, publishes: bool, consumers: Iterable[ConsumerSpec]
) -> dict[str, list[str]]:
    """NATS ``publish`` and ``subscribe`` allow-lists for one service's user."""
    publish = ["$JS.API.INFO"]
    if publishes:
        own = STREAMS[service].name
        publish += [
            f"{service}.>",
            *(f"$JS.API.STREAM.{verb}.{own}" for verb in ("INFO", "CREATE", "UPDATE")),
        ]
    for spec in consumers:
        stream, durable = spec.stream, spec.durable
        publish += [
            f"$JS.API.STREAM.INFO.{stream}",
            f"$JS.API.CONSUMER.CREATE.{stream}.{durable}",
            f"$JS.API.CONSUMER.CREATE.{stream}.{durable}.>",
            f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{durable}",
            f"$JS.API.CONSUMER.INFO.{stream}.{durable}",
            f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}",
            f"$JS.ACK.{stream}.{durable}.>",
        ]
    return {"publish": sorted(set(publish)), "subscribe": [f"{inbox_prefix(service)}.>"]}


def render_authorization(users: Mapping[str, Mapping[str, list[str]]], *, password_variable: str) -> str:
    """An ``authorization`` block for nats-server.conf; passwords come from ``$<VAR>_<SERVICE>``."""
    lines = ["authorization {", "  users: ["]
    for user, permissions in users.items():
        publish = ", ".join(f'"{p}"' for p in permissions["publish"])
        subscribe = ", ".join(f'"{s}"' for s in permissions["subscribe"])
        lines.append(
            f"    {{user: {user}, password: ${password_variable}_{user.upper()}, "
            f"permissions: {{publish: {{allow: [{publish}]}}, subscribe: {{allow: [{subscribe}]}}}}}}"
        )
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"
