"""The Kubernetes manifests in deploy/k8s/base: generated, complete for every service, locked
down, consistent with the settings classes, and valid against the Kubernetes API schemas
(kubernetes-validate, which ships the schemas offline)."""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import msgspec
import pytest
import yaml

from services.integrations.settings import IntegrationsSettings
from services.organisations.settings import OrganisationsSettings
from services.sessions.settings import SessionsSettings
from shared.config import ServiceSettings
from shared.events.streams import STREAMS
from tila.composition import SERVICES

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "deploy" / "k8s" / "base"
KUBERNETES_VERSION = "1.31"
SETTINGS: dict[str, type[ServiceSettings]] = {
    "organisations": OrganisationsSettings,
    "sessions": SessionsSettings,
    "integrations": IntegrationsSettings,
}
NOT_SETTINGS = {"TILA_STREAM_REPLICAS": REPO / "shared" / "events" / "streams.py"}
"""Variables the code reads directly, not through a settings class, and where."""


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "tila_k8s_generate", REPO / "deploy" / "k8s" / "generate.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


GENERATOR = _generator()


def _documents() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    documents = []
    for name in kustomization["resources"]:
        documents += [d for d in yaml.safe_load_all((BASE / name).read_text()) if d]
    return documents


DOCUMENTS = _documents()


def _of(kind: str) -> list[dict[str, Any]]:
    return [d for d in DOCUMENTS if d["kind"] == kind]


def _named(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in _of(kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind} {name}: {len(found)} found"
    return found[0]


def _pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    for d in _of("Deployment") + _of("Job"):
        yield f"{d['kind']} {d['metadata']['name']}", d["spec"]["template"]["spec"]


def _containers() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for where, pod in _pod_specs():
        for container in pod["containers"] + pod.get("initContainers", []):
            yield where, pod, container


def test_the_committed_manifests_are_what_the_generator_renders() -> None:
    rendered = GENERATOR.render()
    committed = {p.name: p.read_text() for p in BASE.glob("*.yaml")}
    assert committed == rendered, "run .venv/bin/python deploy/k8s/generate.py and commit the result"


def test_the_kustomization_lists_every_generated_file() -> None:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(
        p.name for p in BASE.glob("*.yaml") if p.name != "kustomization.yaml"
    )
    assert kustomization["namespace"] == "tila"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_every_manifest_is_valid_against_the_kubernetes_schema(document: dict[str, Any]) -> None:
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_the_schema_validation_rejects_a_broken_manifest() -> None:
    broken = yaml.safe_load(yaml.safe_dump(_named("Deployment", "orders-api")))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_an_api_a_worker_and_a_migration_job(service: str) -> None:
    api = _named("Deployment", f"{service}-api")
    worker = _named("Deployment", f"{service}-worker")
    job = _named("Job", f"{service}-migrate")
    _named("Service", f"{service}-api")
    _named("PodDisruptionBudget", f"{service}-api")
    _named("PodDisruptionBudget", f"{service}-worker")
    hpa = _named("HorizontalPodAutoscaler", f"{service}-api")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": f"{service}-api",
    }
    (api_container,) = api["spec"]["template"]["spec"]["containers"]
    assert api_container["command"] == ["granian"]
    assert api_container["args"][-1] == f"services.{service}.app:create_app"
    assert "--factory" in api_container["args"]
    (worker_container,) = worker["spec"]["template"]["spec"]["containers"]
    assert worker_container["args"] == ["worker", "--service", service]
    (job_container,) = job["spec"]["template"]["spec"]["containers"]
    assert job_container["args"] == ["migrate", "--service", service]
    owner = [e for e in job_container["env"] if e["name"] == f"TILA_{service.upper()}_OWNER_DATABASE_URL"]
    assert owner[0]["valueFrom"]["secretKeyRef"]["key"] == "owner-url"


