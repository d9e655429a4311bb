"""Run the detector over a scenario folder without Kafka (unit tests, calibration, bench).

Each feed file plays the part of one partition, in file order, with a heartbeat at the
scenario's end, so the ticks are exactly those the faust worker computes from the topics.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from common.settings import DetectionSettings
from streams.detection.detector import Detector, TickOutput
from streams.records import Heartbeat, RecordError
from streams.scenario import FEEDS, Parsed, Scenario, merged_lines


def merged_records(scenario: Scenario) -> Iterator[tuple[str, Any]]:
    """(feed, record) of every valid line, merged by event time across feeds."""
    for feed, parsed, _ in merged_lines(scenario, now_ms=scenario.end_ms):
        if isinstance(parsed, Parsed):
            yield feed, parsed.record


def run_offline(scenario: Scenario, cfg: DetectionSettings) -> tuple[list[TickOutput], int]:
    """All tick outputs for the scenario, and the number of late events rejected."""
    det = Detector(cfg)
    det.set_partitions(FEEDS)
    outputs: list[TickOutput] = []
    late = 0
    for n, (feed, record) in enumerate(merged_records(scenario)):
        try:
            det.ingest(record, feed)
        except RecordError:
            late += 1
        if n % 256 == 0:
            outputs.extend(det.advance())
    for feed in FEEDS:
        pad = cfg.alerts.allowed_lateness_s * 1000
        det.ingest(Heartbeat(ts_ms=scenario.end_ms + pad, source="offline"), feed)
    outputs.extend(det.advance())
    return outputs, late
