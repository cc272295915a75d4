"""Generate the Kubernetes manifests in deploy/k8s/base from tila.composition.SERVICES.

    .venv/bin/python deploy/k8s/generate.py          # rewrite deploy/k8s/base/*.yaml
    .venv/bin/python deploy/k8s/generate.py --check  # exit 1 if they are out of date

The output is committed; tests/deploy/test_manifests.py fails when it is not what this script
renders. Secrets are referenced by name only (see SECRETS and the README's Deploy section): their
values are never in the repository.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from shared.events.streams import STREAMS  # noqa: E402
from tila.composition import SERVICES  # noqa: E402

BASE = Path(__file__).resolve().parent / "base"
NAMESPACE = "tila"
IMAGE = "tila:0.1.0"  # the kustomization maps the name "tila" to the registry's image
CONFIG_MAP = "tila-config"
API_PORT = 8000
WORKER_HEALTH_PORT = 8081
API_METRICS_PORT = 8082  # the API's /metrics: a container port the Service does not expose
UID = 10001
PUBLIC_HOST = "tila.example.fi"  # replace in an overlay
INGRESS_NAMESPACE = "ingress-nginx"
POSTGRES_NAMESPACE = "tila-postgres"
NATS_NAMESPACE = "tila-nats"
SIGNING_KEYS_DIR = "/var/run/secrets/tila/signing-keys"
CONTENT_KEYS_DIR = "/var/run/secrets/tila/content-keys"
WEBHOOK_SECRET_KEYS_DIR = "/var/run/secrets/tila/webhook-secret-keys"  # noqa: S105 (a mount path)
PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"]

PART_OF = {"app.kubernetes.io/part-of": "tila"}


def _database_secret(service: str) -> str:
    return f"tila-{service}-database"


def _nats_secret(service: str) -> str:
    return f"tila-{service}-nats"


def _publishes(service: str) -> bool:
    return service in STREAMS


_RELAY_URL = "postgresql://<relay role>:<password>@<host>:5432/<database>"

SECRETS: dict[str, dict[str, str]] = {
    **{
        _database_secret(s): {
            "app-url": "postgresql://<app role>:<password>@<host>:5432/<database>",
            **(
                {"relay-url": "postgresql://<relay role>:<password>@<host>:5432/<database>"}
                if _publishes(s)
                else {}
            ),
            "owner-url": "postgresql://<owner role>:<password>@<host>:5432/<database>",
        }
        for s in SERVICES
    },
    **{_nats_secret(s): {"url": f"nats://{s}:<password>@nats.{NATS_NAMESPACE}.svc:4222"} for s in SERVICES},
    "tila-organisations-signing-keys": {"signing-keys.json": "the token signing keyring (tila rotate-keys)"},
    "tila-organisations-idp-secrets": {"TILA_IDP_SECRET_<TENANT ID HEX>": "each tenant's OIDC client secret"},
    "tila-sessions-content-keys": {"content-keys.json": "the content keyring (32-byte keys, newest last)"},
    "tila-integrations-webhook-secret-keys": {
        "webhook-secret-keys.json": "the keyring sealing webhook signing secrets (32-byte keys, newest last)"
    },
    "tila-tls": {"tls.crt": "the public certificate", "tls.key": "its private key"},
}
"""Every Secret the manifests reference, its keys and what goes in them (documentation only)."""

CONFIG: dict[str, str] = {
    "TILA_LOG_LEVEL": "info",
    "TILA_STREAM_REPLICAS": "3",
    "TILA_TOKEN_ISSUER": f"https://{PUBLIC_HOST}/organisations",
    "TILA_TOKEN_AUDIENCE": "tila",
    "TILA_JWKS_URL": (
        f"http://organisations-api.{NAMESPACE}.svc:{API_PORT}/organisations/.well-known/jwks.json"
    ),
    "TILA_DB_POOL_MIN": "1",
    "TILA_DB_POOL_MAX": "10",
    "TILA_OUTBOX_POLL_INTERVAL": "1.0",
    "TILA_RATE_LIMIT_PER_SECOND": "100",
    "TILA_RATE_LIMIT_BURST": "200",
    "TILA_RATE_LIMIT_IN_FLIGHT": "32",
    # The API ports admit only the ingress controller (and Tila's own APIs, which forward nothing):
    # its X-Forwarded-For names the client the rate limits key by; anyone else's is ignored.
    "TILA_TRUSTED_PROXIES": ",".join(PRIVATE_RANGES[:3]),
    "TILA_WORKER_HEALTH_PORT": str(WORKER_HEALTH_PORT),
    "TILA_METRICS_PORT": str(API_METRICS_PORT),
    "TILA_ORGANISATIONS_PUBLIC_BASE_URL": f"https://{PUBLIC_HOST}",
    "TILA_ORGANISATIONS_SIGNING_KEYS_FILE": f"{SIGNING_KEYS_DIR}/signing-keys.json",
    "TILA_ORGANISATIONS_ALLOW_LOOPBACK_HTTP_ISSUERS": "false",
    "TILA_SESSIONS_CONTENT_KEYS_FILE": f"{CONTENT_KEYS_DIR}/content-keys.json",
    "TILA_SESSIONS_CONTENT_RETENTION_MONTHS": "12",
    "TILA_INTEGRATIONS_ALLOW_LOOPBACK_HTTP_WEBHOOKS": "false",
    "TILA_INTEGRATIONS_WEBHOOK_SECRET_KEYS_FILE": f"{WEBHOOK_SECRET_KEYS_DIR}/webhook-secret-keys.json",
    "TILA_INTEGRATIONS_WEBHOOK_RETRY_WINDOW_SECONDS": "97200",
}
"""The non-secret settings (``TILA_<FIELD>`` or ``TILA_<SERVICE>_<FIELD>``; TILA_STREAM_REPLICAS is
read by shared/events/streams.py)."""


def _labels(service: str | None, role: str) -> dict[str, str]:
    labels = {**PART_OF, "app.kubernetes.io/name": "tila", "app.kubernetes.io/component": role}
    if service is not None:
        labels["tila/service"] = service
    return labels


def _selector(service: str, role: str) -> dict[str, str]:
    return {"tila/service": service, "app.kubernetes.io/component": role}


def _meta(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"name": name, "labels": labels}


def _secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def _container_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
    }


def _pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "fsGroup": UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _http_probe(path: str, port: str, *, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def _spread(labels: dict[str, str]) -> list[dict[str, Any]]:
    """Replicas on different nodes and zones where the cluster allows it."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": labels},
        }
        for key in ("kubernetes.io/hostname", "topology.kubernetes.io/zone")
    ]


