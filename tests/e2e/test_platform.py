"""`tila run` from nothing, as a newcomer runs it: embedded servers, five services, one base URL.

The platform runs as real processes (granian, the workers, PostgreSQL, NATS) started by the
CLI, and is driven over HTTP like any client would.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from lxml import etree
from standardwebhooks.webhooks import Webhook

from shared.testing.plugin import Stack
from tests.billing.einvoice import NS, business_rule_violations, xsd_errors
from tests.e2e.support import TILA, Platform, running_platform
from tests.factories import business_id
from tila.composition import SERVICES


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _poll(client: httpx.Client, url: str, token: str, timeout: float = 20) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(url, headers={"Authorization": f"Bearer {token}"})
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


@pytest.fixture(scope="module")
def platform(stack: Stack) -> Iterator[Platform]:
    with running_platform(stack.root / "e2e-data") as running:
        yield running


def test_every_service_is_ready_behind_the_one_base_url(platform: Platform) -> None:
    with httpx.Client(timeout=5) as client:
        for service in SERVICES:
            response = client.get(f"{platform.base}/{service}/health/ready")
            assert response.status_code == 200, (service, response.text)
            docs = client.get(f"{platform.base}/{service}/schema/openapi.json")
            assert docs.status_code == 200
            assert docs.json()["openapi"].startswith("3.1")
        index = client.get(f"{platform.base}/").json()
        assert sorted(index["services"]) == sorted(SERVICES)
        assert client.get(f"{platform.base}/nowhere/x").status_code == 404
    banner = "".join(platform.output)
    for service in SERVICES:
        assert f"{platform.base}/{service}/schema" in banner


def test_start_up_is_quiet_and_the_banner_is_the_last_thing_printed(platform: Platform) -> None:
    """Issue 13, item 16: no consumer retrying for a stream that does not exist yet, and neither
    request lines nor workers' start-up lines after the banner with the login instructions."""
    with httpx.Client(timeout=5) as client:  # some traffic, a refusal and a login among it
        for service in SERVICES:
            assert client.get(f"{platform.base}/{service}/health/ready").status_code == 200
        assert client.get(f"{platform.base}/orders/orders").status_code == 401
    assert platform.token_from_login("demo-buyer", "aino.admin")
    output = list(platform.output)
    assert not [line for line in output if "consumer_error" in line or "NotFoundError" in line]
    banner = next(i for i, line in enumerate(output) if "Tila is running at" in line)
    assert output[-1].strip() == "Press Ctrl-C to stop."
    assert not [line for line in output[banner:] if line.lstrip().startswith(("{", "["))], output[banner:]
    assert "Demo logins" in "".join(output[banner:])


