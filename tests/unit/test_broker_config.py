"""The local broker's configuration, one node or three, without starting Kafka: the rendered
server.properties, each node's folders and ports, and the topics' replication."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.kafka import KafkaUnavailable, replication
from common.settings import Settings
from shockwatch.local.broker import BrokerError, LocalBroker, Node


def properties(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def rendered(broker: LocalBroker, nodes: list[Node]) -> dict[int, dict[str, str]]:
    for node in nodes:
        broker.node_dir(node.id).mkdir(parents=True, exist_ok=True)
        broker._render_config(node, nodes)
    return {node.id: properties(broker.config_file(node.id)) for node in nodes}


def test_one_node_keeps_its_layout_and_replication_one(tmp_path: Path) -> None:
    broker = LocalBroker(Settings(state_dir=tmp_path))
    props = rendered(broker, [Node(1, 9092, 9093)])[1]
    assert broker.config == tmp_path / "kafka" / "server.properties"
    assert broker.data == tmp_path / "kafka" / "data"
    assert props["node.id"] == "1"
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9092"
    assert props["inter.broker.listener.name"] == "PLAINTEXT"
    assert props["listener.security.protocol.map"] == "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    assert props["log.dirs"] == str(tmp_path / "kafka" / "data")
    for key in ("offsets.topic.replication.factor", "transaction.state.log.replication.factor",
                "default.replication.factor", "min.insync.replicas",
                "transaction.state.log.min.isr"):  # fmt: skip
        assert props[key] == "1", key
    assert "broker.session.timeout.ms" not in props  # Kafka's defaults on one node


def test_three_nodes_form_one_quorum_each_in_its_own_folder(tmp_path: Path) -> None:
    broker = LocalBroker(Settings(state_dir=tmp_path), brokers=3)
    nodes = [Node(1, 9101, 9201), Node(2, 9102, 9202), Node(3, 9103, 9203)]
    props = rendered(broker, nodes)
    voters = "1@127.0.0.1:9201,2@127.0.0.1:9202,3@127.0.0.1:9203"
    assert {p["controller.quorum.voters"] for p in props.values()} == {voters}
    assert {p["process.roles"] for p in props.values()} == {"broker,controller"}
    for node in nodes:
        p = props[node.id]
        assert p["node.id"] == str(node.id)
        assert p["listeners"] == (
            f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}"
        )
        assert p["advertised.listeners"] == f"PLAINTEXT://127.0.0.1:{node.port}"
        assert p["log.dirs"] == str(tmp_path / "kafka" / "cluster" / f"node-{node.id}" / "data")
        assert p["default.replication.factor"] == p["offsets.topic.replication.factor"] == "3"
        assert p["transaction.state.log.replication.factor"] == "3"
        assert p["min.insync.replicas"] == p["transaction.state.log.min.isr"] == "2"
        assert p["unclean.leader.election.enable"] == "false"
        assert p["broker.session.timeout.ms"] == "6000"
    assert len({p["log.dirs"] for p in props.values()}) == 3


def test_a_cluster_is_one_node_or_three(tmp_path: Path) -> None:
    for n in (0, 2, 4):
        with pytest.raises(BrokerError, match="1 or 3"):
            LocalBroker(Settings(state_dir=tmp_path), brokers=n)


def test_three_nodes_get_six_distinct_ports_and_no_fixed_port(tmp_path: Path) -> None:
    broker = LocalBroker(Settings(state_dir=tmp_path), brokers=3)
    nodes = broker._plan(None, None)
    assert [n.id for n in nodes] == [1, 2, 3]
    assert len({p for n in nodes for p in (n.port, n.controller_port)}) == 6
    with pytest.raises(BrokerError, match="not with --brokers"):
        broker._plan(None, 19092)


def test_broker_json_of_an_older_shockwatch_reads_as_one_node(tmp_path: Path) -> None:
    broker = LocalBroker(Settings(state_dir=tmp_path))
    broker.info_file.parent.mkdir(parents=True)
    old = {"pid": 2**22 + 7, "port": 9092, "controller_port": 9093, "bootstrap": "127.0.0.1:9092"}
    broker.info_file.write_text(json.dumps(old))
    info = broker._read_info()
    assert info is not None
    assert info["brokers"] == 1
    assert info["nodes"] == [{"id": 1, "port": 9092, "controller_port": 9093, "pid": 2**22 + 7}]
    assert broker.info() is None  # that pid does not run


def test_replication_follows_the_brokers_unless_set() -> None:
    s = Settings()
    assert replication(s, 1) == (1, 1)
    assert replication(s, 3) == (3, 2)
    assert replication(s, 5) == (3, 2)
    assert replication(s, 2) == (2, 1)
    pinned = Settings(kafka_replication_factor=3, kafka_min_insync_replicas=2)
    assert replication(pinned, 4) == (3, 2)
    with pytest.raises(KafkaUnavailable, match="needs 3 brokers"):
        replication(pinned, 2)
    assert replication(Settings(kafka_min_insync_replicas=5), 3) == (3, 3)


def test_without_brokers_it_is_one_node_when_nothing_runs(tmp_path: Path) -> None:
    assert LocalBroker(Settings(state_dir=tmp_path)).brokers == 1
    broker = LocalBroker(Settings(state_dir=tmp_path), brokers=3)
    broker._write_info([Node(1, 9101, 9201), Node(2, 9102, 9202), Node(3, 9103, 9203)])
    # a cluster that no longer runs (pids -1) does not decide the shape of the next one
    assert LocalBroker(Settings(state_dir=tmp_path)).brokers == 1
