"""The authenticated broker (``shockwatch kafka up --secure``), with real clients.

One SASL_SSL (SCRAM-SHA-512) broker for the module, its TLS from the project's own local CA,
KRaft's StandardAuthorizer with ``allow.everyone.if.no.acl.found=false`` and the ACLs of
``shockwatch.local.secure.acl_plan``. It shows:

- strangers are refused: no credentials, a wrong password, an unknown user, no TLS, an untrusted
  certificate (each a real ``shockwatch`` command; what it printed is collected);
- least privilege: the producers' principal cannot write ``shock.alerts`` and says so clearly
  (principal and topic, no traceback), nor can the notifier read the inputs, ...;
- the 2025-11-04 scenario end to end with each component as its own principal: producer
  (the loader) -> worker -> alerts -> notifier -> Slack stand-in, and the exporter reading
  the signals; the same alerts as the detector over the files;
- no password in any log of the run (the broker's too), nor on a process command line.

The refused attempts, with what each client printed, and the run time are printed at the end.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from common.kafka import KafkaNotAuthorized
from common.ports import free_port
from common.settings import PROJECT_ROOT, Settings
from shockwatch.local import secure
from shockwatch.local.broker import LocalBroker
from shockwatch.runs.runner import NotifierProcess, run_scenario
from streams.detection.offline import run_offline
from streams.scenario import read_scenario
from streams.topics import TopicNames, create_topics
from tests.fixtures_kafka import read_all
from tests.slack_server import start_slack_stand_in

pytestmark = [pytest.mark.e2e, pytest.mark.topology]

EVERYTHING_SELLS = PROJECT_ROOT / "data" / "scenarios" / "2025-11-04-everything-sells"
SHOCKWATCH = Path(sys.executable).parent / "shockwatch"
PREFIX = "sec."  # the day end to end
ACL_PREFIX = "acl."  # the refusals (their writes must not touch the day's topics)
APP_ID = "shockwatch-sec"
ACL_TIMEOUT_S = 30
REFUSAL_TIMEOUT_S = 30
SLACK_TIMEOUT_S = 60


@dataclass
class SecureBroker:
    broker: LocalBroker
    bootstrap: str
    layout: secure.SecureLayout
    started: float
    refused: list[tuple[str, str]] = field(default_factory=list)  # (attempt, what it printed)
    summary: list[str] = field(default_factory=list)  # the end-to-end run's figures
    logs: list[Path] = field(default_factory=list)  # every log of the run, scanned at the end
    outputs: list[str] = field(default_factory=list)  # printed output, scanned too

    def settings(self, principal: str | None, **overrides: Any) -> Settings:
        base = Settings(kafka_bootstrap=self.bootstrap, **overrides)
        return base if principal is None else secure.settings_for(base, self.layout, principal)

    def passwords(self) -> list[str]:
        return [self.layout.password(name) for name in secure.PRINCIPALS]


@pytest.fixture(scope="module")
def secure_kafka(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[SecureBroker]:
    state = tmp_path_factory.mktemp("kafka-secure-state")
    broker = LocalBroker(Settings(), state_dir=state, secure=True)
    started = time.monotonic()
    info = broker.up()
    sb = SecureBroker(broker, info["bootstrap"], broker.tls, started)
    ready = float("nan")
    try:
        admin = sb.settings("admin", state_dir=state / "admin")
        for prefix in (PREFIX, ACL_PREFIX):
            create_topics(admin, prefix, keep_all=True)
            secure.apply_acls(admin, prefix, APP_ID)
        # The ACLs are in force once a component sees every topic of the contract.
        for who in secure.COMPONENTS:
            wait_for_topics(sb.settings(who), TopicNames(ACL_PREFIX).all())
        ready = time.monotonic() - started
        yield sb
    finally:
        broker.down()
        capture = request.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():
            print(f"\n[secure] SASL_SSL broker at {sb.bootstrap} ready (ACLs in force) in "
                  f"{ready:.1f} s; refused attempts ({len(sb.refused)}):")  # fmt: skip
            for what, printed in sb.refused:
                print(f"[secure]   {what}\n[secure]     -> {printed}")
            for line in sb.summary:
                print(f"[secure] {line}")
            print(f"[secure] module run time {time.monotonic() - started:.1f} s")


def wait_for_topics(settings: Settings, topics: list[str]) -> None:
    from common.kafka import admin

    deadline = time.monotonic() + ACL_TIMEOUT_S
    while True:
        client = admin(settings)
        try:
            seen = set(client.list_topics())
        finally:
            client.close()
        if set(topics) <= seen:
            return
        assert time.monotonic() < deadline, f"{settings.kafka_sasl_username} sees {seen}"
        time.sleep(0.2)


def cli_env(sb: SecureBroker, tmp_path: Path, **kafka: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOCKWATCH_")}
    env.update(
        {
            "SHOCKWATCH_STATE_DIR": str(tmp_path / "cli-state"),
            "SHOCKWATCH_KAFKA_BOOTSTRAP": sb.bootstrap,
            "SHOCKWATCH_TOPIC_PREFIX": PREFIX,
            "COLUMNS": "250",
        }
    )
    env.update({f"SHOCKWATCH_KAFKA_{k.upper()}": v for k, v in kafka.items()})
    return env


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SHOCKWATCH), *args], env=env, capture_output=True, text=True, timeout=120,
        check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def command(what: str) -> list[str]:
    """The shockwatch command an attempt's description names (after its colon)."""
    return what.rsplit(": shockwatch ", 1)[-1].split() if ": shockwatch " in what else [
        "topics", "list"]  # fmt: skip