def _pod_spec(
    containers: list[dict[str, Any]], volumes: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    return {
        "serviceAccountName": "tila",
        "automountServiceAccountToken": False,
        "securityContext": _pod_security(),
        "containers": containers,
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}, *volumes],
        **extra,
    }


def _container(
    name: str,
    args: list[str],
    env: list[dict[str, Any]],
    mounts: list[dict[str, Any]],
    *,
    resources: dict[str, Any],
    command: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "image": IMAGE, "imagePullPolicy": "IfNotPresent"}
    if command:
        container["command"] = command
    container |= {
        "args": args,
        "envFrom": [{"configMapRef": {"name": CONFIG_MAP}}],
        "env": env,
        **extra,
        "resources": resources,
        "securityContext": _container_security(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, *mounts],  # noqa: S108 (an emptyDir)
    }
    return container


_WEBHOOK_KEYS_MOUNT = {"name": "webhook-secret-keys", "mountPath": WEBHOOK_SECRET_KEYS_DIR, "readOnly": True}
_WEBHOOK_KEYS_VOLUME = {
    "name": "webhook-secret-keys",
    "secret": {"secretName": "tila-integrations-webhook-secret-keys"},
}
"""The integrations API seals webhook signing secrets and its worker opens them to sign."""


def _api(service: str) -> list[dict[str, Any]]:
    name = f"{service}-api"
    labels = _labels(service, "api")
    key = service.upper()
    env = [
        _secret_env(f"TILA_{key}_DATABASE_URL", _database_secret(service), "app-url"),
        _secret_env(f"TILA_{key}_NATS_URL", _nats_secret(service), "url"),
    ]
    mounts: list[dict[str, Any]] = []
    volumes: list[dict[str, Any]] = []
    extra: dict[str, Any] = {}
    if service == "organisations":
        mounts.append({"name": "signing-keys", "mountPath": SIGNING_KEYS_DIR, "readOnly": True})
        volumes.append({"name": "signing-keys", "secret": {"secretName": "tila-organisations-signing-keys"}})
        # Each tenant's client secret at its identity provider (TILA_IDP_SECRET_<tenant id hex>).
        extra["envFrom"] = [
            {"configMapRef": {"name": CONFIG_MAP}},
            {"secretRef": {"name": "tila-organisations-idp-secrets", "optional": True}},
        ]
    if service == "sessions":
        mounts.append({"name": "content-keys", "mountPath": CONTENT_KEYS_DIR, "readOnly": True})
        volumes.append({"name": "content-keys", "secret": {"secretName": "tila-sessions-content-keys"}})
    if service == "integrations":
        mounts.append(_WEBHOOK_KEYS_MOUNT)
        volumes.append(_WEBHOOK_KEYS_VOLUME)
    granian = ["--interface", "asgi", "--factory", "--no-ws", "--host", "0.0.0.0"]  # noqa: S104 (in its pod)
    granian += ["--port", str(API_PORT), "--workers", "1", f"services.{service}.app:create_app"]
    container = _container(
        "api",
        granian,
        env,
        mounts,
        command=["granian"],
        # Metrics on a port of their own: the Service (and so the ingress) routes only "http".
        ports=[
            {"name": "http", "containerPort": API_PORT, "protocol": "TCP"},
            {"name": "metrics", "containerPort": API_METRICS_PORT, "protocol": "TCP"},
        ],
        startupProbe=_http_probe(f"/{service}/health/live", "http", period=2, failures=30),
        livenessProbe=_http_probe(f"/{service}/health/live", "http", period=10, failures=3),
        readinessProbe=_http_probe(f"/{service}/health/ready", "http", period=5, failures=2),
        resources={
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
    )
    if "envFrom" in extra:
        container["envFrom"] = extra["envFrom"]
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, labels),
        "spec": {
            # No replicas: the HorizontalPodAutoscaler owns the count (2 to 10); a re-apply leaves it.
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": _selector(service, "api")},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": labels},
                "spec": _pod_spec(
                    [container],
                    volumes,
                    terminationGracePeriodSeconds=30,
                    topologySpreadConstraints=_spread(_selector(service, "api")),
                ),
            },
        },
    }
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, labels),
        "spec": {
            "type": "ClusterIP",
            "selector": _selector(service, "api"),
            "ports": [{"name": "http", "port": API_PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(name, labels),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 2,
            "maxReplicas": 10,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                }
            ],
        },
    }
    return [deployment, svc, _pdb(name, service, "api"), hpa]


