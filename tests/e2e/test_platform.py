"""`tila run` from nothing, as a newcomer runs it: embedded servers, five services, one base URL.

The platform runs as real processes (granian, the workers, PostgreSQL, NATS) started by the
CLI, and is driven over HTTP like any client would.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.platform import SERVICES
from shared.testing.plugin import Stack, free_port
from tests.factories import business_id

TILA = str(Path(sys.executable).parent / "tila")


class Platform:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.http_port, self.pg_port, self.nats_port = free_port(), free_port(), free_port()
        self.idp_ports = f"{free_port()},{free_port()}"
        self.base = f"http://127.0.0.1:{self.http_port}"
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("TILA_PG_ADMIN_URL", "TILA_NATS_URL")}
        env |= {
            "TILA_PG_PORT": str(self.pg_port),
            "TILA_NATS_PORT": str(self.nats_port),
            "TILA_DEMO_IDP_PORTS": self.idp_ports,
            "TILA_LOG_LEVEL": "warning",
        }
        return env

    def start(self) -> None:
        self.output = []
        self.process = subprocess.Popen(
            [TILA, "--data-dir", str(self.data_dir), "--port", str(self.http_port), "run"],
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # Drain the output all along: a full pipe would block the platform's processes.
        threading.Thread(target=self._drain, args=(self.process,), daemon=True).start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.process.poll() is None:
            if any("Press Ctrl-C" in line for line in self.output):
                return
            time.sleep(0.1)
        raise AssertionError("tila run did not come up:\n" + "".join(self.output[-60:]))

    def _drain(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.output.append(line)

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=60)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        return code

    def token_from_login(self, tenant: str, user: str) -> str:
        return self._tila("login", "--tenant", tenant, "--user", user)

    def token(self, *args: str) -> str:
        return self._tila("token", *args)

    def _tila(self, *args: str) -> str:
        out = subprocess.run(
            [TILA, "--data-dir", str(self.data_dir), "--port", str(self.http_port), *args],
            capture_output=True,
            text=True,
            check=True,
            env=self.env(),
        )
        return out.stdout.strip()


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
    data_dir = stack.root / "e2e-data"
    running = Platform(data_dir)
    running.start()
    try:
        yield running
    finally:
        if running.process is not None and running.process.poll() is None:
            running.stop()


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
