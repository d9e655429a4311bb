"""The deployment files hold together: compose and Kubernetes manifests, checked structurally.

Every manifest names itself; Deployments select their own pods, have resources, probes on the
metrics port and a non-root, read-only security context; every ``SHOCKWATCH_*`` variable is a
real setting; no secret sits in a ConfigMap or a plain environment value; every command exists
in the CLI; every file compose mounts or builds from exists in the repository.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from common import settings as settings_module
from common.settings import PROJECT_ROOT, Settings
from producers.config import ProducerSettings

# PyYAML is a dev dependency (pyproject [dev]); say so instead of failing on an import.
yaml = pytest.importorskip("yaml", reason="PyYAML missing: pip install -e '.[dev]' (pyyaml)")

COMPOSE_DIR = PROJECT_ROOT / "deploy" / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
K8S_DIR = PROJECT_ROOT / "deploy" / "k8s"
NAMESPACE = "shockwatch"
SECRET_NAMES = ("SLACK_WEBHOOK_URL", "SLACK_BOT_TOKEN", "KAFKA_SASL_PASSWORD")
SHOCKWATCH_SERVICES = {
    "worker",
    "notifier",
    "producer-liquidations",
    "producer-prices",
    "producer-funding",
}


# ---------------------------------------------------------------------------------------------
# Helpers


def load_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def k8s_docs() -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for path in sorted(K8S_DIR.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                out.append((path, doc))
    return out


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [d for _, d in k8s_docs() if d.get("kind") == kind]


def interpolate(value: str) -> str:
    """Compose's ``${VAR:-default}`` with VAR unset (what a fresh checkout gets)."""
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}", lambda m: m.group(1) or "", value)


def secret_file_env_names() -> set[str]:
    """The ``SHOCKWATCH_<NAME>_FILE`` variables ``load_settings`` reads."""
    source = inspect.getsource(settings_module.load_settings)
    names = set(re.findall(r'"([A-Z_]+)"', source))
    assert names >= set(SECRET_NAMES), names
    return {f"SHOCKWATCH_{n}_FILE" for n in names}


def env_read_in_source() -> set[str]:
    """``SHOCKWATCH_*`` names the code reads directly from ``os.environ`` (not Settings)."""
    names: set[str] = set()
    for package in ("shockwatch", "streams", "alerts", "producers"):
        for path in (PROJECT_ROOT / package).rglob("*.py"):
            text = path.read_text()
            names |= set(re.findall(r'environ(?:\.get\(|\[)\s*"(SHOCKWATCH_[A-Z0-9_]+)"', text))
    return names - {f"SHOCKWATCH_{n}_FILE" for n in SECRET_NAMES}


def _model_has(model: type[BaseModel], parts: list[str]) -> bool:
    field = model.model_fields.get(parts[0])
    if field is None:
        return False
    if len(parts) == 1:
        return True
    sub = field.annotation
    return isinstance(sub, type) and issubclass(sub, BaseModel) and _model_has(sub, parts[1:])


def is_setting(name: str) -> bool:
    """``SHOCKWATCH_X`` is a Settings field (nested with ``__``), a producers' setting
    (``SHOCKWATCH_PRODUCERS__X``), a secret file, or a variable the code reads itself."""
    if not name.startswith("SHOCKWATCH_"):
        return False
    if name in secret_file_env_names() or name in env_read_in_source():
        return True
    rest = name.removeprefix("SHOCKWATCH_").lower()
    if rest.startswith("producers__"):
        return rest.removeprefix("producers__") in ProducerSettings.model_fields
    return _model_has(Settings, rest.split("__"))


