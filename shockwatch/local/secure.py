"""The authenticated local broker: ``shockwatch kafka up --secure``.

What it adds to the plaintext broker of ``shockwatch.local.broker`` (which calls the hooks here):

- **TLS from a local CA.** ``ensure_material`` generates, into ``<state>/kafka/secure/tls``, a
  CA (``ca.crt``; its key ``ca.key``, mode 0600) and the broker's certificate for
  ``127.0.0.1``/``localhost`` signed by it (``broker.pem``: key + chain, mode 0600; Kafka reads
  it with ``ssl.keystore.type=PEM``). Nothing private is committed: it is made on first use.
- **SASL_SSL with SCRAM-SHA-512** on the client listener, one SCRAM user per principal
  (``PRINCIPALS``), created when the storage is formatted (``kafka-storage format
  --add-scram``, Kafka >= 3.5; the project fetches 3.9.1). Their passwords are generated
  into ``<state>/kafka/secure/users/<name>.password`` (mode 0600) and only ever read from
  there; ``clients/<name>.env`` holds the ``SHOCKWATCH_KAFKA_*`` settings of that principal
  (the password by file), to ``source`` before running a component.
- **The controller listener** stays on loopback and is TLS with client certificates
  required: only a holder of a certificate from the local CA (the broker itself, principal
  ``User:CN=shockwatch-broker``) talks to the controller.
- **KRaft's StandardAuthorizer** with ``allow.everyone.if.no.acl.found=false``; the
  inter-broker principal ``broker`` and the operators' ``admin`` are super users; every other
  principal gets only the ACLs of ``acl_plan`` (applied by ``apply_acls`` with ``admin``).

docs/kafka.md ("The authenticated broker") lists the ACLs and how they map onto a managed
cluster.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import secrets
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.log import register_secret
from common.settings import Settings
from streams.topics import GroupNames, TopicNames

log = logging.getLogger(__name__)

MECHANISM = "SCRAM-SHA-512"
PROTOCOL = "SASL_SSL"
LISTENER = "SASL_SSL"
BROKER_CN = "shockwatch-broker"
# The inter-broker principal and the operators' (topics, ACLs): super users.
SUPER_USERS = ("broker", "admin")
# One principal per component: each process runs with its own (SHOCKWATCH_KAFKA_SASL_USERNAME).
COMPONENTS = ("producer", "worker", "notifier", "exporter")
PRINCIPALS = (*SUPER_USERS, *COMPONENTS)
CA_DAYS = 825
CERT_DAYS = 397
RENEW_BEFORE = dt.timedelta(days=7)


class SecureError(RuntimeError):
    """The secure broker's material cannot be made or read; the message says why."""


# -- files ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SecureLayout:
    """Where the secure broker's certificates, passwords and client settings live."""

    root: Path  # <state>/kafka/secure

    @property
    def tls(self) -> Path:
        return self.root / "tls"

    @property
    def ca_cert(self) -> Path:
        return self.tls / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.tls / "ca.key"

    @property
    def broker_pem(self) -> Path:
        return self.tls / "broker.pem"

    @property
    def users(self) -> Path:
        return self.root / "users"

    @property
    def clients(self) -> Path:
        return self.root / "clients"

    def password_file(self, name: str) -> Path:
        return self.users / f"{name}.password"

    def env_file(self, name: str) -> Path:
        return self.clients / f"{name}.env"

    def password(self, name: str) -> str:
        try:
            value = self.password_file(name).read_text().strip()
        except OSError as exc:
            raise SecureError(
                f"no password for principal {name!r} in {self.users}: start the broker with "
                "`shockwatch kafka up --secure` first"
            ) from exc
        register_secret(value)
        return value


def layout_for(state_dir: Path) -> SecureLayout:
    return SecureLayout(state_dir / "kafka" / "secure")


