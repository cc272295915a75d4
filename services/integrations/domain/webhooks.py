"""Webhook rules: which URLs may be called, when a failed delivery is tried again, secrets.

No I/O here. Which URLs and addresses may be called is the platform's one outbound address
policy (:mod:`shared.addresses`, re-exported here); the delivery loop resolves host names
through :mod:`shared.http.outbound`. The clock and the random source are parameters.
"""

from __future__ import annotations

import base64
import datetime as dt
import random
import secrets
from dataclasses import dataclass

from shared.addresses import Target, TargetNotAllowed, check_addresses, check_url, forbidden_address

__all__ = [
    "SECRET_PREFIX",
    "RetryPolicy",
    "Target",
    "TargetNotAllowed",
    "check_addresses",
    "check_url",
    "forbidden_address",
    "new_secret",
]

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
_SECRET_BYTES = 32


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; a delivery is dead-lettered once ``window`` has passed
    since its window started (at least 24 hours by default): its first attempt, or its first
    attempt after it last waited behind an earlier event that went ahead of it in the line."""

    base: dt.timedelta = dt.timedelta(seconds=30)
    cap: dt.timedelta = dt.timedelta(hours=3)
    window: dt.timedelta = dt.timedelta(hours=27)

    def delay(self, attempts: int, rng: random.Random | None = None) -> dt.timedelta:
        """Wait after the ``attempts``-th failed attempt: base·2^(n-1), capped, times 0.5–1.0."""
        exponent = min(max(attempts - 1, 0), 40)
        ceiling = min(self.cap, self.base * (2**exponent))
        factor: float = rng.uniform(0.5, 1.0) if rng else random.uniform(0.5, 1.0)
        return dt.timedelta(seconds=ceiling.total_seconds() * factor)

    def after_failure(
        self,
        *,
        attempts: int,
        window_started_at: dt.datetime,
        now: dt.datetime,
        rng: random.Random | None = None,
    ) -> dt.datetime | None:
        """When to try again after ``attempts`` failures, or None: dead-letter it."""
        if now - window_started_at >= self.window:
            return None
        return now + self.delay(attempts, rng)
