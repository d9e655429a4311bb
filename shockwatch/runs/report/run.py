"""The run model and its loading: a run folder's metadata, signals and alerts, and, when the
scenario folder ``run.json`` names under ``inputs`` can still be found, its liquidation prints
and funding observations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from streams.records import AlertEvent, ShockSignal
from streams.scenario import Parsed, Scenario, ScenarioError, parse_feed, read_scenario


@dataclass
class LiqPrints:
    """The run's liquidation prints, column-wise (one entry per print)."""

    ts_ms: list[int] = field(default_factory=list)
    venue: list[str] = field(default_factory=list)
    is_long: list[bool] = field(default_factory=list)
    notional_usd: list[float] = field(default_factory=list)
    lower_bound: list[bool] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ts_ms)


# series -> sorted [(observation_date, value)], latest revision published by the run's end
FundingSeries = dict[str, list[tuple[date, float]]]


@dataclass
class RunData:
    run_dir: Path
    meta: dict[str, Any]
    signals: list[ShockSignal]
    alerts: list[AlertEvent]
    inputs: Path | None = None
    liquidations: LiqPrints | None = None
    funding: FundingSeries | None = None
    # The signals inside the run's time range (earlier ticks only warm the detector up).
    window: list[ShockSignal] = field(init=False)
    by_ts: dict[int, ShockSignal] = field(init=False)

    def __post_init__(self) -> None:
        lo, hi = self.start_ms, self.end_ms
        self.window = [s for s in self.signals if lo <= s.ts_ms <= hi] or self.signals
        self.by_ts = {s.ts_ms: s for s in self.signals}

    @property
    def start_ms(self) -> int:
        return int(self.meta.get("start_ms") or self.signals[0].ts_ms)

    @property
    def end_ms(self) -> int:
        return int(self.meta.get("end_ms") or self.signals[-1].ts_ms)

    @property
    def name(self) -> str:
        return str(self.meta.get("scenario") or self.run_dir.name)

    def signal_at(self, ts_ms: int) -> ShockSignal | None:
        return self.by_ts.get(ts_ms)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with open(path, "rb") as f:
        return [orjson.loads(line) for line in f if line.strip()]


def load_run(run_dir: Path) -> RunData:
    """Read a run folder and, if found, the liquidations and funding of its inputs."""
    meta_path = run_dir / "run.json"
    if not meta_path.exists():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no run.json)")
    meta = orjson.loads(meta_path.read_bytes())
    signals = [ShockSignal.from_dict(s) for s in _jsonl(run_dir / "signals.jsonl")]
    signals.sort(key=lambda s: s.ts_ms)
    if not signals:
        raise ValueError(f"{run_dir}: signals.jsonl is empty; nothing to report")
    alerts = [AlertEvent.from_dict(a) for a in _jsonl(run_dir / "alerts.jsonl")]
    alerts.sort(key=lambda a: a.ts_ms)
    data = RunData(run_dir, meta, signals, alerts)
    scenario = _find_inputs(run_dir, meta)
    if scenario is not None:
        data.inputs = scenario.path
        data.liquidations = _load_liquidations(scenario, data.start_ms, data.end_ms)
        data.funding = _load_funding(scenario, data.end_ms)
    return data


def funding_from_signals(signals: Sequence[ShockSignal]) -> FundingSeries:
    """The funding values the detector held during the run (when the inputs are gone)."""
    seen: dict[str, dict[date, float]] = {}
    for s in signals:
        for name, v in s.funding.values.items():
            if v is not None:
                seen.setdefault(name, {})[date.fromisoformat(v.date)] = v.value
    return {name: sorted(rows.items()) for name, rows in seen.items()}


def _find_inputs(run_dir: Path, meta: dict[str, Any]) -> Scenario | None:
    candidates = [Path(meta["inputs"])] if meta.get("inputs") else []
    candidates.append(run_dir / "inputs")
    for folder in candidates:
        try:
            return read_scenario(folder)
        except (ScenarioError, OSError):
            continue
    return None


def _load_liquidations(scenario: Scenario, start_ms: int, end_ms: int) -> LiqPrints | None:
    if scenario.feed_file("liquidations") is None:
        return None
    out = LiqPrints()
    for _, parsed, _ in parse_feed(scenario, "liquidations", now_ms=end_ms):
        if not isinstance(parsed, Parsed):
            continue
        r = parsed.record
        if start_ms <= r.ts_ms < end_ms:
            out.ts_ms.append(r.ts_ms)
            out.venue.append(r.exchange)
            out.is_long.append(r.side_liquidated == "long")
            out.notional_usd.append(r.notional_usd)
            out.lower_bound.append(r.lower_bound)
    return out


def _load_funding(scenario: Scenario, end_ms: int) -> FundingSeries | None:
    """Every series as of the run's end: latest revision per date among those published by then."""
    if scenario.feed_file("funding") is None:
        return None
    best: dict[tuple[str, str], tuple[int, int, float]] = {}
    for _, parsed, _ in parse_feed(scenario, "funding", now_ms=end_ms):
        if not isinstance(parsed, Parsed) or parsed.record.ts_ms > end_ms:
            continue
        r = parsed.record
        key = (r.series, r.observation_date)
        rank = (r.revision, r.ts_ms)
        if key not in best or rank >= best[key][:2]:
            best[key] = (*rank, r.value)
    series: FundingSeries = {}
    for (name, day), (_, _, value) in best.items():
        series.setdefault(name, []).append((date.fromisoformat(day), value))
    for rows in series.values():
        rows.sort()
    return series
