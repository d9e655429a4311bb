"""Security properties: secrets stay out of output, untrusted input reaches no shell and no
path outside its folder, and Kafka's SASL/SSL settings reach every client.

Known bugs in files this module does not own are ``xfail(strict=True)`` with the failing input
and the fix in the reason (see the end of the module).
"""

from __future__ import annotations

import ast
import asyncio
import datetime as dt
import io
import logging
import os
import re
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from common import log as swlog
from common.kafka import KafkaUnavailable, aiokafka_config, faust_config, kafka_python_config
from common.settings import PROJECT_ROOT, Settings

SHOCKWATCH = Path(sys.executable).parent / "shockwatch"
WEBHOOK_SECRET = "W3bh00kS3cr3tPath"
TOKEN_SECRET = "B0tT0k3nS3cr3t"
SASL_SECRET = "S4slPa55w0rdS3cr3t"


# ---------------------------------------------------------------------------------------------
# Fixtures


def closed_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {n: logging.getLogger(n).level for n in swlog.QUIET}
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)
    for n, lvl in levels.items():
        logging.getLogger(n).setLevel(lvl)


@pytest.fixture
def fresh_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(swlog, "_SECRETS", set())


def secret_env(tmp_path: Path, *, as_files: bool) -> tuple[dict[str, str], list[str]]:
    """A process environment with every secret set (directly or as *_FILE), aimed at closed
    local ports; and the strings that must never be printed."""
    port = closed_port()
    webhook = f"http://127.0.0.1:{port}/services/T0SECRET/B0SECRET/{WEBHOOK_SECRET}"
    token = f"xoxb-000000-111111-{TOKEN_SECRET}"
    password = f"{SASL_SECRET}!x"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOCKWATCH_")}
    env.update(
        {
            "SHOCKWATCH_STATE_DIR": str(tmp_path / "state"),
            "SHOCKWATCH_REPORTS_DIR": str(tmp_path / "reports"),
            "SHOCKWATCH_KAFKA_BOOTSTRAP": f"127.0.0.1:{closed_port()}",
            "SHOCKWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "SHOCKWATCH_KAFKA_SASL_MECHANISM": "PLAIN",
            "SHOCKWATCH_KAFKA_SASL_USERNAME": "shockwatch",
            "SHOCKWATCH_PRODUCERS__START_TIMEOUT_S": "1",
            "COLUMNS": "200",
        }
    )
    secrets = {
        "SLACK_WEBHOOK_URL": webhook,
        "SLACK_BOT_TOKEN": token,
        "KAFKA_SASL_PASSWORD": password,
    }
    for name, value in secrets.items():
        if as_files:
            path = tmp_path / name.lower()
            path.write_text(value + "\n")
            env[f"SHOCKWATCH_{name}_FILE"] = str(path)
        else:
            env[f"SHOCKWATCH_{name}"] = value
    return env, [webhook, token, password, WEBHOOK_SECRET, TOKEN_SECRET, SASL_SECRET]


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SHOCKWATCH), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


HELPS = [
    ["--help"],
    ["worker", "--help"],
    ["alerts", "--help"],
    ["alerts", "notify", "--help"],
    ["alerts", "test-slack", "--help"],
    ["alerts", "exporter", "--help"],
    ["produce", "--help"],
    ["produce", "liquidations", "--help"],
    ["produce", "funding", "--help"],
    ["kafka", "status", "--help"],
    ["topics", "create", "--help"],
    ["replay", "--help"],
]
# (args, exit code, what the error must say): each fails against the closed ports.
FAILING = [
    (["--log-level", "DEBUG", "alerts", "test-slack"], 1, "Slack delivery failed"),
    # the cluster SHOCKWATCH_KAFKA_BOOTSTRAP names, not the local broker
    (["--log-level", "DEBUG", "kafka", "status"], 1, "cannot reach Kafka"),
    (["--log-level", "DEBUG", "alerts", "notify", "--metrics-port", "-1"], 1, "Kafka"),
    (
        ["--log-level", "DEBUG", "produce", "funding", "--no-create-topics", "--once"],
        1,
        "cannot reach Kafka",
    ),
]