def _pdb(name: str, service: str, role: str) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(name, _labels(service, role)),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": _selector(service, role)}},
    }


def _worker(service: str) -> list[dict[str, Any]]:
    name = f"{service}-worker"
    labels = _labels(service, "worker")
    key = service.upper()
    env = [
        _secret_env(f"TILA_{key}_DATABASE_URL", _database_secret(service), "app-url"),
        _secret_env(f"TILA_{key}_NATS_URL", _nats_secret(service), "url"),
    ]
    if _publishes(service):
        env.append(_secret_env(f"TILA_{key}_RELAY_DATABASE_URL", _database_secret(service), "relay-url"))
    mounts: list[dict[str, Any]] = []
    volumes: list[dict[str, Any]] = []
    if service == "integrations":
        mounts.append(_WEBHOOK_KEYS_MOUNT)
        volumes.append(_WEBHOOK_KEYS_VOLUME)
    container = _container(
        "worker",
        ["worker", "--service", service],
        env,
        mounts,
        ports=[{"name": "health", "containerPort": WORKER_HEALTH_PORT, "protocol": "TCP"}],
        startupProbe=_http_probe("/live", "health", period=2, failures=30),
        livenessProbe=_http_probe("/live", "health", period=10, failures=3),
        readinessProbe=_http_probe("/ready", "health", period=10, failures=3),
        resources={
            "requests": {"cpu": "100m", "memory": "192Mi"},
            "limits": {"cpu": "500m", "memory": "384Mi"},
        },
    )
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, labels),
        "spec": {
            # Two for availability: the relay elects a leader through an advisory lock, and the
            # consumers share their durable pull consumers.
            "replicas": 2,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": _selector(service, "worker")},
            "template": {
                "metadata": {"labels": labels},
                "spec": _pod_spec(
                    [container],
                    volumes,
                    terminationGracePeriodSeconds=30,
                    topologySpreadConstraints=_spread(_selector(service, "worker")),
                ),
            },
        },
    }
    return [deployment, _pdb(name, service, "worker")]


