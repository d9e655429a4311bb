"""``shockwatch kafka`` and ``shockwatch topics``: the local broker and the topic contract on a
cluster (mounted by ``shockwatch.cli.main``)."""

from __future__ import annotations

import json
import re
import time
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from common.cli import fail, out, print_table, settings_from_env
from common.settings import Settings

kafka_app = typer.Typer(help="The local Kafka broker: one KRaft node or three (from Maven).")
topics_app = typer.Typer(help="The topic contracts: create and inspect them.")


# -- kafka --------------------------------------------------------------------------------------


@kafka_app.command("up")
def kafka_up(
    port: Annotated[int | None, typer.Option(help="Broker port (default: a free one).")] = None,
    controller_port: Annotated[int | None, typer.Option(help="KRaft controller port.")] = None,
    brokers: Annotated[
        int | None,
        typer.Option(
            help="Nodes: 1, or 3 (a 3-voter quorum, replication factor 3, min.insync.replicas "
            "2). Default: the deployment already running, else 1."
        ),
    ] = None,
    secure: Annotated[
        bool | None,
        typer.Option(
            "--secure/--plaintext",
            help="SASL_SSL (SCRAM-SHA-512) with TLS from a local CA and ACLs per component "
            "(credentials in <state>/kafka/secure; docs/kafka.md). Default: the deployment "
            "already running, else plaintext.",
        ),
    ] = None,
) -> None:
    """Start the local broker(s) (idempotent: a running one is reused, a cluster's stopped
    node started again) and wait until ready."""
    from common.kafka import KafkaUnavailable
    from shockwatch.local.broker import BrokerError, LocalBroker

    settings = settings_from_env()
    try:
        broker = LocalBroker(settings, brokers=brokers, secure=secure)
        info = broker.up(port=port, controller_port=controller_port)
        if broker.secure:
            from shockwatch.local.secure import SecureError, prepare

            try:
                ready = prepare(settings, broker.tls, info["bootstrap"])
            except SecureError as exc:
                raise BrokerError(str(exc)) from None
    except (BrokerError, KafkaUnavailable) as exc:
        raise fail(str(exc)) from None
    what = "Kafka" if info["brokers"] == 1 else f"Kafka ({info['brokers']} nodes)"
    pids = ", ".join(str(n["pid"]) for n in info["nodes"])
    if info["already_running"]:
        out.print(f"{what} already running at {info['bootstrap']} (pid {pids})")
    else:
        out.print(
            f"{what} ready at {info['bootstrap']} (pid {pids}) "
            f"in {info['ready_s']:.1f} s; data in {broker.data}"
        )
    if broker.secure:
        out.print(ready)


@kafka_app.command("down")
def kafka_down() -> None:
    """Stop the local broker(s) (data stays: topics and offsets survive a restart)."""
    from shockwatch.local.broker import LocalBroker

    stopped = LocalBroker(settings_from_env()).down()
    out.print("Kafka stopped" if stopped else "Kafka was not running")