def test_is_setting_tells_real_from_invented_names() -> None:
    assert is_setting("SHOCKWATCH_KAFKA_BOOTSTRAP")
    assert is_setting("SHOCKWATCH_DETECTION__ALERTS__CRITICAL_SCORE")
    assert is_setting("SHOCKWATCH_SLACK_WEBHOOK_URL_FILE")
    assert is_setting("SHOCKWATCH_PRODUCERS__HEARTBEAT_S")
    assert is_setting("SHOCKWATCH_WORKER_LOGLEVEL")  # read by shockwatch/cli/main.py itself
    assert not is_setting("SHOCKWATCH_KAFKA_BOOTSTRAP_SERVERS")
    assert not is_setting("SHOCKWATCH_DETECTION__NOPE")
    assert not is_setting("SHOCKWATCH_METRICS_HOST__X")
    assert not is_setting("SHOCKWATCH_PRODUCERS__NOPE")
    assert not is_setting("SHOCKWATCH_SLACK_CHANNEL_FILE")


def looks_secret(value: str) -> bool:
    return bool(re.search(r"hooks\.slack\.com/services/T[0-9A-Z]+/B[0-9A-Z]+/\w{8,}", value)) or (
        bool(re.search(r"xox[abprs]-[A-Za-z0-9-]{10,}", value))
    )