def _migration(service: str) -> dict[str, Any]:
    key = service.upper()
    labels = _labels(service, "migration")
    env = [
        _secret_env(f"TILA_{key}_OWNER_DATABASE_URL", _database_secret(service), "owner-url"),
        # Settings need a database URL; the migration connects as the owner only.
        _secret_env(f"TILA_{key}_DATABASE_URL", _database_secret(service), "owner-url"),
    ]
    container = _container(
        "migrate",
        ["migrate", "--service", service],
        env,
        [],
        resources={
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
    )
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(f"{service}-migrate", labels),
        "spec": {
            "backoffLimit": 2,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {"labels": labels},
                "spec": _pod_spec([container], [], restartPolicy="Never"),
            },
        },
    }


def _policy(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(name, _labels(None, "network")),
        "spec": spec,
    }


def _namespace(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def _tcp(port: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port}]


def _to(peer: dict[str, Any], port: int) -> dict[str, Any]:
    return {"to": [peer], "ports": _tcp(port)}


def _from(peer: dict[str, Any], port: int) -> dict[str, Any]:
    return {"from": [peer], "ports": _tcp(port)}


_APIS = {"podSelector": {"matchLabels": {**PART_OF, "app.kubernetes.io/component": "api"}}}


def _internet_443() -> dict[str, Any]:
    # Public addresses only: a webhook or an identity provider never reaches the cluster's own network.
    return {
        "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": PRIVATE_RANGES}}],
        "ports": [{"protocol": "TCP", "port": 443}],
    }