def _write_private(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 from the start (never readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def ensure_material(layout: SecureLayout) -> None:
    """The CA, the broker's certificate, a password per principal and the client settings:
    made once, reused after (a password must match the SCRAM user stored at format time)."""
    for d in (layout.root, layout.tls, layout.users, layout.clients):
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(d, 0o700)
    _ensure_certificates(layout)
    for name in PRINCIPALS:
        path = layout.password_file(name)
        if not path.exists():
            _write_private(path, (secrets.token_urlsafe(24) + "\n").encode())
        os.chmod(path, 0o600)
        register_secret(layout.password(name))
        layout.env_file(name).write_text(
            "".join(f"{k}={v}\n" for k, v in client_env(layout, name).items())
        )


def _ensure_certificates(layout: SecureLayout) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    if layout.ca_cert.exists() and layout.ca_key.exists() and layout.broker_pem.exists():
        cert = x509.load_pem_x509_certificate(layout.broker_pem.read_bytes())
        ca = x509.load_pem_x509_certificate(layout.ca_cert.read_bytes())
        if min(cert.not_valid_after_utc, ca.not_valid_after_utc) - now > RENEW_BEFORE:
            return

    def name(cn: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "shockwatch local"),
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
            ]
        )

    pem = serialization.Encoding.PEM
    pkcs8 = serialization.PrivateFormat.PKCS8
    none = serialization.NoEncryption()
    if layout.ca_key.exists() and layout.ca_cert.exists():
        ca_key = serialization.load_pem_private_key(layout.ca_key.read_bytes(), None)
        ca_cert = x509.load_pem_x509_certificate(layout.ca_cert.read_bytes())
        if ca_cert.not_valid_after_utc - now <= RENEW_BEFORE:
            ca_key = None  # type: ignore[assignment]
    else:
        ca_key = None  # type: ignore[assignment]
    if ca_key is None or not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = name("shockwatch local CA")
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        _write_private(layout.ca_key, ca_key.private_bytes(pem, pkcs8, none))
        layout.ca_cert.write_bytes(ca_cert.public_bytes(pem))

    key = ec.generate_private_key(ec.SECP256R1())
    ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, BROKER_CN)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.DNSName("localhost"),
                ]
            ),
            critical=False,
        )
        .add_extension(
            # server for the listeners; client for the controller listener (mutual TLS)
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    # Kafka's PEM keystore: the (unencrypted PKCS#8) key, then the chain.
    _write_private(
        layout.broker_pem,
        key.private_bytes(pem, pkcs8, none) + cert.public_bytes(pem) + ca_cert.public_bytes(pem),
    )
    log.info("made the local CA and the broker's certificate in %s", layout.tls)


# -- the broker's side ------------------------------------------------------------------------
def listener_placeholders(port: int, controller_port: int) -> dict[str, str]:
    """``server.properties.template``'s listener placeholders for a secure node."""
    return {
        "listeners": f"{LISTENER}://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised_listeners": f"{LISTENER}://127.0.0.1:{port}",
        "inter_broker_listener": LISTENER,
        "protocol_map": f"CONTROLLER:SSL,{LISTENER}:SASL_SSL",
    }


def server_properties(layout: SecureLayout) -> str:
    """The security block of ``server.properties`` (it holds the broker's own password: the
    file is written with mode 0600)."""
    password = layout.password("broker")
    supers = ";".join([*(f"User:{u}" for u in SUPER_USERS), f"User:CN={BROKER_CN}"])
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="broker" password="{password}";'
    )
    return f"""
# --secure: SASL_SSL (SCRAM-SHA-512) for clients and between brokers, TLS with client
# certificates on the controller listener, ACLs enforced by KRaft's StandardAuthorizer.
ssl.keystore.type=PEM
ssl.keystore.location={layout.broker_pem}
ssl.truststore.type=PEM
ssl.truststore.location={layout.ca_cert}
ssl.endpoint.identification.algorithm=https
listener.name.controller.ssl.client.auth=required
sasl.enabled.mechanisms={MECHANISM}
sasl.mechanism.inter.broker.protocol={MECHANISM}
listener.name.{LISTENER.lower()}.{MECHANISM.lower()}.sasl.jaas.config={jaas}
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users={supers}
"""