# ---------------------------------------------------------------------------------------------
# 1. Secrets never in output


@pytest.mark.parametrize("as_files", [False, True], ids=["env", "files"])
def test_secrets_never_appear_in_help_or_error_output(tmp_path: Path, as_files: bool) -> None:
    env, secrets = secret_env(tmp_path, as_files=as_files)
    runs = [(a, 0, "Usage") for a in HELPS] + FAILING
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda r: run_cli(r[0], env), runs))
    for (args, code, says), proc in zip(runs, results, strict=True):
        output = proc.stdout + proc.stderr
        assert proc.returncode == code, (args, output[-2000:])
        assert says in output, (args, output[-2000:])
        for secret in secrets:
            assert secret not in output, f"`shockwatch {' '.join(args)}` printed a secret"


def test_bot_token_path_failure_does_not_print_the_token(tmp_path: Path) -> None:
    env, secrets = secret_env(tmp_path, as_files=False)
    del env["SHOCKWATCH_SLACK_WEBHOOK_URL"]
    env["SHOCKWATCH_SLACK_CHANNEL"] = "#desk"
    env["SHOCKWATCH_SLACK_API_BASE"] = f"http://127.0.0.1:{closed_port()}/api"
    proc = run_cli(["--log-level", "DEBUG", "alerts", "test-slack"], env)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    for secret in secrets:
        assert secret not in output


def test_settings_never_print_secret_values() -> None:
    s = Settings(
        slack_webhook_url=f"https://hooks.slack.com/services/T1/B1/{WEBHOOK_SECRET}",
        slack_bot_token=f"xoxb-1-{TOKEN_SECRET}",
        kafka_sasl_password=SASL_SECRET,
    )
    for text in (repr(s), str(s), s.model_dump_json(), str(s.model_dump())):
        for secret in (WEBHOOK_SECRET, TOKEN_SECRET, SASL_SECRET):
            assert secret not in text


def test_load_settings_reads_secret_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from common.settings import load_settings

    for key in list(os.environ):
        if key.startswith("SHOCKWATCH_"):
            monkeypatch.delenv(key)
    (tmp_path / "pw").write_text(SASL_SECRET + "\n")
    monkeypatch.setenv("SHOCKWATCH_KAFKA_SASL_PASSWORD_FILE", str(tmp_path / "pw"))
    s = load_settings()
    assert s.kafka_sasl_password is not None
    assert s.kafka_sasl_password.get_secret_value() == SASL_SECRET  # stripped of the newline