def error_line(output: str) -> str:
    """What the command printed as its error (the line after "error:"), on one line."""
    text = " ".join(output.split())
    return text[text.find("error:") :] if "error:" in text else text[-300:]


# ---------------------------------------------------------------------------------------------


def test_strangers_are_refused(secure_kafka: SecureBroker, tmp_path: Path) -> None:
    sb = secure_kafka
    ca = str(sb.layout.ca_cert)
    pw_file = tmp_path / "wrong.password"
    pw_file.write_text("not-the-password\n")
    admin_pw = str(sb.layout.password_file("admin"))
    sasl = {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "ssl_cafile": ca}
    # what the error must say (either of two when the client may miss the broker's refusal)
    attempts: list[tuple[str, dict[str, str], str | tuple[str, str]]] = [
        ("no credentials, no TLS (PLAINTEXT)", {}, "speaks TLS"),
        ("no credentials (TLS only, no SASL)", {"security_protocol": "SSL", "ssl_cafile": ca},
         "requires SASL"),
        ("wrong password for admin", {**sasl, "sasl_username": "admin",
                                      "sasl_password_file": str(pw_file)},
         ("refused to authenticate User:admin", "SASL authentication of User:admin")),
        ("unknown user", {**sasl, "sasl_username": "mallory",
                          "sasl_password_file": str(pw_file)},
         ("refused to authenticate User:mallory", "SASL authentication of User:mallory")),
        ("right password, no TLS (SASL_PLAINTEXT)",
         {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
          "sasl_username": "admin", "sasl_password_file": admin_pw}, "speaks TLS"),
        ("right password, broker's certificate not trusted (system CAs only)",
         {**sasl, "ssl_cafile": "", "sasl_username": "admin", "sasl_password_file": admin_pw},
         "does not trust the broker's certificate"),
    ]  # fmt: skip
    # the control: the same command as admin with the right password works
    good = {**sasl, "sasl_username": "admin", "sasl_password_file": admin_pw}
    runs = [(f"{what}: shockwatch topics list", cli_env(sb, tmp_path, **kafka), says)
            for what, kafka, says in attempts]  # fmt: skip
    # a component may not create topics (an admin does): the worker's own start-up path
    worker = {**sasl, "sasl_username": "worker",
              "sasl_password_file": str(sb.layout.password_file("worker"))}  # fmt: skip
    runs.append(
        (
            "worker's principal creates topics: shockwatch topics create --prefix new.",
            cli_env(sb, tmp_path, **worker),
            "Kafka refused principal User:worker CREATE",
        )
    )
    runs.append(("control", cli_env(sb, tmp_path, **good), ""))
    for _, env, _ in runs:  # an empty value means "unset" (the system CAs)
        for key in [k for k, v in env.items() if k.startswith("SHOCKWATCH_") and v == ""]:
            del env[key]
    with ThreadPoolExecutor(max_workers=3) as pool:
        procs = list(pool.map(lambda r: run_cli(command(r[0]), r[1]), runs))

    control = procs.pop()
    sb.outputs.append(control.stdout + control.stderr)
    assert control.returncode == 0, control.stdout + control.stderr
    assert f"{PREFIX}shock.alerts" in control.stdout
    for (what, _, says), proc in zip(runs, procs, strict=False):
        output = proc.stdout + proc.stderr
        sb.outputs.append(output)
        sb.refused.append((what, error_line(output)))
        assert proc.returncode == 1, (what, output[-2000:])
        assert "Traceback" not in output, (what, output[-3000:])
        flat = " ".join(output.split())
        assert any(s in flat for s in ((says,) if isinstance(says, str) else says)), (what, flat)
        assert f"{PREFIX}shock.alerts" not in output, what  # it learnt nothing