@pytest.mark.parametrize("service", SERVICES)
def test_api_probes_hit_the_service_health_routes(service: str) -> None:
    (container,) = _named("Deployment", f"{service}-api")["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == f"/{service}/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == f"/{service}/health/ready"
    assert container["startupProbe"]["httpGet"]["path"] == f"/{service}/health/live"
    assert container["ports"][0] == {"name": "http", "containerPort": 8000, "protocol": "TCP"}
    assert [p["name"] for p in container["ports"]] == ["http", "metrics"]


@pytest.mark.parametrize("service", SERVICES)
def test_worker_probes_hit_the_worker_health_port(service: str) -> None:
    (container,) = _named("Deployment", f"{service}-worker")["spec"]["template"]["spec"]["containers"]
    (port,) = container["ports"]
    config = _named("ConfigMap", "tila-config")["data"]
    assert int(config["TILA_WORKER_HEALTH_PORT"]) == port["containerPort"] != 0
    assert container["livenessProbe"]["httpGet"] == {"path": "/live", "port": port["name"]}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": port["name"]}


def test_every_deployment_has_probes_limits_and_a_locked_down_container() -> None:
    deployments = _of("Deployment")
    assert len(deployments) == 2 * len(SERVICES)
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            where = f"{deployment['metadata']['name']}/{container['name']}"
            for probe in ("livenessProbe", "readinessProbe"):
                assert probe in container, f"{where} has no {probe}"
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), where
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), where


def test_every_container_runs_unprivileged_on_a_read_only_root() -> None:
    for where, pod, container in _containers():
        security = container["securityContext"]
        assert security["runAsNonRoot"] is True, where
        assert security.get("runAsUser", pod["securityContext"].get("runAsUser")) not in (None, 0), where
        assert security["readOnlyRootFilesystem"] is True, where
        assert security["allowPrivilegeEscalation"] is False, where
        assert security["capabilities"]["drop"] == ["ALL"], where
        assert "add" not in security["capabilities"], where
        assert not security.get("privileged", False), where
        assert {"cpu", "memory"} <= set(container["resources"]["limits"]), where
        # The only writable place: an emptyDir on /tmp.
        volumes = {v["name"]: v for v in pod["volumes"]}
        tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]  # noqa: S108
        assert tmp, where
        assert "emptyDir" in volumes[tmp[0]["name"]], where


def test_no_image_is_untagged_or_latest() -> None:
    for where, _, container in _containers():
        image = container["image"]
        name, _, tag = image.rpartition(":")
        assert name, f"{where}: {image}"
        assert tag, f"{where}: {image} has no tag"
        assert "/" not in tag, f"{where}: {image} has no tag"
        assert tag != "latest", f"{where}: {image}"
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    for image in kustomization["images"]:
        assert image.get("newTag") not in (None, "", "latest")


def _referenced_secrets() -> set[tuple[str, str | None]]:
    refs: set[tuple[str, str | None]] = set()
    for _, pod, container in _containers():
        for env in container.get("env", []):
            if ref := env.get("valueFrom", {}).get("secretKeyRef"):
                refs.add((ref["name"], ref["key"]))
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                refs.add((source["secretRef"]["name"], None))
        for volume in pod["volumes"]:
            if "secret" in volume:
                refs.add((volume["secret"]["secretName"], None))
    for ingress in _of("Ingress"):
        refs |= {(tls["secretName"], None) for tls in ingress["spec"].get("tls", [])}
    return refs


def test_secrets_are_referenced_by_name_and_documented_never_committed() -> None:
    assert not _of("Secret"), "secret values never go into the repository"
    documented: dict[str, dict[str, str]] = GENERATOR.SECRETS
    readme = (REPO / "README.md").read_text()
    for name, key in _referenced_secrets():
        assert name in documented, f"secret {name} is referenced but not documented"
        assert key is None or key in documented[name], f"secret {name} has no key {key}"
        assert f"`{name}`" in readme, f"the README's Deploy section does not name {name}"
    # And every documented one is used somewhere.
    assert {name for name, _ in _referenced_secrets()} == set(documented)


def test_env_comes_only_from_the_config_map_and_secrets_that_exist() -> None:
    config_maps = {c["metadata"]["name"] for c in _of("ConfigMap")}
    for where, _, container in _containers():
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                assert source["configMapRef"]["name"] in config_maps, where
        for env in container.get("env", []):
            assert "value" not in env or not re.search(r"(?i)password|secret|://", env["value"]), where
            assert "valueFrom" in env, f"{where}: {env['name']} is inline"


def _settings_class(service: str) -> type[ServiceSettings]:
    return SETTINGS.get(service, ServiceSettings)