def _capture(logger_name: str) -> tuple[logging.Logger, io.StringIO]:
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.addFilter(swlog.RedactingFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger(logger_name)
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, buf


@pytest.mark.usefixtures("fresh_secrets")
def test_redact_masks_registered_secrets_and_slack_shapes() -> None:
    swlog.register_secret(SASL_SECRET)
    swlog.register_secret("abc")  # too short to mask safely: ignored
    swlog.register_secret(None)
    assert swlog.redact(f"login with {SASL_SECRET} failed") == "login with *** failed"
    assert swlog.redact("abc stays") == "abc stays"
    # Unregistered, but shaped like a webhook or a token: masked anyway (second guard).
    hook = "https://hooks.slack.com/services/T0/B0/abcdefXYZ"
    assert swlog.redact(f"posting to {hook} now") == "posting to *** now"
    assert swlog.redact("token xoxb-123-456-abcDEF here") == "token *** here"
    assert swlog.redact("xoxp-9-9-zz") == "***"


@pytest.mark.usefixtures("fresh_secrets")
def test_redacting_filter_masks_messages_args_and_exceptions() -> None:
    swlog.register_secret(SASL_SECRET)
    logger, buf = _capture("shockwatch.test.redact")
    logger.info("password is %s", SASL_SECRET)
    logger.warning("dict %r", {"sasl_plain_password": SASL_SECRET})
    logger.error("hook https://hooks.slack.com/services/T0/B0/%s", WEBHOOK_SECRET)
    try:
        raise ValueError(f"auth failed with {SASL_SECRET}")
    except ValueError:
        logger.exception("connect failed")
    text = buf.getvalue()
    assert SASL_SECRET not in text and WEBHOOK_SECRET not in text, text
    assert text.count("***") >= 4
    assert "connect failed" in text and "ValueError" in text  # the rest is kept


@pytest.mark.usefixtures("restore_logging")
def test_setup_logging_installs_the_redacting_filter() -> None:
    swlog.setup_logging("DEBUG")
    handlers = logging.getLogger().handlers
    assert handlers
    for handler in handlers:
        assert any(isinstance(f, swlog.RedactingFilter) for f in handler.filters)
    # Client libraries stay quiet even at DEBUG (their debug logs echo configs).
    for name in ("kafka", "aiokafka", "faust"):
        assert logging.getLogger(name).level >= logging.WARNING


# ---------------------------------------------------------------------------------------------
# 2. No shell, no eval, no path traversal

SOURCE_DIRS = ("producers", "streams", "alerts", "shockwatch")
FORBIDDEN_CALLS = {
    "eval",
    "exec",
    "os.system",
    "os.popen",
    "os.spawnl",
    "os.spawnlp",
    "os.execl",
    "os.execlp",
    "subprocess.getoutput",
    "subprocess.getstatusoutput",
    "asyncio.create_subprocess_shell",
    "pickle.loads",
    "pickle.load",
    "yaml.load",
}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def source_files() -> list[Path]:
    files = [p for d in SOURCE_DIRS for p in (PROJECT_ROOT / d).rglob("*.py")]
    assert len(files) > 20
    return files


def test_no_shell_eval_or_exec_in_the_source() -> None:
    problems = []
    for path in source_files():
        text = path.read_text()
        rel = path.relative_to(PROJECT_ROOT)
        # The plain grep (as a reviewer would run it), then the same calls found by the AST.
        for n, line in enumerate(text.splitlines(), 1):
            code = line.split("#", 1)[0]
            if code.lstrip().startswith(("'", '"')):
                continue
            if m := re.search(r"shell\s*=\s*True|\bos\.system\b|(?<![\w.])(eval|exec)\(", code):
                problems.append(f"{rel}:{n}: {m.group(0)}")
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.Call):
                continue
            name = _dotted(node.func)
            if name in FORBIDDEN_CALLS or name in {"builtins.eval", "builtins.exec"}:
                problems.append(f"{rel}:{node.lineno}: {name}()")
            for kw in node.keywords:
                if kw.arg == "shell" and not (
                    isinstance(kw.value, ast.Constant) and kw.value.value is False
                ):
                    problems.append(f"{rel}:{node.lineno}: shell=...")
    assert problems == []


def test_subprocesses_take_argument_lists_not_strings() -> None:
    """Where the code does start processes (the broker's JVM, Maven, the demo), the command is
    a list: no shell parses it, so no value can inject a command."""
    seen = 0
    for path in source_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and _dotted(node.func) in {
                "subprocess.run",
                "subprocess.Popen",
                "subprocess.call",
                "subprocess.check_call",
                "subprocess.check_output",
                "asyncio.create_subprocess_exec",
            }:
                seen += 1
                first = node.args[0] if node.args else None
                assert not isinstance(first, ast.Constant | ast.JoinedStr | ast.BinOp), (
                    f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}: command built as a string"
                )
    assert seen > 0


T1 = int(dt.datetime(2025, 11, 4, 14, tzinfo=dt.UTC).timestamp() * 1000)
T2 = T1 + 3600_000


def isolated(tmp_path: Path) -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        reports_dir=tmp_path / "reports",
        kafka_bootstrap="",
    )


@pytest.mark.parametrize(
    "run_id", ["../x", "../../etc/cron.d/x", "a/b", "/tmp/x", "..\\x", "x y", "a\x00b", "~", "é"]
)
def test_replay_run_id_cannot_leave_the_reports_folder(tmp_path: Path, run_id: str) -> None:
    from shockwatch.runs.replay import ReplayError, replay

    with pytest.raises(ReplayError, match="run-id"):
        replay(isolated(tmp_path), T1, T2, run_id=run_id)
    assert list(tmp_path.iterdir()) == []  # rejected before anything was created