def refused_write(settings: Settings, client_id: str, topic: str, value: bytes, key: str) -> str:
    """What the kafka-python Publisher raises when its principal may not write ``topic``."""
    from shockwatch.runs.publish import Publisher

    pub = Publisher(settings, client_id=client_id)
    try:
        pub.send(topic, value, key, 1_762_264_800_000)
        with pytest.raises(KafkaNotAuthorized) as refused:
            pub.flush()
    finally:
        pub._producer.close(timeout=2)
    return str(refused.value)


def test_each_component_only_does_its_job(
    secure_kafka: SecureBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The producers' principal cannot write shock.alerts (and says so, naming both), nor can
    the notifier read the inputs or the exporter write signals; a principal may write its own
    topics."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    from common.kafka import kafka_python_config
    from producers.config import ProducerSettings
    from producers.sink import KafkaSink
    from streams.records import Heartbeat

    sb = secure_kafka
    names = TopicNames(ACL_PREFIX)
    producer = sb.settings("producer", state_dir=tmp_path)
    ps = ProducerSettings(start_timeout_s=20, close_timeout_s=2)
    value = Heartbeat(ts_ms=1_762_264_800_000, source="test").encode()

    async def producer_sink() -> KafkaSink:
        sink = KafkaSink(producer, ps, client_id="producer-test", source="test")
        await sink.start()
        try:
            # its own topic: taken
            await sink.send_raw(names.prices, value, b"heartbeat", 1_762_264_800_000, 0)
            await asyncio.wait_for(sink.flush(), 30)
            # shock.alerts: refused, reported, kept waiting
            await sink.send_raw(names.alerts, value, b"x", 1_762_264_800_000)
            deadline = time.monotonic() + REFUSAL_TIMEOUT_S
            while names.alerts not in sink.refusals and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        finally:
            await sink.close()
        return sink

    with caplog.at_level(logging.ERROR, logger="producers.sink.retry"):
        sink = asyncio.run(producer_sink())
    assert sink.sent == 1
    assert names.alerts in sink.refusals, "the refusal was not reported"
    sink_lines = [r.getMessage() for r in caplog.records if r.name.startswith("producers.sink")]
    reported = [line for line in sink_lines if names.alerts in line]
    assert reported, caplog.text
    for line in reported:
        assert "User:producer" in line and "TopicAuthorizationFailed" in line, line
    assert not any(r.exc_info for r in caplog.records), "a traceback was logged"
    assert "Traceback" not in caplog.text and "never retrieved" not in caplog.text, caplog.text
    sb.refused.append(("producers' principal (aiokafka KafkaSink) writes shock.alerts",
                       reported[0]))  # fmt: skip

    # The kafka-python publisher (`shockwatch load`) says the same, as KafkaNotAuthorized.
    message = refused_write(producer, "producer-test", names.alerts, value, "x")
    assert "User:producer" in message and repr(names.alerts) in message, message
    sb.refused.append(("producers' principal (kafka-python Publisher) writes shock.alerts",
                       message))  # fmt: skip

    # Nothing reached shock.alerts; the heartbeat reached market.prices.
    admin = sb.settings("admin", state_dir=tmp_path)
    assert read_all(admin, names.alerts) == []
    assert len(read_all(admin, names.prices)) >= 1

    # The notifier may not read the inputs; the exporter may not write signals.
    consumer = KafkaConsumer(
        **kafka_python_config(sb.settings("notifier")), enable_auto_commit=False,
        consumer_timeout_ms=3000, request_timeout_ms=10_000,
    )  # fmt: skip
    try:
        consumer.assign([TopicPartition(names.prices, 0)])
        consumer.seek_to_beginning()
        with pytest.raises(KafkaError) as read_refused:
            list(consumer)
    finally:
        consumer.close()
    assert "TopicAuthorizationFailed" in type(read_refused.value).__name__, read_refused.value
    sb.refused.append(("notifier's principal reads market.prices",
                       f"{type(read_refused.value).__name__}: {read_refused.value}"))  # fmt: skip

    message = refused_write(
        sb.settings("exporter"), "exporter-test", names.signals, value, "global"
    )
    assert "User:exporter" in message
    sb.refused.append(("exporter's principal writes shock.signals", message))
    sb.outputs.append(caplog.text)


def plain(value: Any) -> str:
    return str(getattr(value, "value", value))


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[s.name] = out.get(s.name, 0.0) + s.value
    return out


def test_the_day_end_to_end_each_component_its_own_principal(
    secure_kafka: SecureBroker, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    sb = secure_kafka
    names = TopicNames(PREFIX)
    admin = sb.settings("admin", state_dir=tmp_path / "state", reports_dir=tmp_path / "r")
    producer = sb.settings("producer", state_dir=tmp_path / "state")
    scenario = read_scenario(EVERYTHING_SELLS)
    reference, late = run_offline(scenario, admin.detection)
    expected = [a for o in reference for a in o.alerts]

    slack, webhook = start_slack_stand_in()
    notifier = NotifierProcess(
        admin, PREFIX, webhook, APP_ID, tmp_path / "notifier.log",
        extra_env={**secure.client_env(sb.layout, "notifier"),
                   "SHOCKWATCH_STATE_DIR": str(tmp_path / "notifier-state"),
                   "SHOCKWATCH_SLACK_MAX_PER_MINUTE": "6000"},
    )  # fmt: skip
    exporter_port = free_port()
    exporter_log = tmp_path / "exporter.log"
    env = {**cli_env(sb, tmp_path), **secure.client_env(sb.layout, "exporter")}
    with open(exporter_log, "wb") as out:
        exporter = subprocess.Popen(
            [str(SHOCKWATCH), "alerts", "exporter", "--from-beginning", "--port",
             str(exporter_port)], env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    run = "secure"
    sb.logs += [tmp_path / "notifier.log", exporter_log,
                admin.state_dir / "runs" / f"{run}.worker.log"]  # fmt: skip
    started = time.monotonic()
    try:
        result = run_scenario(
            admin, scenario, prefix=PREFIX, app_id=APP_ID, run_id=run,
            loader_settings=producer, worker_env=secure.client_env(sb.layout, "worker"),
            keep_topics=True,  # read back below; the module's broker goes with them
        )  # fmt: skip
        deadline = time.monotonic() + SLACK_TIMEOUT_S
        while len(slack.messages) < len(result.alerts) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)  # a duplicate would arrive now
        posted = [m.payload["blocks"][0]["block_id"].removeprefix("shockwatch:")
                  for m in slack.messages]  # fmt: skip
        exported = scrape(exporter_port)
        notifier_alive = notifier.proc.poll() is None
    finally:
        notifier.stop()
        slack.stop()
        exporter.terminate()
        exporter.wait(30)
    took = time.monotonic() - started
    loaded = {feed: r.valid for feed, r in result.loaded.items()}
    in_alerts = len(read_all(admin, names.alerts))
    sb.summary.append(f"2025-11-04 authenticated end to end in {took:.1f} s: events loaded as "
          f"User:producer {loaded} ({sum(loaded.values())}), signals {result.signals}, alerts "
          f"{len(result.alerts)} (offline {len(expected)}), Slack posts {len(posted)}, "
          f"exporter signals {exported.get('shockwatch_signals_total', 0):.0f}; alerts: "
          + ", ".join(f"{plain(a.state)} {plain(a.severity)} {plain(a.regime)} at "
                      f"{time.strftime('%H:%M', time.gmtime(a.ts_ms / 1000))}Z"
                      for a in result.alerts))  # fmt: skip
    sb.outputs.append(capfd.readouterr().out)
    assert notifier_alive, (tmp_path / "notifier.log").read_text()[-2000:]
    assert late == 0 and sum(loaded.values()) > 0
    assert [(a.ts_ms, a.alert_id, a.state, a.severity, a.regime, a.score) for a in result.alerts
            ] == [(a.ts_ms, a.alert_id, a.state, a.severity, a.regime, a.score)
                  for a in expected]  # fmt: skip
    assert any(a.severity == "critical" and a.state == "firing" for a in result.alerts)
    assert in_alerts >= len(result.alerts)
    assert Counter(posted) == Counter(a.delivery_key for a in result.alerts)
    assert exported.get("shockwatch_signals_total", 0) >= result.signals > 0


def test_no_secret_in_any_log_or_command_line(secure_kafka: SecureBroker) -> None:
    sb = secure_kafka
    passwords = sb.passwords()
    assert len(set(passwords)) == len(secure.PRINCIPALS) and min(map(len, passwords)) >= 24
    # private files are the owner's only
    private = [sb.layout.ca_key, sb.layout.broker_pem, sb.broker.config,
               *(sb.layout.password_file(n) for n in secure.PRINCIPALS)]  # fmt: skip
    for path in private:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    # the broker's logs (server, controller, state change, authorizer, stdout) and the run's
    logs = [*sorted(sb.broker.logs.glob("*")), *sb.logs]
    assert any(p.name == "server.log" for p in logs) and len(sb.logs) >= 3
    scanned = 0
    for path in logs:
        if path.is_file():
            text = path.read_text(errors="replace")
            scanned += len(text)
            for pw in passwords:
                assert pw not in text, f"a password is in {path}"
    for text in sb.outputs:
        scanned += len(text)
        for pw in passwords:
            assert pw not in text, "a password was printed"
    assert scanned > 10_000
    # nor on the broker's command line (ps shows it to every user)
    info = sb.broker.info()
    assert info is not None
    for node in info["nodes"]:
        cmdline = Path(f"/proc/{node['pid']}/cmdline").read_bytes().decode(errors="replace")
        for pw in passwords:
            assert pw not in cmdline