@kafka_app.command("status")
def kafka_status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Is the Kafka cluster running and reachable? The configured one when
    SHOCKWATCH_KAFKA_BOOTSTRAP names another, else the local broker. Lists its topics by prefix;
    for a local cluster also each node (alive, registered, partitions led), the active
    controller and the under-replicated partitions. Exit 1 when not running or not reachable."""
    from common.kafka import local_broker_info
    from shockwatch.local.broker import LocalBroker
    from streams.topics import group_prefixes

    settings = settings_from_env()
    local = local_broker_info(settings)
    if settings.kafka_bootstrap and (
        local is None or local["bootstrap"] != settings.kafka_bootstrap
    ):
        _configured_status(settings, as_json)
        return
    status = LocalBroker(settings).status()
    if as_json:
        out.print_json(json.dumps(status))
    elif status["running"]:
        reach = "reachable" if status["reachable"] else "NOT reachable"
        topics = status["topics"] or []
        if status["brokers"] == 1:
            out.print(
                f"Kafka running at {status['bootstrap']} (pid {status['pid']}), {reach}, "
                f"{len(topics)} topics"
            )
        else:
            _print_cluster(status, reach, len(topics))
        _print_prefixes(group_prefixes(topics), len(topics))
    else:
        out.print(f"Kafka is not running (state in {status['state_dir']})")
    if not status["running"] or not status.get("reachable"):
        raise typer.Exit(1)


def _configured_status(settings: Settings, as_json: bool) -> None:
    """``kafka status`` of the cluster SHOCKWATCH_KAFKA_BOOTSTRAP names (not a local one):
    reachable or not, its brokers and its topics by prefix; exit 1 when unreachable."""
    from common.kafka import KafkaUnavailable, admin
    from streams.topics import group_prefixes

    status: dict[str, Any] = {"configured": True, "bootstrap": settings.kafka_bootstrap}
    try:
        client = admin(settings, timeout_s=5.0)
        try:
            topics = sorted(client.list_topics())
            cluster = dict(client.describe_cluster())
        finally:
            client.close()
    except KafkaUnavailable as exc:
        if as_json:
            out.print_json(json.dumps({**status, "reachable": False, "error": str(exc)}))
            raise typer.Exit(1) from None
        raise fail(str(exc)) from None
    status |= {
        "reachable": True,
        "brokers": len(cluster.get("brokers", [])),
        "cluster_id": cluster.get("cluster_id"),
        "topics": topics,
    }
    if as_json:
        out.print_json(json.dumps(status))
        return
    out.print(
        f"Kafka cluster at {settings.kafka_bootstrap} (SHOCKWATCH_KAFKA_BOOTSTRAP), reachable, "
        f"{status['brokers']} broker(s), cluster id {status['cluster_id']}, {len(topics)} topics"
    )
    _print_prefixes(group_prefixes(topics), len(topics))


def _print_cluster(status: dict, reach: str, n_topics: int) -> None:
    """Each node of a local cluster (alive, registered with the controller, partitions it
    leads), the quorum's leader (the active controller) and the replicas' health."""
    alive = sum(1 for n in status["nodes"] if n["alive"])
    out.print(
        f"Kafka cluster of {status['brokers']} nodes ({alive} running) at {status['bootstrap']}, "
        f"{reach}, {n_topics} topics"
    )
    controller = status.get("active_controller")
    table = Table("node", "port", "ctl port", "pid", "alive", "registered", "leads", "role")
    for n in status["nodes"]:
        table.add_row(
            str(n["id"]),
            str(n["port"]),
            str(n["controller_port"]),
            str(n["pid"]),
            "yes" if n["alive"] else "NO",
            "yes" if n.get("registered") else "no",
            str(n.get("leads", "?")),
            "controller" if n["id"] == controller else "",
        )
    out.print(table)
    if "under_replicated" in status:
        out.print(
            f"{status['partitions']} partitions: {status['under_replicated']} under-replicated "
            f"(ISR short of the replicas), {status['offline']} without a leader"
        )
    if controller is None:
        out.print("active controller: unknown (no quorum leader answered)")


def _print_prefixes(prefixes: list, n_topics: int) -> None:
    """Topics per prefix: the live one(s) and what runs left (``topics prune`` removes those)."""

    now = time.time()
    table = Table("prefix", "topics", "made by", "age")
    for p in prefixes:
        age = p.age_s(now)
        table.add_row(
            p.prefix or "(none)",
            str(len(p.topics)),
            p.kind or "live",
            "-" if age is None else _fmt_age(age),
        )
    other = n_topics - sum(len(p.topics) for p in prefixes)
    if prefixes:
        out.print(table)
    if other:
        out.print(f"{other} other topic(s) (not shockwatch's contract); `topics list --all`")
    leftovers = [p for p in prefixes if p.kind is not None]
    if leftovers:
        out.print(
            f"{len(leftovers)} run prefix(es) left by scenario/replay/demo/bench runs: "
            "`shockwatch topics prune --dry-run` shows what it would remove"
        )


def _fmt_age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


@kafka_app.command("acls")
def kafka_acls(
    prefix: Annotated[str | None, typer.Option(help="Topic name prefix.")] = None,
    app_id: Annotated[str | None, typer.Option(help="App id (its consumer groups).")] = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="Create them on the configured cluster (as admin).")
    ] = False,
    commands: Annotated[
        bool, typer.Option("--commands", help="Print them as kafka-acls.sh commands.")
    ] = False,
) -> None:
    """The ACLs each component needs (principals producer, worker, notifier, exporter): print
    them, as kafka-acls.sh commands for a managed cluster, or --apply them."""
    from common.kafka import KafkaUnavailable
    from shockwatch.local.secure import SecureError, acl_plan, apply_acls, kafka_acls_command

    settings = settings_from_env()
    prefix = settings.topic_prefix if prefix is None else prefix
    app_id = app_id or settings.app_id
    grants = acl_plan(prefix, app_id)
    if apply:
        try:
            n = apply_acls(settings, prefix, app_id)
        except (KafkaUnavailable, SecureError) as exc:
            raise fail(str(exc)) from None
        out.print(f"{n} ACLs in place for topic prefix {prefix!r}, app id {app_id!r}")
    elif commands:
        for grant in grants:
            out.print(kafka_acls_command(grant), soft_wrap=True)
    else:
        table = Table("principal", "operation", "resource", "name")
        for g in grants:
            table.add_row(g.principal, g.operation, g.resource, g.name)
        out.print(table)


# -- topics -------------------------------------------------------------------------------------


@topics_app.command("create")
def topics_create(
    prefix: Annotated[str | None, typer.Option(help="Topic name prefix.")] = None,
) -> None:
    """Create every topic of the contract with its partitions and configs (idempotent)."""
    from common.kafka import KafkaUnavailable
    from streams.topics import create_topics

    try:
        result = create_topics(settings_from_env(), prefix)
    except KafkaUnavailable as exc:
        raise fail(str(exc)) from None
    for name, what in result.items():
        out.print(f"{what:8} {name}")


@topics_app.command("list")
def topics_list(
    prefix: Annotated[str | None, typer.Option(help="Topic name prefix.")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every topic name on the cluster, by prefix.")
    ] = False,
    wide: Annotated[
        bool, typer.Option("--wide", help="Every cell whole on one line, however wide.")
    ] = False,
) -> None:
    """Show each contract topic: partitions, replicas, key, value record and configs on the
    broker (``--all``: the name of every topic on the cluster instead). Fits 100 columns, the
    topic names always whole; --wide prints retention in ms and nothing wrapped."""
    from common.kafka import (
        KafkaUnavailable,
        admin,
        describe_topic_configs,
        partition_leaders,
        partitions_for,
    )
    from streams.topics import topic_specs

    settings = settings_from_env()
    if all_:
        try:
            client = admin(settings)
            try:
                names = sorted(client.list_topics())
            finally:
                client.close()
        except KafkaUnavailable as exc:
            raise fail(str(exc)) from None
        for name in names:
            out.print(name)
        return
    specs = topic_specs(settings, prefix)
    try:
        parts = partitions_for(settings, [s.name for s in specs])
        configs = describe_topic_configs(settings, list(parts))
        replicas: dict[str, int] = {}
        for (topic, _), state in partition_leaders(settings, list(parts)).items():
            replicas[topic] = max(replicas.get(topic, 0), len(state["replicas"]))
    except KafkaUnavailable as exc:
        raise fail(str(exc)) from None
    rows = [
        (
            s.name,
            str(parts.get(s.name, "missing")),
            str(replicas.get(s.name, "-")),
            configs.get(s.name, {}).get("min.insync.replicas", "-"),
            s.key,
            s.value,
            configs.get(s.name, {}).get("cleanup.policy", "-"),
            configs.get(s.name, {}).get("retention.ms", "-"),
        )
        for s in specs
    ]
    print_table(topics_table(rows, wide, out.width), wide)


def topics_table(rows: list[tuple[str, ...]], wide: bool = False, width: int = 100) -> Table:
    """The ``topics list`` table: the topic names never cut (they are what one copies), the
    retention as a duration unless ``wide``; key and value wrap first, and under 100 columns
    min ISR and cleanup are left out (``--wide`` has them)."""
    narrow = not wide and width < 100
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("topic", no_wrap=True, min_width=max((len(r[0]) for r in rows), default=5))
    for name in ("parts", "repl") if narrow else ("parts", "repl", "min ISR"):
        table.add_column(name, no_wrap=True, justify="right")
    table.add_column("key", overflow="fold", min_width=8)
    table.add_column("value", overflow="fold", min_width=8)
    if not narrow:
        table.add_column("cleanup", no_wrap=True)
    table.add_column("retention.ms" if wide else "retention", no_wrap=True, justify="right")
    for row in rows:
        retention = row[7] if wide or not row[7].isdigit() else _fmt_age(int(row[7]) / 1000)
        cells = [*row[:3], *row[4:6]] if narrow else list(row[:7])
        table.add_row(*cells, retention)
    return table


_DURATION = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """Seconds from '90s', '30m', '12h', '1d', '2w'."""

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text.lower())
    if not m:
        raise fail(f"cannot read the duration {text!r}: use e.g. 90s, 30m, 12h, 1d, 2w")
    return float(m.group(1)) * _DURATION[m.group(2)]


@topics_app.command("prune")
def topics_prune(
    prefix: Annotated[
        str | None, typer.Option(help="Only run prefixes starting with this (e.g. demo-).")
    ] = None,
    older_than: Annotated[
        str | None, typer.Option(help="Only prefixes made longer ago than this: 1d, 12h, 30m.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List, delete nothing.")] = False,
) -> None:
    """Delete the topics that scenario, replay, demo and bench runs left (their prefixes
    start with scn-, replay-, demo-, bench-). Never touches the live prefix or other topics."""
    from common.kafka import KafkaUnavailable, delete_topics
    from streams.topics import list_prefixes, prunable

    settings = settings_from_env()
    age = parse_duration(older_than) if older_than else None
    try:
        chosen = prunable(
            list_prefixes(settings), settings.topic_prefix, prefix=prefix, older_than_s=age
        )
        if not chosen:
            out.print("nothing to prune")
            return
        for info in chosen:
            verb = "would delete" if dry_run else "deleting"
            out.print(f"{verb} {len(info.topics):2} topics under {info.prefix}")
            if not dry_run:
                delete_topics(settings, info.topics)
    except KafkaUnavailable as exc:
        raise fail(str(exc)) from None
    total = sum(len(i.topics) for i in chosen)
    done = "would remove" if dry_run else "removed"
    out.print(f"{done} {total} topics of {len(chosen)} run prefix(es)")
