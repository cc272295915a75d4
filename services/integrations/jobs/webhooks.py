"""The webhook delivery job: signed POSTs (Standard Webhooks) with retries, per-endpoint order
and isolation between endpoints.

- The loop leases due endpoints from ``webhook_schedule`` (``FOR UPDATE SKIP LOCKED``, so several
  workers share the work and one endpoint is worked on by one loop at a time) and works each
  leased endpoint in a task of its own: a slow or failing endpoint holds only its own task.
- An endpoint gets its deliveries one at a time, earliest event time first: a later event waits
  while an earlier one is pending (retrying). A dead-lettered delivery no longer blocks the
  line, so one bad event holds the endpoint up for at most the retry window (27 h by default).
  Nor does it use up the windows of the events behind it: the time a delivery waits behind an
  earlier one is not its own window (see ``store.restart_windows_behind``), so a later event
  that was tried before an earlier one arrived from another stream still gets its full window.
- A deactivated tenant's deliveries are not sent: its pending ones are dead-lettered unsent
  (``last_error`` ``tenant_deactivated``) and no new ones are made.
- Each attempt resolves the host again and refuses any non-public address (DNS may have changed
  since registration), then connects to the checked address itself, never following redirects
  (:class:`shared.http.outbound.OutboundClient`). The answer is read at most ``ANSWER_LIMIT``
  bytes and the whole attempt ends at its deadline; an answer too long or too slow is a failed
  attempt, retried by the policy like any other.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import random
import uuid
from collections.abc import Callable

import asyncpg
from standardwebhooks.webhooks import Webhook

from services.integrations import store
from services.integrations.adapters.sealing import DecryptionFailed, open_secret
from services.integrations.handlers import tenant_active
from services.integrations.settings import IntegrationsSettings
from shared.db.pool import create_pool
from shared.db.tenant import tenant_transaction
from shared.events.worker import PeriodicJob, Worker
from shared.http.outbound import (
    AnswerTooLarge,
    DeadlineExceeded,
    OutboundClient,
    OutboundError,
    TargetRefused,
)
from shared.logging import get_logger

__all__ = ["CONTENT_TYPE", "DeliveryLoop", "WebhookDeliveryJob", "sign"]

log = get_logger(__name__)

CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
_REFRESH_TIMEOUT = 10.0
_BATCH = 50
"""Deliveries to one endpoint per lease before it goes back to the schedule."""
ANSWER_LIMIT = 64 * 1024
"""The most of an endpoint's answer read; a longer answer fails the attempt."""


def sign(secrets: list[str], *, msg_id: str, timestamp: dt.datetime, body: str) -> str:
    """The ``webhook-signature`` header: one ``v1,<base64>`` per secret, space-separated."""
    return " ".join(Webhook(secret).sign(msg_id=msg_id, timestamp=timestamp, data=body) for secret in secrets)