def _network_policies() -> list[dict[str, Any]]:
    tila = {"matchLabels": PART_OF}
    policies = [
        _policy("default-deny", {"podSelector": tila, "policyTypes": ["Ingress", "Egress"]}),
        _policy(
            "egress-dns",
            {
                "podSelector": tila,
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                **_namespace("kube-system"),
                                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                            }
                        ],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    }
                ],
            },
        ),
        _policy(
            "egress-postgresql",
            {
                "podSelector": tila,
                "policyTypes": ["Egress"],
                "egress": [
                    {"to": [_namespace(POSTGRES_NAMESPACE)], "ports": [{"protocol": "TCP", "port": 5432}]}
                ],
            },
        ),
        _policy(
            "egress-nats",
            {
                "podSelector": {
                    "matchExpressions": [
                        {"key": "app.kubernetes.io/component", "operator": "In", "values": ["api", "worker"]}
                    ],
                    "matchLabels": PART_OF,
                },
                "policyTypes": ["Egress"],
                "egress": [
                    {"to": [_namespace(NATS_NAMESPACE)], "ports": [{"protocol": "TCP", "port": 4222}]}
                ],
            },
        ),
        _policy(
            "api-ingress-from-ingress-controller",
            {
                "podSelector": {"matchLabels": {**PART_OF, "app.kubernetes.io/component": "api"}},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [_namespace(INGRESS_NAMESPACE)],
                        "ports": [{"protocol": "TCP", "port": API_PORT}],
                    }
                ],
            },
        ),
        # The APIs fetch the organisations JWKS (TILA_JWKS_URL) inside the cluster.
        _policy(
            "apis-to-organisations-jwks",
            {
                "podSelector": {"matchLabels": {**PART_OF, "app.kubernetes.io/component": "api"}},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [{"podSelector": {"matchLabels": _selector("organisations", "api")}}],
                        "ports": [{"protocol": "TCP", "port": API_PORT}],
                    }
                ],
            },
        ),
        _policy(
            "organisations-api-from-apis",
            {
                "podSelector": {"matchLabels": _selector("organisations", "api")},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {
                                "podSelector": {
                                    "matchLabels": {**PART_OF, "app.kubernetes.io/component": "api"}
                                }
                            }
                        ],
                        "ports": [{"protocol": "TCP", "port": API_PORT}],
                    }
                ],
            },
        ),
        # Logins talk to each tenant's own identity provider (discovery, token endpoint, JWKS).
        _policy(
            "organisations-api-egress-identity-providers",
            {
                "podSelector": {"matchLabels": _selector("organisations", "api")},
                "policyTypes": ["Egress"],
                "egress": [_internet_443()],
            },
        ),
        # Webhooks go to the tenants' HTTPS endpoints on the internet.
        _policy(
            "integrations-worker-egress-webhooks",
            {
                "podSelector": {"matchLabels": _selector("integrations", "worker")},
                "policyTypes": ["Egress"],
                "egress": [_internet_443()],
            },
        ),
    ]
    return policies


def _common() -> list[dict[str, Any]]:
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta("tila", _labels(None, "platform")),
        "automountServiceAccountToken": False,
    }
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(CONFIG_MAP, _labels(None, "platform")),
        "data": CONFIG,
    }
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            **_meta("tila", _labels(None, "ingress")),
            "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "2m"},
        },
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": [PUBLIC_HOST], "secretName": "tila-tls"}],
            "rules": [
                {
                    "host": PUBLIC_HOST,
                    "http": {
                        "paths": [
                            {
                                "path": f"/{service}",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": f"{service}-api", "port": {"name": "http"}}},
                            }
                            for service in SERVICES
                        ]
                    },
                }
            ],
        },
    }
    return [account, config, ingress, *_network_policies()]


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # plain YAML, no &anchors for the labels repeated in a template


_HEADER = "# Generated by deploy/k8s/generate.py from tila.composition.SERVICES; do not edit by hand.\n"


def _dump(documents: list[dict[str, Any]]) -> str:
    return _HEADER + yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False, width=110)


def render() -> dict[str, str]:
    """File name (under deploy/k8s/base) → content."""
    files = {"platform.yaml": _dump(_common())}
    for service in SERVICES:
        files[f"{service}.yaml"] = _dump([*_api(service), *_worker(service)])
    files["migrations.yaml"] = _dump([_migration(service) for service in SERVICES])
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": NAMESPACE,
        "resources": sorted(files),
        "images": [{"name": "tila", "newName": "registry.example.fi/tila/tila", "newTag": "0.1.0"}],
    }
    files["kustomization.yaml"] = _dump([kustomization])
    return files


def main(argv: list[str]) -> int:
    files = render()
    if "--check" in argv:
        stale = [
            name
            for name, text in files.items()
            if not (BASE / name).is_file() or (BASE / name).read_text() != text
        ]
        extra = sorted(p.name for p in BASE.glob("*.yaml") if p.name not in files)
        if stale or extra:
            print(f"out of date: {', '.join(stale + extra)}; run deploy/k8s/generate.py", file=sys.stderr)
            return 1
        return 0
    BASE.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (BASE / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