def test_every_config_map_key_is_a_real_setting() -> None:
    data: dict[str, str] = _named("ConfigMap", "tila-config")["data"]
    common = {f.name for f in msgspec.structs.fields(ServiceSettings)}
    for key, value in data.items():
        assert isinstance(value, str), key
        if key in NOT_SETTINGS:
            assert key in NOT_SETTINGS[key].read_text(), key
            continue
        assert key.startswith("TILA_"), key
        rest = key.removeprefix("TILA_").lower()
        service = next((s for s in SERVICES if rest.startswith(f"{s}_")), None)
        if service is None:
            assert rest in common, f"{key} is no field of ServiceSettings"
        else:
            fields = {f.name for f in msgspec.structs.fields(_settings_class(service))}
            assert rest.removeprefix(f"{service}_") in fields, f"{key} is no field of {service}'s settings"


@pytest.mark.parametrize("service", SERVICES)
def test_the_config_map_with_the_secrets_loads_as_valid_settings(service: str) -> None:
    from shared.config import load_settings

    environ = dict(_named("ConfigMap", "tila-config")["data"])
    for kind in ("api", "worker"):
        (container,) = _named("Deployment", f"{service}-{kind}")["spec"]["template"]["spec"]["containers"]
        env = environ | {e["name"]: "postgresql://u:p@db/x" for e in container["env"]}
        settings = load_settings(service, env, cls=_settings_class(service))
        assert settings.database_url == "postgresql://u:p@db/x"


def test_a_typo_in_the_config_map_would_fail() -> None:
    data = _named("ConfigMap", "tila-config")["data"]
    common = {f.name for f in msgspec.structs.fields(ServiceSettings)}
    assert "worker_health_port" in common
    assert "TILA_WORKER_HEALTH_PORT" in data
    assert "worker_health_prot" not in common


def test_workers_get_the_relay_role_only_when_they_publish_and_apis_never() -> None:
    for service in SERVICES:
        (api,) = _named("Deployment", f"{service}-api")["spec"]["template"]["spec"]["containers"]
        (worker,) = _named("Deployment", f"{service}-worker")["spec"]["template"]["spec"]["containers"]
        api_keys = {e["valueFrom"]["secretKeyRef"]["key"] for e in api["env"]}
        worker_keys = {e["valueFrom"]["secretKeyRef"]["key"] for e in worker["env"]}
        assert api_keys == {"app-url", "url"}
        assert worker_keys == {"app-url", "url"} | ({"relay-url"} if service in STREAMS else set())


def test_the_ingress_routes_every_service_to_its_api_on_one_host() -> None:
    (ingress,) = _of("Ingress")
    (rule,) = ingress["spec"]["rules"]
    routes = {p["path"]: p["backend"]["service"]["name"] for p in rule["http"]["paths"]}
    assert routes == {f"/{service}": f"{service}-api" for service in SERVICES}
    assert all(p["pathType"] == "Prefix" for p in rule["http"]["paths"])
    assert ingress["spec"]["tls"][0]["hosts"] == [rule["host"]]


@pytest.mark.parametrize("service", SERVICES)
def test_api_metrics_are_on_a_port_the_service_and_so_the_ingress_do_not_route(service: str) -> None:
    (container,) = _named("Deployment", f"{service}-api")["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    (config,) = _of("ConfigMap")
    assert str(ports["metrics"]) == config["data"]["TILA_METRICS_PORT"]
    assert ports["metrics"] != ports["http"]
    exposed = _named("Service", f"{service}-api")["spec"]["ports"]
    assert [p["targetPort"] for p in exposed] == ["http"]


def _policies_selecting(labels: dict[str, str]) -> list[dict[str, Any]]:
    chosen = []
    for policy in _of("NetworkPolicy"):
        selector = policy["spec"]["podSelector"]
        if not all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items()):
            continue
        if all(labels.get(e["key"]) in e["values"] for e in selector.get("matchExpressions", [])):
            chosen.append(policy)
    return chosen


def _pod_labels(kind: str, name: str) -> dict[str, str]:
    labels: dict[str, str] = _named(kind, name)["spec"]["template"]["metadata"]["labels"]
    return labels


def _egress_ports(labels: dict[str, str]) -> set[int]:
    return {
        port["port"]
        for policy in _policies_selecting(labels)
        for rule in policy["spec"].get("egress", [])
        for port in rule.get("ports", [])
    }


def _internet_egress(labels: dict[str, str]) -> bool:
    return any(
        peer.get("ipBlock", {}).get("cidr") == "0.0.0.0/0"
        for policy in _policies_selecting(labels)
        for rule in policy["spec"].get("egress", [])
        for peer in rule.get("to", [])
    )