def test_every_cli_command_reads_the_settings_tila_run_reads(platform: Platform) -> None:
    """Issue 13, item 15: TILA_PORT, TILA_DATA_DIR and TILA_PG_PORT alone, as `tila run` had them."""
    env = platform.env() | {"TILA_PORT": str(platform.http_port), "TILA_DATA_DIR": str(platform.data_dir)}

    def tila(*args: str) -> str:
        done = subprocess.run(
            [TILA, *args], capture_output=True, text=True, env=env, check=False, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    token = tila("login", "--tenant", "demo-buyer", "--user", "aino.admin")
    assert _claims(token)["iss"] == f"{platform.base}/organisations"
    admin = tila("token", "--role", "platform_admin")
    assert _claims(admin)["iss"] == f"{platform.base}/organisations"
    with httpx.Client(timeout=5) as client:
        me = client.get(
            f"{platform.base}/organisations/tenants/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert me.status_code == 200, me.text
    assert "chain intact" in tila("audit-verify", "--tenant", str(uuid.uuid4()))


def test_metrics_are_on_their_own_port_the_banner_names_and_not_under_the_base_url(
    platform: Platform,
) -> None:
    metrics_url = f"http://127.0.0.1:{platform.metrics_port}/metrics"
    assert any(metrics_url in line for line in platform.output)
    with httpx.Client(timeout=5) as client:
        for service in SERVICES:
            assert client.get(f"{platform.base}/{service}/metrics").status_code == 404
        scraped = client.get(metrics_url)
    assert scraped.status_code == 200
    for service in SERVICES:
        assert f'service="{service}"' in scraped.text


def test_a_tenant_created_in_organisations_reaches_every_read_model_and_the_feed(platform: Platform) -> None:
    admin = platform.token("--role", "platform_admin")
    with httpx.Client(timeout=5) as client:
        created = client.post(
            f"{platform.base}/organisations/tenants",
            json={"name": "Keski-Suomen hyvinvointialue", "kind": "buyer", "businessId": business_id()},
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert created.status_code == 201, created.text
        tenant_id = created.json()["id"]
        own = platform.token("--tenant", tenant_id, "--role", "buyer_admin", "--scope", "events:read")
        for service in ("orders", "sessions", "billing"):
            known = _poll(client, f"{platform.base}/{service}/tenants/me", own)
            assert known.status_code == 200, (service, known.text)
            assert known.json()["name"] == "Keski-Suomen hyvinvointialue"
        feed = _poll(client, f"{platform.base}/integrations/events", own)
        assert feed.status_code == 200, feed.text
        # A tenant's creation is internal: the feed serves public events (fi.tila.*) only.
        assert feed.json()["items"] == []
        # Another tenant's token sees none of it: the tenant comes from the token only.
        stranger = platform.token(
            "--tenant", str(uuid.uuid4()), "--role", "buyer_admin", "--scope", "events:read"
        )
        assert (
            client.get(
                f"{platform.base}/orders/tenants/me", headers={"Authorization": f"Bearer {stranger}"}
            ).status_code
            == 404
        )
        assert (
            client.get(
                f"{platform.base}/integrations/events", headers={"Authorization": f"Bearer {stranger}"}
            ).json()["items"]
            == []
        )


def test_an_hr_system_logs_in_with_client_credentials_and_reads_its_feed(platform: Platform) -> None:
    admin = platform.token_from_login("demo-buyer", "aino.admin")
    with httpx.Client(timeout=5) as client:
        registered = client.post(
            f"{platform.base}/organisations/machine-clients",
            json={"name": "Sarastia HR", "scopes": ["events:read"]},
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert registered.status_code == 201, registered.text
        body = registered.json()
        issued = client.post(
            f"{platform.base}/organisations/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(body["clientId"], body["clientSecret"]),
        )
        assert issued.status_code == 200, issued.text
        token = issued.json()["access_token"]
        # Another service verifies the token on its own, against organisations' JWKS.
        feed = client.get(
            f"{platform.base}/integrations/events", headers={"Authorization": f"Bearer {token}"}
        )
        assert feed.status_code == 200, feed.text
        # Only public events of the demo welfare area: never its internal organisations events.
        types = {item["type"] for item in feed.json()["items"]}
        assert all(t.startswith("fi.tila.") for t in types), types
        wrong = client.post(
            f"{platform.base}/organisations/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(body["clientId"], "not-the-secret"),
        )
        assert wrong.status_code == 401


def test_an_hr_system_registers_a_webhook_on_this_machine_under_tila_run(platform: Platform) -> None:
    admin = platform.token_from_login("demo-buyer", "aino.admin")
    with httpx.Client(timeout=5) as client:
        registered = client.post(
            f"{platform.base}/organisations/machine-clients",
            json={"name": "Sarastia webhooks", "scopes": ["webhooks:manage"]},
            headers={"Authorization": f"Bearer {admin}"},
        ).json()
        token = client.post(
            f"{platform.base}/organisations/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(registered["clientId"], registered["clientSecret"]),
        ).json()["access_token"]
        # `tila run` is development: a receiver on loopback over plain http is allowed there.
        created = client.post(
            f"{platform.base}/integrations/webhooks",
            json={"url": "http://127.0.0.1:9/hooks/tila", "eventTypes": ["fi.tila.working_time.recorded.v1"]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert created.status_code == 201, created.text
        assert created.json()["secret"].startswith("whsec_")
        catalogue = client.get(f"{platform.base}/integrations/asyncapi.json")
        assert catalogue.json()["asyncapi"] == "3.0.0"


def test_demo_users_log_in_through_their_own_providers_and_every_service_accepts_them(
    platform: Platform,
) -> None:
    buyer_admin = platform.token_from_login("demo-buyer", "aino.admin")
    supervisor = platform.token_from_login("demo-provider", "sami.supervisor")
    with httpx.Client(timeout=5) as client:
        centres = client.get(
            f"{platform.base}/organisations/cost-centres", headers={"Authorization": f"Bearer {buyer_admin}"}
        )
        assert centres.status_code == 200, centres.text
        assert sorted(c["code"] for c in centres.json()["items"]) == ["4100", "4200"]
        profile = client.get(
            f"{platform.base}/organisations/supervisor-profiles/me",
            headers={"Authorization": f"Bearer {supervisor}"},
        )
        assert profile.status_code == 200, profile.text
        # Orders verifies the login's token on its own and knows the tenant from events.
        known = _poll(client, f"{platform.base}/orders/tenants/me", buyer_admin)
        assert known.status_code == 200, known.text
        assert known.json()["name"] == "Demo-hyvinvointialue"
        # The supervisor's token is the provider's: it never reads the buyer's cost centres.
        theirs = client.get(
            f"{platform.base}/organisations/cost-centres", headers={"Authorization": f"Bearer {supervisor}"}
        )
        assert theirs.status_code in (403, 404)


def test_the_sessions_content_wall_gets_a_keyring_and_its_audit_verifies_under_tila_run(
    platform: Platform,
) -> None:
    keys = platform.data_dir / "content-keys.json"
    assert keys.stat().st_mode & 0o777 == 0o600
    tenant = str(uuid.uuid4())
    supervisor = platform.token("--tenant", tenant, "--role", "supervisor", "--subject", str(uuid.uuid4()))
    with httpx.Client(timeout=5) as client:
        response = client.get(
            f"{platform.base}/sessions/processes/{uuid.uuid4()}/content",
            headers={"Authorization": f"Bearer {supervisor}"},
        )
    assert response.status_code == 404, response.text  # without a keyring: 503
    verified = platform._tila("audit-verify", "--tenant", tenant)  # exit 0, or check=True raises
    assert "1 entries, chain intact" in verified


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


class Actor:
    """A demo user logged in through their tenant's identity provider, calling the one base URL."""

    def __init__(self, platform: Platform, client: httpx.Client, tenant: str, user: str) -> None:
        self.token = platform.token_from_login(tenant, user)
        claims = _claims(self.token)
        self.person_id, self.tenant_id = claims["sub"], claims["tid"]
        self.client = client

    def call(self, method: str, path: str, body: Any = None, etag: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        if etag is not None:
            headers["If-Match"] = etag
        if method == "POST" and etag is None:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        return self.client.request(method, path, json=body, headers=headers)

    def until(self, path: str, found: Callable[[Any], Any], timeout: float = 30) -> Any:
        """GET ``path`` until ``found`` picks something out of the answer (events are asynchronous)."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.call("GET", path)
            if response.status_code == 200 and (hit := found(response.json())):
                return hit
            assert time.monotonic() < deadline, f"{path}: {response.status_code} {response.text[:500]}"
            time.sleep(0.2)


def _eventually(find: Callable[[], Any], timeout: float = 30) -> Any:
    """What ``find`` returns once it is something (events cross services asynchronously)."""
    deadline = time.monotonic() + timeout
    while not (found := find()):
        assert time.monotonic() < deadline, "not there in time"
        time.sleep(0.2)
    return found


class WebhookReceiver:
    """An HR system's webhook endpoint on this machine: keeps what it is sent, answers 204."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/working-time"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _ok(response: httpx.Response, status: int = 200) -> httpx.Response:
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url}: {response.text}"
    )
    return response


def test_a_supervision_runs_from_order_to_invoice_and_hr_event_and_the_employer_sees_only_the_frame(
    platform: Platform,
) -> None:
    """The whole journey over HTTP between real processes: the buyer's framework agreement and
    order, the provider's acceptance, the process opened in sessions from the orders event, a held
    session with notes, its invoice (valid Peppol BIS 3.0) and the HR system's working-time event,
    and the close — and the employer's view holds dates, attendance and costs only."""
    canary = f"CANARY-{uuid.uuid4().hex}"
    today = dt.date.today()
    receiver = WebhookReceiver()
    with httpx.Client(base_url=platform.base, timeout=10) as client, contextlib.closing(receiver):
        buyer_admin = Actor(platform, client, "demo-buyer", "aino.admin")
        approver = Actor(platform, client, "demo-buyer", "antti.approver")
        emma = Actor(platform, client, "demo-buyer", "emma.employee")
        provider_admin = Actor(platform, client, "demo-provider", "pia.admin")
        sami = Actor(platform, client, "demo-provider", "sami.supervisor")
        lot = "Yksilötyönohjaus"

        centre = approver.until(
            "/orders/cost-centres", lambda page: next((c for c in page["items"] if c["code"] == "4100"), None)
        )
        agreement = _ok(
            buyer_admin.call(
                "POST",
                "/orders/agreements",
                {
                    "number": f"PJ-{uuid.uuid4().hex[:6]}",
                    "title": "Työnohjauspalvelut",
                    "validity": {
                        "startsOn": str(today - dt.timedelta(days=30)),
                        "firstTermEndsOn": str(today + dt.timedelta(days=700)),
                        "hardEndOn": str(today + dt.timedelta(days=1400)),
                    },
                    "lots": [
                        {
                            "name": lot,
                            "forms": ["individual"],
                            "region": "pirkanmaa",
                            "providers": [{"providerId": provider_admin.tenant_id, "rank": 1}],
                        }
                    ],
                    "priceItems": [
                        {
                            "lot": lot,
                            "form": "individual",
                            "durationMinutes": 60,
                            "mode": "remote",
                            "unit": "per_session",
                            "netPriceCents": 9500,
                            "validFrom": str(today - dt.timedelta(days=30)),
                        }
                    ],
                },
            ),
            201,
        )
        _ok(
            buyer_admin.call(
                "POST",
                f"/orders/agreements/{agreement.json()['id']}/activate",
                etag=agreement.headers["etag"],
            )
        )

        order = _ok(
            approver.call(
                "POST",
                "/orders/orders",
                {
                    "costCentreId": centre["id"],
                    "agreementId": agreement.json()["id"],
                    "lot": lot,
                    "form": "individual",
                    "participants": [emma.person_id],
                    "plannedSessions": 5,
                    "durationMinutes": 60,
                    "startsOn": str(today),
                    "endsOn": str(today + dt.timedelta(days=180)),
                    "mode": "remote",
                    "selection": "ranking",
                    "providerId": provider_admin.tenant_id,
                },
            ),
            201,
        )
        order_id, etag = order.json()["id"], order.headers["etag"]

        def step(actor: Actor, action: str, body: Any = None) -> None:
            nonlocal etag
            etag = _ok(actor.call("POST", f"/orders/orders/{order_id}/{action}", body, etag=etag)).headers[
                "etag"
            ]

        for action in ("submit", "approve", "offer"):
            step(approver, action)
        step(provider_admin, "assign-supervisor", {"supervisorId": sami.person_id})
        step(sami, "declare-conflict", {"relatedParticipants": []})
        step(provider_admin, "accept")

        # sessions opened the process from orders' event: nobody called it.
        process = sami.until(
            "/sessions/processes",
            lambda page: next((p for p in page["items"] if p["orderId"] == order_id), None),
        )
        process_path = f"/sessions/processes/{process['id']}"
        hr_system = {"name": "HR", "scopes": ["events:read", "webhooks:manage"]}
        registered = _ok(buyer_admin.call("POST", "/organisations/machine-clients", hr_system), 201).json()
        hr_token = client.post(
            "/organisations/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(registered["clientId"], registered["clientSecret"]),
        ).json()["access_token"]
        subscription = client.post(
            "/integrations/webhooks",
            json={"url": receiver.url, "eventTypes": ["fi.tila.working_time.recorded.v1"]},
            headers={"Authorization": f"Bearer {hr_token}"},
        )
        webhook_secret = _ok(subscription, 201).json()["secret"]
        signed = _ok(
            sami.call(
                "POST",
                f"{process_path}/agreement",
                {
                    "signedAt": dt.datetime.now(dt.UTC).isoformat(),
                    "midEvaluationOn": str(today + dt.timedelta(days=90)),
                    "finalEvaluationOn": str(today + dt.timedelta(days=175)),
                },
                etag=_ok(sami.call("GET", process_path)).headers["etag"],
            )
        )
        assert signed.json()["agreement"] is not None
        starts_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
        session = _ok(
            sami.call(
                "POST",
                f"{process_path}/sessions",
                {"startsAt": starts_at.isoformat(), "durationMinutes": 60, "mode": "remote"},
            ),
            201,
        )
        time.sleep(max(0.0, (starts_at - dt.datetime.now(dt.UTC)).total_seconds()) + 0.5)
        held = _ok(
            sami.call(
                "POST",
                f"/sessions/sessions/{session.json()['id']}/held",
                {"attendance": [{"personId": emma.person_id, "attended": True}]},
                etag=session.headers["etag"],
            )
        )
        assert held.json()["status"] == "held"

        for kind in ("private_note", "shared_note"):
            _ok(sami.call("POST", f"{process_path}/content", {"kind": kind, "body": f"{canary} {kind}"}), 201)
        _ok(
            emma.call("POST", f"{process_path}/content", {"kind": "reflection", "body": f"{canary} mine"}),
            201,
        )

        seen_by_emma = {
            item["kind"] for item in _ok(emma.call("GET", f"{process_path}/content")).json()["items"]
        }
        assert seen_by_emma == {"shared_note", "reflection"}
        for employer in (buyer_admin, approver):
            content = employer.call("GET", f"{process_path}/content")
            assert content.status_code in (403, 404) or content.json()["items"] == [], content.text
            assert canary not in content.text
            frame = _ok(employer.call("GET", f"/sessions/processes/{process['id']}/sessions"))
            assert [s["status"] for s in frame.json()["items"]] == ["held"]
            assert canary not in frame.text

        # Billing heard the held session: the provider invoices it as a Peppol BIS 3.0 e-invoice.
        def our_draft() -> Any:
            drafts = _ok(provider_admin.call("POST", "/billing/invoice-runs", {})).json()
            return next((d for d in drafts if d["agreementId"] == agreement.json()["id"]), None)

        draft = _eventually(our_draft)
        assert draft["itemCount"] == 1
        invoice_path = f"/billing/invoices/{draft['id']}"
        issued = _ok(provider_admin.call("POST", f"{invoice_path}/issue", etag=f'"{draft["version"]}"'))
        assert issued.json()["status"] == "issued"
        assert issued.json()["number"]
        ubl = _ok(provider_admin.call("GET", f"{invoice_path}/ubl")).content
        assert xsd_errors(ubl) == []
        assert business_rule_violations(ubl) == []
        assert b"Emma" not in ubl  # individual supervision: the participant is never named
        # The order reference is the buyer's order number people know, as orders numbered it.
        number = order.json()["orderNumber"]
        assert etree.fromstring(ubl).findtext("cac:OrderReference/cbc:ID", namespaces=NS) == number
        assert canary.encode() not in ubl
        assert _ok(buyer_admin.call("GET", invoice_path)).json()["grossCents"] == issued.json()["grossCents"]
        specification = _ok(approver.call("GET", f"{invoice_path}/specification")).json()
        assert [(s["participantCount"], s["attendedCount"]) for s in specification["sessions"]] == [(1, 1)]

        # The welfare area's HR system hears the participant's working time by employee number: in
        # the webhook it subscribed to, signed per Standard Webhooks, and in the feed it catches up from.
        def working_time() -> list[Any]:
            events, cursor = [], None
            while True:
                page = _ok(
                    client.get(
                        "/integrations/events",
                        params={"cursor": cursor} if cursor else {},
                        headers={"Authorization": f"Bearer {hr_token}"},
                    )
                ).json()
                events += page["items"]
                if not (cursor := page.get("nextCursor")):
                    break
            assert not any(canary in json.dumps(event) for event in events)
            return [
                e["data"]
                for e in events
                if e["type"] == "fi.tila.working_time.recorded.v1" and e["data"]["orderId"] == order_id
            ]

        (worked,) = _eventually(working_time)
        assert worked["employeeNumber"] == "H1001"
        assert worked["reasonCode"] == "TYONOHJAUS"
        assert worked["costCentreCode"] == "4100"

        def delivered() -> list[Any]:
            verified = [Webhook(webhook_secret).verify(body, headers) for headers, body in receiver.received]
            return [e for e in verified if e["data"]["orderId"] == order_id]

        (delivery,) = _eventually(delivered)
        assert delivery["data"] == worked
        assert delivery["type"] == "fi.tila.working_time.recorded.v1"
        assert not any(canary.encode() in body for _, body in receiver.received)

        # The held session started the order: orders heard sessions' event, nobody called start.
        active = provider_admin.until(
            f"/orders/orders/{order_id}", lambda o: o if o["status"] == "active" else None, timeout=60
        )
        etag = f'"{active["version"]}"'
        step(provider_admin, "complete")
        closed = sami.until(process_path, lambda p: p if p["status"] == "closed" else None)
        assert closed["status"] == "closed"
    assert not any(canary in line for line in platform.output)


def test_tila_demo_drives_the_journey_and_demo_json_names_what_a_reader_needs(platform: Platform) -> None:
    """Issue 13, item 7: `tila demo` against the running platform, over HTTP only (after the journey
    above, whose supervisor and participant are busy now: the demo takes the other pair)."""
    env = platform.env() | {"TILA_PORT": str(platform.http_port), "TILA_DATA_DIR": str(platform.data_dir)}
    done = subprocess.run([TILA, "demo"], capture_output=True, text=True, env=env, check=False, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for step in ("framework agreement", "order accepted", "process opened", "session held", "issued"):
        assert any(step in line for line in lines), (step, done.stdout)
    ubl_link = next(line.split()[-1] for line in lines if "(UBL)" in line)
    assert ubl_link.startswith(f"{platform.base}/billing/invoices/")
    assert ubl_link.endswith("/ubl")
    pia = platform.token_from_login("demo-provider", "pia.admin")
    with httpx.Client(timeout=10) as client:
        ubl = client.get(ubl_link, headers={"Authorization": f"Bearer {pia}"})
    assert ubl.status_code == 200, ubl.text
    assert xsd_errors(ubl.content) == []
    demo = json.loads((platform.data_dir / "demo.json").read_text())
    buyer, provider = demo["tenants"]["demo-buyer"], demo["tenants"]["demo-provider"]
    assert buyer["people"]["antti.approver"]["name"] == "Antti Esihenkilö"
    assert buyer["people"]["antti.approver"]["roles"] == ["approver"]
    assert provider["people"]["sari.supervisor"]["roles"] == ["supervisor"]
    assert sorted(c["code"] for c in buyer["costCentres"]) == ["4100", "4200"]
    assert any(demo["agreement"]["id"] in line for line in lines)


def test_ctrl_c_stops_everything_and_a_second_run_reuses_the_data(platform: Platform) -> None:
    admin = platform.token("--role", "platform_admin")
    with httpx.Client(timeout=5) as client:
        created = client.post(
            f"{platform.base}/organisations/tenants",
            json={"name": "Lapin hyvinvointialue", "kind": "buyer", "businessId": business_id()},
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert created.status_code == 201, created.text
    tenant_id = created.json()["id"]
    assert platform.stop() == 0
    for port in (platform.http_port, platform.pg_port, platform.nats_port):
        assert not _listening(port), f"port {port} still open after Ctrl-C"

    platform.start()
    own = platform.token("--tenant", tenant_id, "--role", "buyer_admin")
    with httpx.Client(timeout=5) as client:
        again = client.get(
            f"{platform.base}/organisations/tenants/me", headers={"Authorization": f"Bearer {own}"}
        )
        assert again.status_code == 200
        assert again.json()["name"] == "Lapin hyvinvointialue"
        assert _poll(client, f"{platform.base}/billing/tenants/me", own).status_code == 200
