"""deploy/k8s: every manifest validates (strict) against real Kubernetes schemas, and the manifests
agree with the code (commands, variables), the design (probes, limits, non-root, PDBs) and each other."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import all_versions, latest_version

from painreview.registry import SERVICES
from shared.bus import NatsSettings
from tests.contract.deploy.code_contract import ENTRYPOINT, KNOWN_VARIABLES, ROOT, resolve

K8S = ROOT / "deploy" / "k8s"
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
# A supported release and the newest the validator knows.
VERSIONS = sorted({"1.33.0", latest_version()})
SECRETS = {"painreview-databases": {f"{name}-url" for name in SERVICES}}
OUR_IMAGE = "pain-review"


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def everything() -> list[dict[str, Any]]:
    return [doc for path in MANIFESTS for doc in documents(path)]


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in everything() if doc["kind"] == kind}


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def our_containers() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(workload name, pod spec, container) for every container running our image."""
    for kind in ("Deployment", "Job", "StatefulSet"):
        for name, workload in of_kind(kind).items():
            spec = pod_spec(workload)
            for container in spec["containers"]:
                if container["image"].split(":")[0] == OUR_IMAGE:
                    yield name, spec, container


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_every_manifest_validates_strictly(path: Path, version: str) -> None:
    assert version in all_versions()
    for document in documents(path):
        kubernetes_validate.validate(document, version, strict=True)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    assert sorted(kustomization["resources"]) == sorted(p.name for p in MANIFESTS)
    assert kustomization["namespace"] == "painreview"


def test_everything_lives_in_the_namespace() -> None:
    (namespace,) = of_kind("Namespace")
    for document in everything():
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == namespace, document["metadata"]["name"]


