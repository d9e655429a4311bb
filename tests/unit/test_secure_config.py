"""The secure broker's configuration without starting Kafka: the local CA and the broker's
certificate, the passwords' files, the rendered security block, the SCRAM users given to the
storage format, the ACL plan and how a refusal is worded. (tests/e2e/test_secure.py runs it.)"""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

from typer.testing import CliRunner

from common.kafka import KafkaNotAuthorized, is_authorization_error, not_authorized
from common.settings import Settings
from shockwatch.local import secure
from shockwatch.local.broker import LocalBroker, Node
from streams.topics import TopicNames
from tests.unit.test_broker_config import properties


def secure_broker(tmp_path: Path) -> LocalBroker:
    broker = LocalBroker(Settings(state_dir=tmp_path), secure=True)
    secure.ensure_material(broker.tls)
    return broker


def test_material_is_made_once_private_and_verifies(tmp_path: Path) -> None:
    broker = secure_broker(tmp_path)
    layout = broker.tls
    passwords = {n: layout.password(n) for n in secure.PRINCIPALS}
    assert len(set(passwords.values())) == len(secure.PRINCIPALS)
    assert all(len(p) >= 32 for p in passwords.values())
    for path in (layout.ca_key, layout.broker_pem, *map(layout.password_file, passwords)):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for d in (layout.root, layout.tls, layout.users):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    pem = layout.broker_pem.read_text()
    assert pem.startswith("-----BEGIN PRIVATE KEY-----") and pem.count("CERTIFICATE-----") == 4
    before = (layout.broker_pem.read_bytes(), layout.ca_cert.read_bytes())
    secure.ensure_material(layout)  # the second time: nothing new (passwords must match)
    assert (layout.broker_pem.read_bytes(), layout.ca_cert.read_bytes()) == before
    assert {n: layout.password(n) for n in secure.PRINCIPALS} == passwords
    # a client trusting only the local CA accepts the broker's certificate for 127.0.0.1
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(layout.broker_pem)
    client = ssl.create_default_context(cafile=str(layout.ca_cert))
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    cli = client.wrap_bio(c_in, c_out, server_hostname="127.0.0.1")
    srv = server.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(10):
        for side in (cli, srv):
            try:
                side.do_handshake()
            except ssl.SSLWantReadError:
                pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
    assert cli.getpeercert()["subject"] == ((("commonName", secure.BROKER_CN),),)
    # the env files name the password file, never the password
    env = layout.env_file("worker").read_text()
    assert "SHOCKWATCH_KAFKA_SASL_USERNAME=worker" in env
    assert passwords["worker"] not in env