class DeliveryLoop:
    """Works the due endpoints on each :meth:`tick` (the job calls it every poll interval)."""

    def __init__(
        self, pool: asyncpg.Pool, settings: IntegrationsSettings, *, rng: random.Random | None = None
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.policy = settings.retry_policy
        self.keyring = settings.webhook_secret_keyring
        self.rng = rng or random.Random()
        self.timeout = settings.webhook_timeout_seconds
        self.lease = dt.timedelta(seconds=2 * self.timeout + 30)
        self.busy: dict[uuid.UUID, asyncio.Task[None]] = {}
        self.tenants: dict[uuid.UUID, uuid.UUID] = {}
        self.client = OutboundClient(
            allow_loopback=settings.allow_loopback_http_webhooks,
            timeout=self.timeout,
            max_connections=settings.webhook_concurrency * 2,
            user_agent="Tila-Webhooks/1",
        )

    async def close(self) -> None:
        tasks = list(self.busy.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=_REFRESH_TIMEOUT)
        await self.client.aclose()

    async def tick(self) -> int:
        """Lease the due endpoints there is room for and start working each; how many started.

        At most ``webhook_concurrency`` endpoints at once, and of one tenant at most
        ``webhook_per_tenant_concurrency``, so a tenant's slow endpoints cannot take every slot."""
        room = self.settings.webhook_concurrency - len(self.busy)
        if room <= 0:
            return 0
        per_tenant = self.settings.webhook_per_tenant_concurrency
        load = collections.Counter(self.tenants.values())
        now = dt.datetime.now(dt.UTC)
        chosen: list[tuple[uuid.UUID, uuid.UUID]] = []
        async with self.pool.acquire() as conn, conn.transaction():
            await store.act_as_scheduler(conn)
            for row in await store.lock_due_endpoints(conn, now=now, limit=room * 4, busy=list(self.busy)):
                if len(chosen) < room and load[row.tenant_id] < per_tenant:
                    load[row.tenant_id] += 1
                    chosen.append((row.endpoint_id, row.tenant_id))
            if chosen:
                await store.lease_endpoints(conn, [e for e, _ in chosen], until=now + self.lease)
        for endpoint_id, tenant_id in chosen:
            task = asyncio.create_task(self._work(tenant_id, endpoint_id), name=f"webhook-{endpoint_id}")
            self.busy[endpoint_id] = task
            self.tenants[endpoint_id] = tenant_id
            task.add_done_callback(self._forget(endpoint_id))
        return len(chosen)

    def _forget(self, endpoint_id: uuid.UUID) -> Callable[[asyncio.Task[None]], None]:
        def forget(_: asyncio.Task[None]) -> None:
            self.busy.pop(endpoint_id, None)
            self.tenants.pop(endpoint_id, None)

        return forget

    async def drain(self) -> None:
        """Wait for the endpoints being worked on (tests)."""
        await asyncio.gather(*self.busy.values(), return_exceptions=True)

    async def _work(self, tenant_id: uuid.UUID, endpoint_id: uuid.UUID) -> None:
        try:
            for _ in range(_BATCH):
                if not await self._deliver_head(tenant_id, endpoint_id):
                    break
        except asyncio.CancelledError:
            # Shutting down: the lease runs out and another loop (or the next start) takes over.
            raise
        except Exception as exc:
            log.warning("webhook_work_failed", endpoint_id=str(endpoint_id), error=repr(exc))
        # Back to the schedule: due when its head is (or never, with nothing pending).
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_REFRESH_TIMEOUT), tenant_transaction(self.pool, tenant_id) as conn:
                await store.refresh_schedule(conn, tenant_id, endpoint_id, release=True)

    def _secrets(self, tenant_id: uuid.UUID, endpoint: store.Endpoint, now: dt.datetime) -> list[str] | None:
        """The secrets that sign now (the current one, and a rotated-out one in its grace period),
        opened from their sealed columns; None when the current one does not open here."""
        if self.keyring is None:
            return None
        sealed = endpoint.secrets()
        endpoint_id, kid = endpoint.endpoint_id, sealed.key_id
        keyring = self.keyring
        try:
            secrets = [open_secret(keyring, kid, tenant_id, endpoint_id, "secret", sealed.secret)]
        except DecryptionFailed:
            log.warning("webhook_secret_unreadable", endpoint_id=str(endpoint_id), column="secret")
            return None
        expires = endpoint.previous_secret_expires_at
        previous = sealed.previous
        if previous is not None and expires is not None and expires > now:
            try:
                secrets.append(open_secret(keyring, kid, tenant_id, endpoint_id, "previous_secret", previous))
            except DecryptionFailed:
                log.warning("webhook_secret_unreadable", endpoint_id=str(endpoint_id), column="previous")
        return secrets

    async def _deliver_head(self, tenant_id: uuid.UUID, endpoint_id: uuid.UUID) -> bool:
        """Attempt the endpoint's head delivery if it is due; whether to go on with the next."""
        now = dt.datetime.now(dt.UTC)
        async with tenant_transaction(self.pool, tenant_id) as conn:
            if not await tenant_active(conn, tenant_id):
                # Deactivated (for good: there is no reactivation): nothing more is sent; what was
                # pending is dead-lettered unsent, visible in the delivery list as such.
                dropped = await store.drop_pending(conn, tenant_id, endpoint_id, error="tenant_deactivated")
                if dropped:
                    log.info("webhook_dropped", endpoint_id=str(endpoint_id), deliveries=dropped)
                return False
            endpoint = await store.fetch_endpoint(conn, tenant_id, endpoint_id, with_secrets=True)
            head = await store.head_delivery(conn, tenant_id, endpoint_id)
        if endpoint is None or head is None or head.next_attempt_at > now:
            return False
        secrets = self._secrets(tenant_id, endpoint, now)
        status: int | None
        error: str | None
        if secrets is None:
            # Never sign with a wrong or missing key: the attempt fails (and is retried, then
            # dead-lettered) until the keyring can open the secret or the secret is rotated.
            status, error = None, "the endpoint's signing secret could not be opened"
        else:
            status, error = await self._post(endpoint.url, str(head.event_id), head.body, secrets)
        at = dt.datetime.now(dt.UTC)
        async with tenant_transaction(self.pool, tenant_id) as conn:
            if error is None:
                await store.mark_delivered(conn, tenant_id, head.delivery_id, at=at, status_code=status or 0)
                log.info("webhook_delivered", endpoint_id=str(endpoint_id), event_id=str(head.event_id))
                await store.extend_lease(conn, tenant_id, endpoint_id, until=at + self.lease)
                return True
            # Read again under the row's lock: an earlier event that went ahead of this one
            # meanwhile has restarted its window, and the time it now waits behind that one is
            # not its window: only an attempt made at the head of the line starts it again.
            started, heads_line = await store.retry_window_start(conn, tenant_id, head.delivery_id)
            window_start = (started or at) if heads_line else None
            retry_at = self.policy.after_failure(
                attempts=head.attempts + 1, window_started_at=window_start or at, now=at, rng=self.rng
            )
            await store.mark_failed(
                conn,
                tenant_id,
                head.delivery_id,
                at=at,
                window_started_at=window_start,
                next_attempt_at=retry_at,
                status_code=status,
                error=error,
            )
            if retry_at is None:
                await store.extend_lease(conn, tenant_id, endpoint_id, until=at + self.lease)
        log.info(
            "webhook_failed",
            endpoint_id=str(endpoint_id),
            event_id=str(head.event_id),
            error=error,
            dead=retry_at is None,
        )
        # A dead one no longer blocks: go on with the next. A pending one holds the line.
        return retry_at is None

    async def _post(
        self, url: str, msg_id: str, body: str, secrets: list[str]
    ) -> tuple[int | None, str | None]:
        """(status code, error) of one attempt; error is None on a 2xx."""
        timestamp = dt.datetime.now(dt.UTC)
        headers = {
            "content-type": CONTENT_TYPE,
            "user-agent": "Tila-Webhooks/1",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": sign(secrets, msg_id=msg_id, timestamp=timestamp, body=body),
        }
        try:
            # The answer's body is not needed, but it is read, at most ANSWER_LIMIT of it, within
            # the deadline: an endpoint answering without end fails the attempt, it does not
            # fill the worker's memory or hold its slot.
            answer = await self.client.request(
                "POST",
                url,
                content=body.encode(),
                headers=headers,
                max_bytes=ANSWER_LIMIT,
                deadline=self.timeout + 1,
            )
        except TargetRefused as exc:
            return None, f"target_refused: {exc.detail}"
        except (AnswerTooLarge, DeadlineExceeded) as exc:
            return None, exc.reason
        except OutboundError as exc:
            return None, exc.detail if exc.reason == "connection_error" else exc.reason
        if answer.is_success:
            return answer.status_code, None
        return answer.status_code, f"http_{answer.status_code}"