def test_replay_cli_rejects_a_traversing_run_id(tmp_path: Path, restore_logging: None) -> None:
    from shockwatch.cli.main import app

    env = {"SHOCKWATCH_STATE_DIR": str(tmp_path / "s"), "SHOCKWATCH_REPORTS_DIR": str(tmp_path)}
    result = CliRunner().invoke(
        app,
        ["replay", "--from", "2025-11-04T14:00Z", "--to", "2025-11-04T15:00Z", "--run-id", "../x"],
        env=env,
    )
    assert result.exit_code == 1
    assert "run-id" in result.output
    assert not (tmp_path.parent / "x").exists()


# ---------------------------------------------------------------------------------------------
# 3. SASL/SSL reach every client


def make_ca_and_client(tmp_path: Path) -> dict[str, Path]:
    """A throwaway CA and a client certificate signed by it (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("shockwatch test CA"))
        .issuer_name(name("shockwatch test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("shockwatch client"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = {"ca": tmp_path / "ca.pem", "cert": tmp_path / "client.pem", "key": tmp_path / "k.pem"}
    paths["ca"].write_bytes(ca.public_bytes(pem))
    paths["cert"].write_bytes(cert.public_bytes(pem))
    paths["key"].write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


@pytest.fixture
def tls(tmp_path: Path) -> dict[str, Path]:
    return make_ca_and_client(tmp_path)


def sasl_ssl(tls: dict[str, Path], tmp_path: Path, **extra: Any) -> Settings:
    return Settings(
        kafka_bootstrap="broker-1.example:9093,broker-2.example:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="svc-shockwatch",
        kafka_sasl_password=SASL_SECRET,
        kafka_ssl_cafile=tls["ca"],
        state_dir=tmp_path / "state",
        **extra,
    )


def check_context(ctx: Any) -> None:
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2
    subjects = [dict(x[0] for x in c["subject"]) for c in ctx.get_ca_certs()]
    assert {"commonName": "shockwatch test CA"} in subjects


def check_client_kwargs(cfg: dict[str, Any]) -> None:
    assert cfg["bootstrap_servers"] == "broker-1.example:9093,broker-2.example:9093"
    assert cfg["security_protocol"] == "SASL_SSL"
    assert cfg["sasl_mechanism"] == "SCRAM-SHA-512"
    assert cfg["sasl_plain_username"] == "svc-shockwatch"
    assert cfg["sasl_plain_password"] == SASL_SECRET
    check_context(cfg["ssl_context"])


def test_sasl_ssl_maps_onto_kafka_python_and_aiokafka(tls: dict[str, Path], tmp_path: Path) -> None:
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

    s = sasl_ssl(tls, tmp_path)
    for cfg in (kafka_python_config(s), aiokafka_config(s)):
        check_client_kwargs(cfg)
    # Every key is one the kafka-python clients know (they refuse unknown configs).
    for client in (KafkaProducer, KafkaConsumer, KafkaAdminClient):
        assert set(kafka_python_config(s)) <= set(client.DEFAULT_CONFIG), client.__name__


async def test_aiokafka_clients_accept_the_config(tls: dict[str, Path], tmp_path: Path) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    s = sasl_ssl(tls, tmp_path)
    producer = AIOKafkaProducer(**aiokafka_config(s))
    consumer = AIOKafkaConsumer(**aiokafka_config(s))
    try:
        for client in (producer.client, consumer._client):
            assert client._security_protocol == "SASL_SSL"
            assert client._sasl_mechanism == "SCRAM-SHA-512"
            assert client._sasl_plain_username == "svc-shockwatch"
            assert client._sasl_plain_password == SASL_SECRET
            check_context(client._ssl_context)
    finally:
        await consumer.stop()
        await producer.stop()


def test_mutual_tls_loads_the_client_certificate(tls: dict[str, Path], tmp_path: Path) -> None:
    s = sasl_ssl(tls, tmp_path, kafka_ssl_certfile=tls["cert"], kafka_ssl_keyfile=tls["key"])
    check_client_kwargs(kafka_python_config(s))
    bad = sasl_ssl(tls, tmp_path, kafka_ssl_certfile=tls["ca"], kafka_ssl_keyfile=tls["key"])
    with pytest.raises(ssl.SSLError):  # a wrong key pair is an error at start, not later
        kafka_python_config(bad)


def test_faust_gets_the_same_credentials(tls: dict[str, Path], tmp_path: Path) -> None:
    import faust

    s = sasl_ssl(tls, tmp_path)
    cfg = faust_config(s)
    assert cfg["broker"] == ["kafka://broker-1.example:9093", "kafka://broker-2.example:9093"]
    creds = cfg["broker_credentials"]
    assert isinstance(creds, faust.SASLCredentials)
    assert (creds.username, creds.password) == ("svc-shockwatch", SASL_SECRET)
    assert str(creds.mechanism.value) == "SCRAM-SHA-512"
    check_context(creds.ssl_context)
    ssl_only = Settings(
        kafka_bootstrap="b:9093", kafka_security_protocol="SSL", kafka_ssl_cafile=tls["ca"]
    )
    creds = faust_config(ssl_only)["broker_credentials"]
    assert isinstance(creds, faust.SSLCredentials)
    check_context(creds.context)
    assert "sasl_mechanism" not in kafka_python_config(ssl_only)
    check_context(kafka_python_config(ssl_only)["ssl_context"])


def test_plaintext_and_sasl_plaintext_have_no_tls(tmp_path: Path) -> None:
    plain = Settings(kafka_bootstrap="b:9092", kafka_sasl_password="x-unused")
    cfg = kafka_python_config(plain)
    assert cfg == {"bootstrap_servers": "b:9092", "security_protocol": "PLAINTEXT"}
    assert "broker_credentials" not in faust_config(plain)
    sasl = Settings(
        kafka_bootstrap="b:9092",
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_username="u",
        kafka_sasl_password="p-secret",
    )
    cfg = kafka_python_config(sasl)
    assert "ssl_context" not in cfg
    assert (cfg["sasl_mechanism"], cfg["sasl_plain_password"]) == ("PLAIN", "p-secret")


def test_the_worker_app_is_built_with_the_credentials(tls: dict[str, Path], tmp_path: Path) -> None:
    import faust

    from streams.app import create_app

    app = create_app(sasl_ssl(tls, tmp_path), app_id="sec-test")
    creds = app.conf.broker_credentials
    assert isinstance(creds, faust.SASLCredentials)
    assert creds.username == "svc-shockwatch" and creds.password == SASL_SECRET
    check_context(creds.ssl_context)
    assert [str(u) for u in app.conf.broker] == [
        "kafka://broker-1.example:9093",
        "kafka://broker-2.example:9093",
    ]


class Recorder:
    """Stands in for a Kafka client class: records its kwargs, fails to connect."""

    calls: list[dict[str, Any]]

    def __init__(self, *topics: str, **kwargs: Any) -> None:
        type(self).calls.append({"topics": topics, **kwargs})

    def __init_subclass__(cls) -> None:
        cls.calls = []

    async def start(self) -> None:
        from aiokafka.errors import KafkaConnectionError

        raise KafkaConnectionError("no broker in a unit test")

    async def stop(self) -> None:
        return None


def recorder() -> type[Recorder]:
    return type("Rec", (Recorder,), {})


async def test_producers_sink_uses_the_helpers(
    tls: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aiokafka

    from producers.config import ProducerSettings
    from producers.metrics import create_metrics
    from producers.sink import KafkaSink

    fake = recorder()
    monkeypatch.setattr(aiokafka, "AIOKafkaProducer", fake)
    sink = KafkaSink(
        sasl_ssl(tls, tmp_path),
        ProducerSettings(start_timeout_s=1.0),
        client_id="t",
        source="t",
        metrics=create_metrics(CollectorRegistry()),
    )
    with pytest.raises(KafkaUnavailable):
        await sink.start()
    (kwargs,) = fake.calls
    check_client_kwargs(kwargs)
    assert kwargs["enable_idempotence"] is True and kwargs["acks"] == "all"


async def test_notifier_uses_the_helpers(
    tls: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aiokafka
    from aiokafka.errors import KafkaConnectionError

    from alerts.metrics import Metrics
    from alerts.notifier import Notifier
    from streams.records import MalformedRecord

    consumer, producer = recorder(), recorder()
    monkeypatch.setattr(aiokafka, "AIOKafkaConsumer", consumer)
    monkeypatch.setattr(aiokafka, "AIOKafkaProducer", producer)
    settings = sasl_ssl(tls, tmp_path, slack_webhook_url="http://127.0.0.1:9/hook")
    notifier = Notifier(settings, Metrics())
    with pytest.raises(KafkaConnectionError):
        await notifier.run(asyncio.Event())
    (kwargs,) = consumer.calls
    check_client_kwargs(kwargs)
    assert kwargs["enable_auto_commit"] is False

    class Msg:
        topic, partition, offset, key, value = "shock.alerts", 0, 7, None, b"{"

    with pytest.raises(KafkaConnectionError):
        await notifier._dead_letter(Msg(), MalformedRecord("$", "bad"))
    (kwargs,) = producer.calls
    check_client_kwargs(kwargs)


async def test_exporter_uses_the_helpers(
    tls: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aiokafka
    from aiokafka.errors import KafkaConnectionError

    from alerts.exporter import run_signal_exporter
    from alerts.metrics import Metrics

    consumer = recorder()
    monkeypatch.setattr(aiokafka, "AIOKafkaConsumer", consumer)
    with pytest.raises(KafkaConnectionError):
        await run_signal_exporter(sasl_ssl(tls, tmp_path), Metrics(), asyncio.Event())
    check_client_kwargs(consumer.calls[0])


def test_publisher_uses_the_helpers(
    tls: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kafka

    from shockwatch.runs.publish import Publisher

    calls: list[dict[str, Any]] = []

    class FakeProducer:
        def __init__(self, **kwargs: Any) -> None:
            calls.append(kwargs)

    monkeypatch.setattr(kafka, "KafkaProducer", FakeProducer)
    Publisher(sasl_ssl(tls, tmp_path))
    check_client_kwargs(calls[0])


# ---------------------------------------------------------------------------------------------
# Known bugs (files owned by others): strict xfails with the failing input and the fix.


def test_fixed_bug_secret_in_a_chained_exception_is_logged() -> None:
    swlog.register_secret(SASL_SECRET)
    logger, buf = _capture("shockwatch.test.chained")
    try:
        try:
            raise ValueError(f"auth failed with {SASL_SECRET}")
        except ValueError as exc:
            raise RuntimeError("connect failed") from exc
    except RuntimeError:
        logger.exception("broker login")
    assert SASL_SECRET not in buf.getvalue()


@pytest.mark.usefixtures("restore_logging")
def test_fixed_bug_worker_logging_loses_the_redacting_filter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from faust.worker import Worker

    from streams.app import create_app, run_worker

    swlog.setup_logging("WARNING")
    # Run run_worker() up to its logging set-up only (no broker needed).
    monkeypatch.setattr(Worker, "execute_from_commandline", lambda self: self._setup_logging())
    app = create_app(Settings(kafka_bootstrap="b:9092", state_dir=tmp_path), app_id="sec-log")
    run_worker(app)
    handlers = logging.getLogger().handlers
    assert handlers
    for handler in handlers:
        assert any(isinstance(f, swlog.RedactingFilter) for f in handler.filters), handler
    # and each line is written once: no terminal spinner echoing it (with escape codes)
    assert not [h for h in handlers if type(h).__name__ == "SpinnerHandler"], handlers


def test_fixed_bug_replay_run_id_dot_dot(tmp_path: Path) -> None:
    from shockwatch.runs.replay import ReplayError, replay

    # Today: reports/../inputs (= tmp_path/inputs, outside the reports folder) is created, then
    # KafkaUnavailable. Fixed: ReplayError, and nothing created.
    with pytest.raises(ReplayError):
        replay(isolated(tmp_path), T1, T2, run_id="..")
    assert list(tmp_path.iterdir()) == []