def test_rendered_config_requires_sasl_ssl_and_acls(tmp_path: Path) -> None:
    broker = secure_broker(tmp_path)
    broker.node_dir(1).mkdir(parents=True, exist_ok=True)
    broker._render_config(Node(1, 9092, 9093), [Node(1, 9092, 9093)])
    props = properties(broker.config)
    assert broker.config == tmp_path / "kafka" / "secure" / "server.properties"
    assert broker.data == tmp_path / "kafka" / "secure" / "data"  # apart from plaintext data
    assert stat.S_IMODE(broker.config.stat().st_mode) == 0o600
    assert props["listeners"] == "SASL_SSL://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["advertised.listeners"] == "SASL_SSL://127.0.0.1:9092"
    assert props["listener.security.protocol.map"] == "CONTROLLER:SSL,SASL_SSL:SASL_SSL"
    assert props["inter.broker.listener.name"] == "SASL_SSL"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["sasl.mechanism.inter.broker.protocol"] == "SCRAM-SHA-512"
    assert props["listener.name.controller.ssl.client.auth"] == "required"
    assert props["ssl.keystore.type"] == props["ssl.truststore.type"] == "PEM"
    assert props["authorizer.class.name"] == (
        "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    )
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:broker;User:admin;User:CN=shockwatch-broker"
    args = secure.format_args(broker.tls)
    assert args.count("--add-scram") == len(secure.PRINCIPALS)
    for name in secure.PRINCIPALS:
        assert f"SCRAM-SHA-512=[name={name},password={broker.tls.password(name)}]" in args


def test_plaintext_broker_is_unchanged(tmp_path: Path) -> None:
    broker = LocalBroker(Settings(state_dir=tmp_path))
    assert not broker.secure
    broker.node_dir(1).mkdir(parents=True, exist_ok=True)
    broker._render_config(Node(1, 9092, 9093), [Node(1, 9092, 9093)])
    text = broker.config.read_text()
    assert "authorizer" not in text and "sasl" not in text and "ssl." not in text
    assert not (tmp_path / "kafka" / "secure").exists()


def test_acl_plan_is_least_privilege() -> None:
    names = TopicNames("p.")
    plan = secure.acl_plan("p.", "app")
    by = {(g.principal, g.operation, g.resource, g.name) for g in plan}

    def may(who: str, op: str, name: str, resource: str = "topic") -> bool:
        return (f"User:{who}", op, resource, name) in by

    inputs = list(names.inputs)
    assert all(may("producer", "WRITE", t) for t in inputs)
    assert not may("producer", "WRITE", names.alerts) and not may("producer", "READ", inputs[0])
    assert {g.name for g in plan if g.principal == "User:producer" and g.operation == "WRITE"} == {
        *inputs, *map(names.dlq, inputs)
    }  # fmt: skip
    assert all(may("worker", "READ", t) for t in inputs)
    assert all(may("worker", "WRITE", t) for t in (names.signals, names.alerts, names.state))
    assert {g.name for g in plan if g.resource == "group" and g.principal == "User:worker"} == {
        "app", "app.shards", "app.merge"
    }  # fmt: skip
    assert may("notifier", "READ", names.alerts)
    assert may("notifier", "READ", "app-notifier", "group")
    assert not may("notifier", "READ", names.prices) and not may("notifier", "WRITE", names.alerts)
    assert may("exporter", "READ", names.signals)
    assert not any(g.principal == "User:exporter" and g.operation == "WRITE" for g in plan)
    assert not any(g.principal in ("User:admin", "User:broker") for g in plan)  # super users
    assert all(g.name.startswith("p.") or g.resource == "group" for g in plan)


def test_kafka_acls_prints_kafka_acls_commands(tmp_path: Path) -> None:
    from shockwatch.cli.main import app

    env = {"SHOCKWATCH_STATE_DIR": str(tmp_path), "COLUMNS": "400"}
    result = CliRunner().invoke(app, ["kafka", "acls", "--prefix", "p.", "--commands"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == len(secure.acl_plan("p.", "shockwatch"))
    assert (
        "kafka-acls.sh --bootstrap-server $BOOTSTRAP --command-config admin.properties --add "
        "--allow-principal User:producer --operation Write --topic p.market.prices"
    ) in lines


def test_refusals_name_principal_and_topic() -> None:
    from kafka.errors import KafkaError

    settings = Settings(kafka_sasl_username="producer")
    wrapped = KafkaError("Unexpected error in InitProducerIdResponse: [Error 31] "
                         "ClusterAuthorizationFailedError")  # fmt: skip
    assert is_authorization_error(wrapped)
    assert not is_authorization_error(KafkaError("NotLeaderForPartitionError"))
    message = not_authorized(settings, "shock.alerts", "WRITE", wrapped)
    assert message.startswith(
        "Kafka refused principal User:producer WRITE on topic 'shock.alerts' "
        "(ClusterAuthorizationFailedError)"
    )


def test_a_refusal_is_reported_as_an_unreachable_cluster_is() -> None:
    """Every command catches ``KafkaUnavailable`` to print one line and exit 1; a refusal must
    be one (a second ``KafkaUnavailable`` class once made ``topics create`` print a traceback)."""
    from common.kafka import KafkaUnavailable

    assert issubclass(KafkaNotAuthorized, KafkaUnavailable)
