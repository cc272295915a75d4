"""The commands the manifests run, run here as the manifests write them: the api container's granian
command answers its probes, the worker container's `tila worker` answers its probes on the health
port from the ConfigMap and stops cleanly on SIGTERM, the migration job's `tila migrate` migrates.

Against the test PostgreSQL and NATS; only what a pod would get from its Secrets, the listen
address and the ports change (and TILA_STREAM_REPLICAS: the test NATS is one node)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from shared.db.provision import DatabaseLayout
from shared.embedded import free_port
from shared.testing.plugin import Stack

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "deploy" / "k8s" / "base"
BIN = Path(sys.executable).parent
SERVICE = "orders"


def _documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((BASE / name).read_text()) if d]


def _container(kind: str, name: str) -> dict[str, Any]:
    documents = _documents(f"{SERVICE}.yaml") + _documents("migrations.yaml")
    (found,) = [d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name]
    (container,) = found["spec"]["template"]["spec"]["containers"]
    return dict(container)


def _config() -> dict[str, str]:
    (config,) = [d for d in _documents("platform.yaml") if d["kind"] == "ConfigMap"]
    return dict(config["data"])


def _environment(container: dict[str, Any], stack: Stack, layout: DatabaseLayout) -> dict[str, str]:
    """What the pod would see: the ConfigMap, and each secret key as the test stack's value."""
    secret_values = {
        "app-url": layout.app_url,
        "relay-url": layout.relay_url,
        "owner-url": layout.owner_url,
        "url": stack.nats_url,
    }
    env = {key: value for key, value in os.environ.items() if not key.startswith("TILA_")}
    env |= _config() | {"TILA_STREAM_REPLICAS": "1", "TILA_LOG_LEVEL": "warning"}
    for item in container["env"]:
        env[item["name"]] = secret_values[item["valueFrom"]["secretKeyRef"]["key"]]
    return env


def _command(container: dict[str, Any]) -> list[str]:
    command = container.get("command", ["tila"])  # the image's ENTRYPOINT is tila
    return [str(BIN / command[0]), *container["args"]]


def _wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            assert process.poll() is None, f"{process.args!r} exited with {process.returncode}"
            try:
                response = client.get(url)
            except httpx.HTTPError:
                time.sleep(0.2)
                continue
            if response.status_code == 200:
                return response
            time.sleep(0.2)
    raise AssertionError(f"{url} never answered 200")


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_the_api_container_command_answers_its_probes(
    stack: Stack, platform_databases: dict[str, DatabaseLayout], started: list[subprocess.Popen[bytes]]
) -> None:
    container = _container("Deployment", f"{SERVICE}-api")
    command = _command(container)
    port = free_port()
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(port)
    env = _environment(container, stack, platform_databases[SERVICE])
    (metrics_port,) = [p["containerPort"] for p in container["ports"] if p["name"] == "metrics"]
    assert env["TILA_METRICS_PORT"] == str(metrics_port)
    env["TILA_METRICS_PORT"] = str(free_port())  # the pod's port may be taken on this machine
    started.append(subprocess.Popen(command, env=env, cwd="/"))
    base = f"http://127.0.0.1:{port}"
    _wait_for(base + container["readinessProbe"]["httpGet"]["path"], started[0])
    with httpx.Client() as client:
        assert client.get(base + container["livenessProbe"]["httpGet"]["path"]).status_code == 200
        # What the ingress routes has no metrics; the metrics port has them.
        assert client.get(f"{base}/{SERVICE}/metrics").status_code == 404
        metrics = client.get(f"http://127.0.0.1:{env['TILA_METRICS_PORT']}/metrics")
    assert metrics.status_code == 200
    served = [line for line in metrics.text.splitlines() if line.startswith("tila_http_requests_total{")]
    assert any(f'route="/{SERVICE}/health/live"' in line for line in served)


def test_the_worker_container_command_answers_its_probes_and_stops_on_sigterm(
    stack: Stack, platform_databases: dict[str, DatabaseLayout], started: list[subprocess.Popen[bytes]]
) -> None:
    container = _container("Deployment", f"{SERVICE}-worker")
    port = free_port()
    env = _environment(container, stack, platform_databases[SERVICE]) | {"TILA_WORKER_HEALTH_PORT": str(port)}
    process = subprocess.Popen(_command(container), env=env, cwd="/")
    started.append(process)
    base = f"http://127.0.0.1:{port}"
    _wait_for(base + container["readinessProbe"]["httpGet"]["path"], process)
    with httpx.Client() as client:
        assert client.get(base + container["livenessProbe"]["httpGet"]["path"]).status_code == 200
        metrics = client.get(base + "/metrics").text
    assert 'tila_worker_outbox_published_total{service="orders"}' in metrics
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0


def test_the_migration_job_command_migrates_as_the_owner(
    stack: Stack, platform_databases: dict[str, DatabaseLayout]
) -> None:
    container = _container("Job", f"{SERVICE}-migrate")
    env = _environment(container, stack, platform_databases[SERVICE])
    result = subprocess.run(
        _command(container), env=env, cwd="/", capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr.decode()
    # Already migrated by the fixtures: nothing left to apply, and it says so.
    assert f"{SERVICE}: 0 migration(s) applied" in result.stdout.decode()