def format_args(layout: SecureLayout) -> list[str]:
    """``kafka-storage format`` arguments creating every principal's SCRAM credentials."""
    args: list[str] = []
    for name in PRINCIPALS:
        args += ["--add-scram", f"{MECHANISM}=[name={name},password={layout.password(name)}]"]
    return args


def protect_config(path: Path) -> None:
    os.chmod(path, 0o600)


# -- the clients' side ------------------------------------------------------------------------
def client_env(layout: SecureLayout, name: str) -> dict[str, str]:
    """The ``SHOCKWATCH_KAFKA_*`` settings of principal ``name`` (its password as a file)."""
    return {
        "SHOCKWATCH_KAFKA_SECURITY_PROTOCOL": PROTOCOL,
        "SHOCKWATCH_KAFKA_SASL_MECHANISM": MECHANISM,
        "SHOCKWATCH_KAFKA_SASL_USERNAME": name,
        "SHOCKWATCH_KAFKA_SASL_PASSWORD_FILE": str(layout.password_file(name).resolve()),
        "SHOCKWATCH_KAFKA_SSL_CAFILE": str(layout.ca_cert.resolve()),
    }


def settings_for(settings: Settings, layout: SecureLayout, name: str) -> Settings:
    """``settings`` as principal ``name`` of the secure local broker."""
    return settings.model_copy(
        update={
            "kafka_security_protocol": PROTOCOL,
            "kafka_sasl_mechanism": MECHANISM,
            "kafka_sasl_username": name,
            "kafka_sasl_password": _secret(layout.password(name)),
            "kafka_ssl_cafile": layout.ca_cert,
        }
    )


def _secret(value: str) -> Any:
    from pydantic import SecretStr

    return SecretStr(value)


def admin_client_config(layout: SecureLayout) -> dict[str, Any]:
    """kafka-python kwargs for the ``admin`` principal (the broker's readiness probe, status)."""
    ctx = ssl.create_default_context(cafile=str(layout.ca_cert))
    return {
        "security_protocol": PROTOCOL,
        "sasl_mechanism": MECHANISM,
        "sasl_plain_username": "admin",
        "sasl_plain_password": layout.password("admin"),
        "ssl_context": ctx,
    }


# -- ACLs -------------------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class Grant:
    """One ALLOW ACL: ``principal`` may ``operation`` the ``resource`` (topic/group) ``name``."""

    principal: str
    resource: str  # "topic" | "group"
    name: str
    operation: str  # "READ" | "WRITE" | "DESCRIBE"


def acl_plan(prefix: str = "", app_id: str = "shockwatch") -> list[Grant]:
    """Least privilege per component, for the topics of ``prefix`` and the groups of
    ``app_id``. Every principal may DESCRIBE every topic of the contract (each command checks
    at start that the contract's topics exist; their names are not secret, their data is)."""
    names, groups = TopicNames(prefix), GroupNames(app_id)
    inputs = list(names.inputs)
    input_dlqs = [names.dlq(t) for t in inputs]
    grants: list[Grant] = []

    def allow(who: str, op: str, topics: Iterable[str], resource: str = "topic") -> None:
        grants.extend(Grant(f"User:{who}", resource, t, op) for t in topics)

    for who in COMPONENTS:
        allow(who, "DESCRIBE", names.all())
    # producers: write the inputs, and dead-letter what a feed cannot parse
    allow("producer", "WRITE", [*inputs, *input_dlqs])
    # worker: read the inputs; write signals, alerts, the checkpoint (read back at start) and
    # scale-out's summaries (read by the merge stage); dead-letter bad input
    allow("worker", "READ", [*inputs, names.state, names.summaries])
    allow("worker", "WRITE", [names.signals, names.alerts, names.state, names.summaries])
    allow("worker", "WRITE", input_dlqs)
    allow("worker", "READ", groups.worker(), "group")
    # notifier: read the alerts in its group; dead-letter an alert Slack refuses for good
    allow("notifier", "READ", [names.alerts])
    allow("notifier", "WRITE", [names.dlq(names.alerts)])
    allow("notifier", "READ", [groups.notifier], "group")
    # exporter: reads signals (and alerts, for the alert gauges), group-less
    allow("exporter", "READ", [names.signals, names.alerts])
    return sorted(set(grants))