class WebhookDeliveryJob(PeriodicJob):
    """The integrations worker's delivery loop, ticking every ``webhook_poll_interval`` on a pool
    of its own (its endpoint tasks must not take the consumers' connections)."""

    name = "integrations-webhooks"

    def __init__(self, settings: IntegrationsSettings, *, pool: asyncpg.Pool | None = None) -> None:
        """``pool`` (tests: a second loop beside a worker's) runs it without a worker to start it."""
        self.settings = settings
        self.interval = settings.webhook_poll_interval
        self.pool = pool
        self._owns_pool = pool is None
        self.loop = DeliveryLoop(pool, settings) if pool is not None else None

    async def start(self, worker: Worker) -> None:
        if self.pool is None:
            self.pool = await create_pool(self.settings.database_url, min_size=1, max_size=6)
            self.loop = DeliveryLoop(self.pool, self.settings)

    async def run_once(self) -> int:
        assert self.loop is not None, "started by its worker"
        return await self.loop.tick()

    async def run(self) -> None:
        assert self.loop is not None, "started by its worker"
        try:
            await super().run()
        finally:
            await self.loop.close()

    def pass_failed(self, exc: Exception) -> None:
        log.warning("webhook_tick_failed", error=repr(exc))

    async def close(self) -> None:
        if self.pool is not None and self._owns_pool:
            await self.pool.close()