def test_network_policies_deny_by_default_and_open_only_what_each_pod_needs() -> None:
    deny = _named("NetworkPolicy", "default-deny")
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny["spec"]
    assert "egress" not in deny["spec"]
    for service in SERVICES:
        api = _pod_labels("Deployment", f"{service}-api")
        worker = _pod_labels("Deployment", f"{service}-worker")
        job = _pod_labels("Job", f"{service}-migrate")
        assert all(deny in _policies_selecting(labels) for labels in (api, worker, job))
        # APIs: reachable from the ingress controller; workers and jobs: from nowhere.
        api_ingress = [r for p in _policies_selecting(api) for r in p["spec"].get("ingress", [])]
        assert any(
            peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
            == "ingress-nginx"
            for rule in api_ingress
            for peer in rule["from"]
        )
        assert not [r for p in _policies_selecting(worker) for r in p["spec"].get("ingress", [])]
        assert not [r for p in _policies_selecting(job) for r in p["spec"].get("ingress", [])]
        assert {53, 5432, 4222} <= _egress_ports(api)
        assert {53, 5432, 4222} <= _egress_ports(worker)
        assert _egress_ports(job) == {53, 5432}
        assert not _internet_egress(job)
        # The internet on 443: webhooks from the integrations worker, logins from the organisations API.
        assert _internet_egress(worker) == (service == "integrations")
        assert _internet_egress(api) == (service == "organisations")


def test_internet_egress_excludes_private_networks() -> None:
    for policy in _of("NetworkPolicy"):
        for rule in policy["spec"].get("egress", []):
            for peer in rule.get("to", []):
                if block := peer.get("ipBlock"):
                    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= set(
                        block["except"]
                    )
                    assert [p["port"] for p in rule["ports"]] == [443]


def test_content_and_signing_keyrings_are_mounted_only_where_used() -> None:
    mounted = {
        where: {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
        for where, pod in _pod_specs()
    }
    assert mounted.pop("Deployment organisations-api") == {"tila-organisations-signing-keys"}
    assert mounted.pop("Deployment sessions-api") == {"tila-sessions-content-keys"}
    assert mounted.pop("Deployment integrations-api") == {"tila-integrations-webhook-secret-keys"}
    assert mounted.pop("Deployment integrations-worker") == {"tila-integrations-webhook-secret-keys"}
    assert all(not secrets for secrets in mounted.values())
    config = _named("ConfigMap", "tila-config")["data"]
    assert config["TILA_SESSIONS_CONTENT_KEYS_FILE"].startswith(GENERATOR.CONTENT_KEYS_DIR + "/")
    webhook_keys = config["TILA_INTEGRATIONS_WEBHOOK_SECRET_KEYS_FILE"]
    assert webhook_keys.startswith(GENERATOR.WEBHOOK_SECRET_KEYS_DIR + "/")
    assert config["TILA_ORGANISATIONS_SIGNING_KEYS_FILE"].startswith(GENERATOR.SIGNING_KEYS_DIR + "/")
    assert config["TILA_INTEGRATIONS_ALLOW_LOOPBACK_HTTP_WEBHOOKS"] == "false"
    assert config["TILA_ORGANISATIONS_ALLOW_LOOPBACK_HTTP_ISSUERS"] == "false"
    assert config["TILA_STREAM_REPLICAS"] == "3"


@pytest.mark.parametrize("service", SERVICES)
def test_the_autoscaler_owns_the_api_replicas_and_pods_spread_over_nodes(service: str) -> None:
    api = _named("Deployment", f"{service}-api")
    assert "replicas" not in api["spec"], "a re-apply would reset what the autoscaler chose"
    hpa = _named("HorizontalPodAutoscaler", f"{service}-api")
    assert hpa["spec"]["minReplicas"] >= 2
    budget = _named("PodDisruptionBudget", f"{service}-api")["spec"]["minAvailable"]
    assert budget < hpa["spec"]["minReplicas"]
    worker = _named("Deployment", f"{service}-worker")
    assert worker["spec"]["replicas"] >= 2
    for deployment in (api, worker):
        spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert {c["topologyKey"] for c in spread} == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert all(c["labelSelector"]["matchLabels"] == selector for c in spread)