@pytest.fixture
def cli() -> Iterator[CliRunner]:
    """The real typer app; its callback reconfigures the root logger, so put it back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield CliRunner()
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


def assert_command_exists(runner: CliRunner, command: list[str]) -> None:
    """``shockwatch <sub-commands> [options] --help`` exits 0: the command path and every
    option name exist (click rejects an unknown option before it prints the help)."""
    from shockwatch.cli.main import app

    assert command[0] == "shockwatch", command
    result = runner.invoke(app, [*command[1:], "--help"])
    assert result.exit_code == 0, (command, result.output)
    assert "Usage:" in result.output


def test_a_missing_command_or_option_is_caught(cli: CliRunner) -> None:
    from shockwatch.cli.main import app

    assert runner_exit(cli, app, ["alerts", "nope", "--help"]) != 0
    assert runner_exit(cli, app, ["worker", "--no-such-option", "1", "--help"]) != 0


def runner_exit(runner: CliRunner, app: Any, args: list[str]) -> int:
    return runner.invoke(app, args).exit_code


# ---------------------------------------------------------------------------------------------
# docker compose


def compose_commands() -> dict[str, list[str]]:
    services = load_compose()["services"]
    return {n: s["command"] for n, s in services.items() if n in SHOCKWATCH_SERVICES}


def test_compose_has_the_whole_stack() -> None:
    services = load_compose()["services"]
    assert set(services) >= {"kafka", "prometheus", "alertmanager", "grafana"} | SHOCKWATCH_SERVICES
    kafka = services["kafka"]
    assert kafka["image"] == "apache/kafka:3.9.1"
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}  # KRaft
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"  # the topics are the contract
    assert any(v.endswith(":/var/lib/kafka/data") for v in kafka["volumes"])
    assert "healthcheck" in kafka


def test_compose_shockwatch_services_are_configured_from_settings() -> None:
    services = load_compose()["services"]
    for name in SHOCKWATCH_SERVICES:
        svc = services[name]
        env = svc["environment"]
        assert svc["build"]["dockerfile"] == "deploy/compose/Dockerfile", name
        assert svc["command"][0] == "shockwatch", name
        # Metrics bind to 127.0.0.1 by default: unreachable from Prometheus in another container.
        assert env["SHOCKWATCH_METRICS_HOST"] == "0.0.0.0", name
        assert env["SHOCKWATCH_KAFKA_BOOTSTRAP"] == "kafka:9092", name
        assert svc["depends_on"]["kafka"]["condition"] == "service_healthy", name
        for var in env:
            assert is_setting(var), f"{name}: {var} is not a shockwatch setting"
        for secret in SECRET_NAMES:
            assert f"SHOCKWATCH_{secret}" not in env, f"{name}: secret {secret} as plain env"
        for value in env.values():
            assert not looks_secret(str(value)), name
        assert svc.get("read_only") is True and "/tmp" in svc["tmpfs"], name


def test_compose_notifier_reads_the_webhook_from_a_secret_file() -> None:
    doc = load_compose()
    notifier = doc["services"]["notifier"]
    assert "slack_webhook_url" in notifier["secrets"]
    assert (
        notifier["environment"]["SHOCKWATCH_SLACK_WEBHOOK_URL_FILE"]
        == "/run/secrets/slack_webhook_url"
    )
    for name, secret in doc["secrets"].items():
        path = COMPOSE_DIR / interpolate(secret["file"])
        assert path.is_file(), f"secret {name}: {path} missing"
    # Alertmanager reads its ops webhook where deploy/alertmanager/alertmanager.yml says.
    am_cfg = yaml.safe_load((PROJECT_ROOT / "deploy/alertmanager/alertmanager.yml").read_text())
    url_files = {c["api_url_file"] for r in am_cfg["receivers"] for c in r.get("slack_configs", [])}
    targets = {s["target"] for s in doc["services"]["alertmanager"]["secrets"]}
    assert url_files <= targets


def test_compose_commands_exist_in_the_cli(cli: CliRunner) -> None:
    commands = compose_commands()
    assert commands["worker"][:2] == ["shockwatch", "worker"]
    assert commands["notifier"][:3] == ["shockwatch", "alerts", "notify"]
    for feed in ("liquidations", "prices", "funding"):
        assert commands[f"producer-{feed}"][:3] == ["shockwatch", "produce", feed]
    for command in commands.values():
        assert_command_exists(cli, command)


def _bind_sources(svc: dict[str, Any]) -> list[str]:
    out = []
    for vol in svc.get("volumes", []):
        source = vol.split(":", 1)[0] if isinstance(vol, str) else vol.get("source", "")
        if source.startswith((".", "/")):
            out.append(source)
    return out


def test_compose_files_it_mounts_and_builds_exist() -> None:
    doc = load_compose()
    for name, svc in doc["services"].items():
        for source in _bind_sources(svc):
            assert (COMPOSE_DIR / source).resolve().exists(), f"{name}: {source} missing"
        build = svc.get("build")
        if build:
            context = (COMPOSE_DIR / build["context"]).resolve()
            assert context == PROJECT_ROOT
            dockerfile = context / build["dockerfile"]
            assert dockerfile.is_file()
            for line in dockerfile.read_text().splitlines():
                if line.startswith("COPY") and "--from=" not in line:
                    for src in line.split()[1:-1]:
                        assert (context / src).exists(), f"Dockerfile COPY {src} missing"


def test_compose_prometheus_scrapes_the_services_and_loads_the_rules() -> None:
    doc = load_compose()
    prom = doc["services"]["prometheus"]
    mounts = dict(v.split(":")[:2] for v in prom["volumes"] if v.startswith("."))
    config_src = next(s for s, t in mounts.items() if t == "/etc/prometheus/prometheus.yml")
    config = yaml.safe_load((COMPOSE_DIR / config_src).read_text())
    # Rule files: rendered by the one-shot `rules` service (runbook links from the deployment's
    # SHOCKWATCH_RUNBOOK_BASE_URL) into a volume Prometheus mounts, before Prometheus starts.
    rules = doc["services"]["rules"]
    assert prom["depends_on"]["rules"]["condition"] == "service_completed_successfully"
    volumes = {v.split(":")[0]: v.split(":")[1] for v in prom["volumes"]}
    written = dict(v.split(":")[:2] for v in rules["volumes"])
    cmd = rules["command"]
    assert cmd[:4] == ["python", "-m", "shockwatch.local.ops", "rules"] and cmd[4] == "--out"
    for rule in config["rule_files"]:
        volume = next(n for n, t in volumes.items() if Path(rule).is_relative_to(t))
        assert Path(cmd[5]) == Path(written[volume]) / Path(rule).relative_to(volumes[volume])
    assert "SHOCKWATCH_RUNBOOK_BASE_URL" in rules["environment"]
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert {"shockwatch-worker", "shockwatch-notifier"} <= set(jobs)  # names the rules use
    commands = compose_commands()
    for job in jobs.values():
        for target in (t for sc in job["static_configs"] for t in sc["targets"]):
            host, port = target.split(":")
            svc = doc["services"][host]
            assert port in [str(p) for p in svc.get("expose", [])], target
            if host in commands and host != "worker":
                assert commands[host][commands[host].index("--metrics-port") + 1] == port
    assert doc["services"]["worker"]["environment"]["SHOCKWATCH_METRICS_PORT"] == "9464"
    am = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][0]
    assert am.split(":")[0] in doc["services"]


def test_compose_grafana_provisions_the_dashboard() -> None:
    doc = load_compose()
    grafana = doc["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"] if v.startswith("."))
    provider_src = next(s for s, t in mounts.items() if "provisioning/dashboards" in t)
    provider = yaml.safe_load((COMPOSE_DIR / provider_src).read_text())
    path = provider["providers"][0]["options"]["path"]
    dashboards_src = next(s for s, t in mounts.items() if t == path)
    dashboard = json.loads((COMPOSE_DIR / dashboards_src / "shockwatch.json").read_text())
    ds_src = next(s for s, t in mounts.items() if "provisioning/datasources" in t)
    datasource = yaml.safe_load((COMPOSE_DIR / ds_src).read_text())["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"
    default = next(v for v in dashboard["templating"]["list"] if v["type"] == "datasource")
    assert default["current"]["value"] == datasource["uid"]


def test_docker_compose_config_validates() -> None:
    docker = shutil.which("docker")
    ok = (
        docker
        and subprocess.run(
            [docker, "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    )
    if not ok:
        pytest.skip("`docker compose` is not available here; structure is checked above")
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE_FILE), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------------------------------
# Kubernetes


def test_every_k8s_document_names_itself() -> None:
    docs = k8s_docs()
    assert docs
    for path, doc in docs:
        where = f"{path.name}: {doc.get('kind')}"
        assert doc.get("apiVersion"), where
        assert doc.get("kind"), where
        assert doc.get("metadata", {}).get("name"), where
        if doc["kind"] not in ("Namespace", "Kustomization"):
            assert doc["metadata"].get("namespace") == NAMESPACE, where


def test_kustomization_lists_every_manifest() -> None:
    kust = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    listed = set(kust["resources"])
    for name in listed:
        assert (K8S_DIR / name).is_file(), name
    optional = {"kustomization.yaml", "servicemonitor.yaml"}  # the CRD may be absent
    assert {p.name for p in K8S_DIR.glob("*.yaml")} - optional == listed
    images = {i["name"] for i in kust["images"]}
    for dep in of_kind("Deployment"):
        for c in dep["spec"]["template"]["spec"]["containers"]:
            assert c["image"].split(":")[0] in images


def test_deployments_select_their_own_pods_with_resources_and_probes() -> None:
    deployments = of_kind("Deployment")
    names = {d["metadata"]["name"] for d in deployments}
    assert names == {
        "shockwatch-worker",
        "shockwatch-notifier",
        "shockwatch-producer-liquidations",
        "shockwatch-producer-prices",
        "shockwatch-producer-funding",
    }
    for dep in deployments:
        name = dep["metadata"]["name"]
        spec = dep["spec"]
        selector = spec["selector"]["matchLabels"]
        labels = spec["template"]["metadata"]["labels"]
        assert selector and selector.items() <= labels.items(), name
        assert spec["replicas"] == 1, name
        assert spec["strategy"]["type"] == "Recreate", name
        pod = spec["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        for c in pod["containers"]:
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][kind]), (name, kind)
            ports = {p["name"]: p["containerPort"] for p in c["ports"]}
            for probe in ("livenessProbe", "readinessProbe"):
                http = c[probe]["httpGet"]
                assert http["path"] == "/metrics", (name, probe)
                assert http["port"] in ports or http["port"] in ports.values(), (name, probe)
            for mount in c["volumeMounts"]:
                assert mount["name"] in volumes, (name, mount)


def test_pods_run_as_non_root_on_a_read_only_root_filesystem() -> None:
    config = of_kind("ConfigMap")[0]["data"]
    for dep in of_kind("Deployment"):
        name = dep["metadata"]["name"]
        pod = dep["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        assert pod.get("automountServiceAccountToken") is False, name
        volumes = {v["name"]: v for v in pod["volumes"]}
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            # The state folder and /tmp are writable volumes (the root filesystem is not).
            writable = {
                m["mountPath"]
                for m in c["volumeMounts"]
                if not m.get("readOnly")
                and ({"emptyDir", "persistentVolumeClaim"} & set(volumes[m["name"]]))
            }
            assert {config["SHOCKWATCH_STATE_DIR"], "/tmp"} <= writable, name


def test_worker_is_a_single_replica_and_says_why() -> None:
    text = (K8S_DIR / "worker.yaml").read_text()
    before = text[: text.index("replicas: 1")]
    comment = " ".join(
        line.strip().lstrip("#") for line in before.splitlines()[-12:] if "#" in line
    ).lower()
    assert "global" in comment and "partitions" in comment
    assert "docs/architecture.md" in comment


def json_patch(doc: Any, ops: list[dict[str, Any]]) -> Any:
    """The RFC 6902 operations kustomize applies (replace, add with "-" for append)."""
    import copy

    doc = copy.deepcopy(doc)
    for op in ops:
        *parents, last = op["path"].strip("/").split("/")
        node = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        assert op["op"] in {"replace", "add"}, op
        if isinstance(node, list):
            assert op["op"] == "add" and last == "-", op
            node.append(op["value"])
        else:
            assert op["op"] == "add" or last in node, f"replace of a missing {op['path']}"
            node[last] = op["value"]
    return doc


def test_scale_out_overlay_patches_the_base_worker_into_a_shared_group() -> None:
    overlay = K8S_DIR / "scale-out"
    kust = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    assert kust["kind"] == "Kustomization"
    assert [(overlay / r / "kustomization.yaml").resolve() for r in kust["resources"]] == [
        (K8S_DIR / "kustomization.yaml").resolve()
    ]
    (patch,) = kust["patches"]
    (worker,) = [d for d in of_kind("Deployment") if d["metadata"]["name"] == "shockwatch-worker"]
    assert patch["target"] == {"kind": "Deployment", "name": worker["metadata"]["name"]}
    scaled = json_patch(worker, yaml.safe_load(patch["patch"]))
    assert scaled["spec"]["replicas"] >= 2 and scaled["spec"]["strategy"]["type"] == "RollingUpdate"
    env = {e["name"]: e["value"] for e in scaled["spec"]["template"]["spec"]["containers"][0]["env"]
           if "value" in e}  # fmt: skip
    assert is_setting("SHOCKWATCH_SCALE_OUT") and env["SHOCKWATCH_SCALE_OUT"] == "true"
    assert Settings(scale_out=env["SHOCKWATCH_SCALE_OUT"]).scale_out is True  # type: ignore[arg-type]
    # everything else is the base's: same image, command, secrets, probes
    scaled["spec"]["template"]["spec"]["containers"][0]["env"].pop()
    for key in ("replicas", "strategy"):
        scaled["spec"].pop(key), worker["spec"].pop(key)
    assert scaled == worker


def test_env_vars_are_real_settings_and_secrets_are_files() -> None:
    config = of_kind("ConfigMap")
    assert len(config) == 1
    data = config[0]["data"]
    assert data["SHOCKWATCH_METRICS_HOST"] == "0.0.0.0"
    for key, value in data.items():
        assert is_setting(key), f"ConfigMap key {key} is not a shockwatch setting"
        assert not any(key.startswith(f"SHOCKWATCH_{s}") for s in SECRET_NAMES), key
        assert not looks_secret(value), key
    secret = of_kind("Secret")[0]
    secret_keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
    assert {"slack-webhook-url", "kafka-sasl-password"} <= secret_keys
    webhook_readers = set()
    for dep in of_kind("Deployment"):
        name = dep["metadata"]["name"]
        pod = dep["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        for c in pod["containers"]:
            assert [e["configMapRef"]["name"] for e in c["envFrom"]] == ["shockwatch-config"]
            for env in c.get("env", []):
                assert is_setting(env["name"]), (name, env["name"])
                assert "valueFrom" not in env or "secretKeyRef" not in env["valueFrom"], (
                    f"{name}: {env['name']} takes a secret as an env value; mount it as a file"
                )
                assert env["name"] not in {f"SHOCKWATCH_{s}" for s in SECRET_NAMES}
                if env["name"].endswith("_FILE"):
                    path = Path(env["value"])
                    mount = next(
                        m for m in c["volumeMounts"] if path.is_relative_to(m["mountPath"])
                    )
                    vol = volumes[mount["name"]]["secret"]
                    assert vol["secretName"] == secret["metadata"]["name"]
                    assert path.name in {i["path"] for i in vol["items"]}
                    assert {i["key"] for i in vol["items"]} <= secret_keys
                    if env["name"] == "SHOCKWATCH_SLACK_WEBHOOK_URL_FILE":
                        webhook_readers.add(name)
    # Least privilege: only the notifier can read the desk's webhook.
    assert webhook_readers == {"shockwatch-notifier"}


def test_services_expose_the_metrics_ports_with_scrape_annotations() -> None:
    deployments = {d["metadata"]["name"]: d for d in of_kind("Deployment")}
    services = of_kind("Service")
    assert {s["metadata"]["name"] for s in services} == set(deployments)
    for svc in services:
        name = svc["metadata"]["name"]
        pod = deployments[name]["spec"]["template"]
        assert svc["spec"]["selector"].items() <= pod["metadata"]["labels"].items(), name
        port = svc["spec"]["ports"][0]
        container_ports = {
            p["name"]: p["containerPort"] for p in pod["spec"]["containers"][0]["ports"]
        }
        assert container_ports[port["targetPort"]] == port["port"], name
        notes = svc["metadata"]["annotations"]
        assert notes["prometheus.io/scrape"] == "true"
        assert notes["prometheus.io/port"] == str(port["port"])
        # job = this label under the ServiceMonitor: the names the Prometheus rules use.
        assert svc["metadata"]["labels"]["app.kubernetes.io/name"].startswith("shockwatch-")
    monitor = of_kind("ServiceMonitor")[0]
    assert monitor["spec"]["jobLabel"] == "app.kubernetes.io/name"


def test_k8s_commands_exist_in_the_cli(cli: CliRunner) -> None:
    commands = []
    for dep in of_kind("Deployment"):
        for c in dep["spec"]["template"]["spec"]["containers"]:
            commands.append([*c["command"], *c.get("args", [])])
    assert sorted(" ".join(c[:3]) for c in commands) == [
        "shockwatch alerts notify",
        "shockwatch produce funding",
        "shockwatch produce liquidations",
        "shockwatch produce prices",
        "shockwatch worker",
    ]
    for command in commands:
        assert_command_exists(cli, command)


def test_k8s_metrics_ports_match_the_commands() -> None:
    config = of_kind("ConfigMap")[0]["data"]
    for dep in of_kind("Deployment"):
        c = dep["spec"]["template"]["spec"]["containers"][0]
        port = c["ports"][0]["containerPort"]
        command = c["command"]
        if "--metrics-port" in command:
            assert int(command[command.index("--metrics-port") + 1]) == port
        else:  # the worker: SHOCKWATCH_METRICS_PORT
            assert int(config["SHOCKWATCH_METRICS_PORT"]) == port