def _acl(grant: Grant) -> Any:
    from kafka.admin import (
        ACL,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        ResourcePattern,
        ResourceType,
    )

    resource = ResourceType.TOPIC if grant.resource == "topic" else ResourceType.GROUP
    return ACL(
        principal=grant.principal,
        host="*",
        operation=ACLOperation[grant.operation],
        permission_type=ACLPermissionType.ALLOW,
        resource_pattern=ResourcePattern(resource, grant.name, ACLResourcePatternType.LITERAL),
    )


def apply_acls(admin_settings: Settings, prefix: str = "", app_id: str = "shockwatch") -> int:
    """Create ``acl_plan(prefix, app_id)`` on the cluster (idempotent) as a super user;
    returns how many bindings it holds. Raises ``SecureError`` when the broker refuses one."""
    from common.kafka import admin

    grants = acl_plan(prefix, app_id)
    client = admin(admin_settings)
    try:
        result = client.create_acls([_acl(g) for g in grants])
    finally:
        client.close()
    failed = result.get("failed", []) if isinstance(result, dict) else []
    if failed:
        raise SecureError(f"the broker refused {len(failed)} ACL(s), e.g. {failed[0]!r}")
    return len(grants)


def describe_acls(admin_settings: Settings) -> list[Grant]:
    """Every ALLOW ACL on topics and groups, as ``Grant``s (what the broker holds)."""
    from kafka.admin import (
        ACLFilter,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        ResourcePatternFilter,
        ResourceType,
    )

    from common.kafka import admin

    client = admin(admin_settings)
    try:
        found: list[Grant] = []
        for rtype, label in ((ResourceType.TOPIC, "topic"), (ResourceType.GROUP, "group")):
            acls, _error = client.describe_acls(
                ACLFilter(
                    principal=None,
                    host="*",
                    operation=ACLOperation.ANY,
                    permission_type=ACLPermissionType.ANY,
                    resource_pattern=ResourcePatternFilter(rtype, None, ACLResourcePatternType.ANY),
                )
            )
            for acl in acls:
                found.append(
                    Grant(
                        acl.principal, label, acl.resource_pattern.resource_name, acl.operation.name
                    )
                )
        return sorted(found)
    finally:
        client.close()


# -- `kafka up --secure` ----------------------------------------------------------------------
def prepare(settings: Settings, layout: SecureLayout, bootstrap: str) -> str:
    """As ``admin``: create the contract's topics of the configured prefix and the ACLs of
    every component; returns what to tell the operator (where each principal's settings are)."""
    from streams.topics import create_topics

    admin_settings = settings_for(
        settings.model_copy(update={"kafka_bootstrap": bootstrap}), layout, "admin"
    )
    create_topics(admin_settings)
    n = apply_acls(admin_settings, settings.topic_prefix, settings.app_id)
    envs = ", ".join(layout.env_file(name).name for name in PRINCIPALS)
    return (
        f"SASL_SSL ({MECHANISM}) at {bootstrap}; CA {layout.ca_cert}; {n} ACLs for topic prefix "
        f"{settings.topic_prefix!r} and app id {settings.app_id!r}.\n"
        f"Each component's settings (password by file, mode 0600) in {layout.clients}: {envs};"
        f" e.g. `set -a; . {layout.env_file('worker')}; set +a; shockwatch worker`"
    )


def kafka_acls_command(grant: Grant, bootstrap: str = "$BOOTSTRAP") -> str:
    """``grant`` as Apache Kafka's own tool adds it (for a managed cluster)."""
    where = "--topic" if grant.resource == "topic" else "--group"
    return (
        f"kafka-acls.sh --bootstrap-server {bootstrap} --command-config admin.properties "
        f"--add --allow-principal {grant.principal} --operation {grant.operation.capitalize()} "
        f"{where} {grant.name}"
    )