def test_each_service_has_a_deployment_a_service_and_a_disruption_budget() -> None:
    deployments, services, budgets = of_kind("Deployment"), of_kind("Service"), of_kind("PodDisruptionBudget")
    for name in SERVICES:
        deployment = deployments[name]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert services[name]["spec"]["selector"].items() <= labels.items()
        assert budgets[name]["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert deployment["spec"]["replicas"] > budgets[name]["spec"]["minAvailable"]


def test_the_four_service_files_differ_only_by_name() -> None:
    template = (K8S / "referral.yaml").read_text(encoding="utf-8")
    body = template.split("apiVersion:", 1)[1]
    for name in SERVICES:
        text = (K8S / f"{name}.yaml").read_text(encoding="utf-8")
        expected = body.replace("referral", name).replace("REFERRAL_", f"{name.upper()}_")
        assert text.split("apiVersion:", 1)[1] == expected, f"{name}.yaml drifted from referral.yaml"


def test_probes_hit_healthz_for_liveness_and_readyz_for_readiness() -> None:
    for name in SERVICES:
        (container,) = pod_spec(of_kind("Deployment")[name])["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"


def test_every_container_has_requests_limits_and_a_locked_down_security_context() -> None:
    for kind in ("Deployment", "Job", "StatefulSet"):
        for name, workload in of_kind(kind).items():
            spec = pod_spec(workload)
            assert spec["securityContext"]["runAsNonRoot"] is True, name
            assert spec["automountServiceAccountToken"] is False, name
            for container in spec["containers"]:
                resources = container["resources"]
                assert {"cpu", "memory"} <= set(resources["requests"]), name
                assert {"cpu", "memory"} <= set(resources["limits"]), name
                security = container["securityContext"]
                assert security["readOnlyRootFilesystem"] is True, name
                assert security["allowPrivilegeEscalation"] is False, name
                assert security["capabilities"]["drop"] == ["ALL"], name


def test_our_containers_run_real_commands_with_variables_our_code_reads() -> None:
    config = of_kind("ConfigMap")["painreview-config"]["data"]
    assert not set(config) - KNOWN_VARIABLES, sorted(set(config) - KNOWN_VARIABLES)
    seen = set()
    for name, _spec, container in our_containers():
        resolve(tuple(container["args"]))
        seen.add(tuple(container["args"]))
        variables = {item["name"] for item in container.get("env", [])}
        assert not variables - KNOWN_VARIABLES, (name, sorted(variables - KNOWN_VARIABLES))
        assert {"configMapRef": {"name": "painreview-config"}} in container["envFrom"], name
    assert {("serve", name) for name in SERVICES} | {("migrate",)} <= seen
    assert ("serve", "auth") not in seen, "production uses an external issuer"
    assert ENTRYPOINT == "pain-review"


def test_production_settings_are_accepted_by_our_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.auth.settings import AuthSettings

    config = of_kind("ConfigMap")["painreview-config"]["data"]
    for name, entry in SERVICES.items():
        (container,) = pod_spec(of_kind("Deployment")[name])["containers"]
        literal = {item["name"]: item["value"] for item in container["env"] if "value" in item}
        with monkeypatch.context() as env:
            for variable in KNOWN_VARIABLES:
                env.delenv(variable, raising=False)
            for variable, value in {**config, **literal}.items():
                env.setenv(variable, value)
            env.setenv(f"{name.upper()}_DATABASE_URL", "postgresql://svc:not-a-placeholder@db:5432/x")
            settings = entry.load_settings()
            auth = AuthSettings()
        assert settings.environment == "production" and settings.run_migrations is False
        assert settings.nats_url and "replicas=3" in settings.nats_url
        assert auth.environment == "production" and auth.mode == "external"
        assert auth.audiences == [f"https://api.pain-review.example/{name}/fhir"]


def test_secrets_are_referenced_by_name_and_never_committed() -> None:
    assert not of_kind("Secret"), "secret values do not belong in the repository"
    for name, _spec, container in our_containers():
        for item in container.get("env", []):
            ref = item.get("valueFrom", {}).get("secretKeyRef")
            if ref is not None:
                assert ref["key"] in SECRETS[ref["name"]], (name, ref)
        for source in container.get("envFrom", []):
            assert "secretRef" not in source, "name each secret key the container needs"
    migrate = of_kind("Job")["painreview-migrate"]
    (container,) = pod_spec(migrate)["containers"]
    refs = {item["valueFrom"]["secretKeyRef"]["key"] for item in container["env"] if "valueFrom" in item}
    assert refs == SECRETS["painreview-databases"]
    readme = (ROOT / "deploy" / "README.md").read_text(encoding="utf-8")
    for secret, keys in SECRETS.items():
        assert secret in readme and all(key in readme for key in keys)


def test_graceful_shutdown_outlasts_uvicorns_drain() -> None:
    cli = (ROOT / "painreview" / "cli.py").read_text(encoding="utf-8")
    drain = int(re.search(r"timeout_graceful_shutdown=(\d+)", cli).group(1))  # type: ignore[union-attr]
    for name in SERVICES:
        spec = pod_spec(of_kind("Deployment")[name])
        (container,) = spec["containers"]
        pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
        assert pre_stop[0] == "sleep"
        assert spec["terminationGracePeriodSeconds"] > drain + int(pre_stop[1])


def test_nats_is_a_three_node_jetstream_cluster_with_durable_storage() -> None:
    statefulset = of_kind("StatefulSet")["nats"]
    assert statefulset["spec"]["replicas"] == 3
    assert statefulset["spec"]["serviceName"] == "nats-headless"
    headless = of_kind("Service")["nats-headless"]["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    assert of_kind("PodDisruptionBudget")["nats"]["spec"]["maxUnavailable"] == 1  # quorum: 2 of 3
    config = of_kind("ConfigMap")["nats-config"]["data"]["nats.conf"]
    assert re.search(r"^\s*sync_interval: always$", config, flags=re.MULTILINE)
    assert "store_dir: /data/jetstream" in config
    routes = re.findall(r"nats://(nats-\d)\.nats-headless\.painreview\.svc\.cluster\.local:6222", config)
    assert routes == ["nats-0", "nats-1", "nats-2"]
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in pod_spec(statefulset)["containers"][0]["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == "/data"


def test_the_stream_job_creates_the_stream_the_services_expect_with_three_replicas() -> None:
    job = of_kind("Job")["nats-stream"]
    (container,) = pod_spec(job)["containers"]
    script = container["args"][0].replace("\\\n", " ")
    add = next(line for line in script.splitlines() if "nats stream add" in line)
    words = shlex.split(add)
    flags = {words[i]: words[i + 1] for i in range(len(words) - 1) if words[i].startswith("--")}
    wanted = NatsSettings().stream_config()
    assert words[3] == wanted.name
    assert [flags["--subjects"]] == wanted.subjects
    assert flags["--replicas"] == "3" and flags["--storage"] == "file"
    assert flags["--retention"] == "limits" and flags["--discard"] == "old"
    assert flags["--max-age"] == f"{int(NatsSettings().max_age // 86400)}d"
    assert flags["--dupe-window"] == f"{int(NatsSettings().duplicate_window // 60)}m"
    definition = ROOT / "deploy" / "nats" / "stream-painreview.json"
    if definition.exists():  # the event backbone's own stream definition must say the same
        stream = json.loads(definition.read_text(encoding="utf-8"))
        assert stream["name"] == wanted.name and stream["subjects"] == wanted.subjects
        assert stream["num_replicas"] == 3 and stream["storage"] == "file"
        assert stream["max_age"] == int(NatsSettings().max_age * 1e9)
        assert stream["duplicate_window"] == int(NatsSettings().duplicate_window * 1e9)
