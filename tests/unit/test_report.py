"""The post-mortem report: one self-contained HTML file with its charts, and a Markdown summary
that names every alert with its evidence. Run folders are built from the offline detector over
hand-made scenarios, in the exact format ``save_run`` writes for a Kafka run."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path

import orjson
import pytest

from common.settings import PROJECT_ROOT, DetectionSettings, Settings
from shockwatch.runs.report import build_report, load_run, report_command
from shockwatch.runs.runner import RunResult, save_run
from streams.detection.offline import run_offline
from streams.scenario import read_scenario
from tests.scenario_factory import funding_row, stressed_funding, write_scenario

CFG = DetectionSettings()
SELLOFF = {"SPX": -2, "IXIC": -3, "NVDA": -5, "PLTR": -9, "XAU": -2, "BTC": -7, "ETH": -9}
QUIET = {"SPX": 0.1, "IXIC": 0.1, "NVDA": 0.2, "PLTR": -0.1, "XAU": 0.05, "BTC": 0.2, "ETH": -0.1}
BUNDLED = sorted((PROJECT_ROOT / "data" / "scenarios").glob("*/scenario.toml"))
IMG = '<img src="data:image/png;base64,'
# Any src/href (or CSS url()) that would need the network to render the page.
REMOTE = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?https?:""", re.I)


def calm_funding(day: str = "2025-07-14", published: str = "2025-07-15T00:00:00Z") -> list:
    return [
        funding_row("SOFR", day, 4.33, published),
        funding_row("IORB", day, 4.40, published),
        funding_row("TARGET_LOWER", day, 4.25, published),
        funding_row("TARGET_UPPER", day, 4.50, published),
        funding_row("SRF_TAKEUP", day, 0.0, published, "usd_bn"),
        funding_row("ON_RRP_AMOUNT", day, 300.0, published, "usd_bn"),
        funding_row("RESERVES", day, 3300.0, published, "usd_bn"),
        funding_row("TGA", day, 700.0, published, "usd_bn"),
    ]


def offline_run(scenario_dir: Path, run_dir: Path) -> Path:
    """Run the detector over a scenario without Kafka and save a run folder as save_run does."""
    scenario = read_scenario(scenario_dir)
    outputs, _ = run_offline(scenario, CFG)
    result = RunResult(
        scenario=scenario.name,
        prefix="offline.",
        app_id="shockwatch-offline",
        loaded={},
        alerts=[a for o in outputs for a in o.alerts],
        signals=len(outputs),
        signal_log=[o.signal.to_dict() for o in outputs],
    )
    return save_run(result, scenario, run_dir, run_dir.name)


@pytest.fixture(scope="module")
def critical_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report-critical")
    scn = write_scenario(
        root / "scenario",
        start="2025-11-04T14:30:00Z",
        minutes=390,
        moves_pct=SELLOFF,
        liq_usd_per_min=200_000,
        liq_wave=(120, 300, 5_000_000),
        funding=stressed_funding(),
        name="selloff",
    )
    run = offline_run(scn, root / "run")
    build_report(run, detection=CFG)
    return run


@pytest.fixture(scope="module")
def calm_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report-calm")
    scn = write_scenario(
        root / "scenario",
        start="2025-07-15T13:30:00Z",
        minutes=390,
        moves_pct=QUIET,
        liq_usd_per_min=50_000,
        funding=calm_funding(),
        name="quiet",
    )
    run = offline_run(scn, root / "run")
    build_report(run, detection=CFG)
    return run


def alerts_of(run: Path) -> list[dict]:
    text = (run / "alerts.jsonl").read_bytes()
    return [orjson.loads(line) for line in text.splitlines() if line.strip()]


def assert_self_contained(html: str, charts: int = 5) -> None:
    assert html.count(IMG) >= charts
    assert not REMOTE.search(html), REMOTE.search(html)
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert "@import" not in html
    for b64 in re.findall(r'data:image/png;base64,([A-Za-z0-9+/=]+)"', html):
        assert base64.b64decode(b64)[:8] == b"\x89PNG\r\n\x1a\n"


def md_section(md: str, alert: dict) -> str:
    """The Markdown block describing one alert transition (heading up to the next heading)."""
    head = f"### {alert['alert_id']} · {alert['state']} {alert['severity']}"
    start = md.index(head)
    nxt = md.find("\n#", start + len(head))
    return md[start : nxt if nxt != -1 else len(md)]


def test_critical_run_fires_and_the_html_is_self_contained(critical_run: Path) -> None:
    alerts = alerts_of(critical_run)
    assert any(a["severity"] == "critical" and a["state"] == "firing" for a in alerts)
    html = (critical_run / "report.html").read_text()
    assert_self_contained(html)
    assert html.count(IMG) == 6  # score, timeline, prices, class z, liquidations, funding
    first_critical = next(a for a in alerts if a["severity"] == "critical")
    assert "CRITICAL — everything sells" in html
    assert f"regime {first_critical['regime']}" in html
    for a in alerts:
        assert a["alert_id"] in html


def test_markdown_names_every_alert_with_its_evidence(critical_run: Path) -> None:
    md = (critical_run / "report.md").read_text()
    alerts = alerts_of(critical_run)
    assert alerts
    for a in alerts:
        ev = a["evidence"]
        cells = f"`{a['alert_id']}` | {a['state']} | {a['severity']} | {a['regime']} |"
        assert any(cells in line for line in md.splitlines() if line.startswith("|"))
        section = md_section(md, a)
        assert f"{ev['score']:.1f}" in section
        assert f"Breadth**: {ev['breadth']:.2f}" in section
        assert f"stress {ev['funding']['stress']:.2f}" in section
        assert f"{ev['liquidations']['surge_ratio']:.1f}x" in section
    assert md.startswith("# CRITICAL")
    assert "Nothing fired" not in md


def test_narrative_tells_what_moved_first_and_why_the_regime(critical_run: Path) -> None:
    md = (critical_run / "report.md").read_text()
    data = load_run(critical_run)
    # Independently: the first core class whose z reached the breadth threshold.
    first = next(
        (core, s.ts_ms)
        for s in data.window
        for core, z in s.classes.core_z.items()
        if z is not None and z <= CFG.breadth.down_z
    )
    line = next(line for line in md.splitlines() if line.startswith("- First:"))
    assert first[0].lower() in line.lower()
    assert time.strftime("%H:%M", time.gmtime(first[1] / 1000)) in line
    assert "What the funding panel showed" in md
    assert "Stressed: SOFR - IORB +32 bp" in md  # 4.22% vs 3.90%, from the inputs
    assert "plumbing: funding tight" in md
    assert "Peak clock hour" in md


def test_calm_run_says_nothing_fired(calm_run: Path) -> None:
    assert alerts_of(calm_run) == []
    md = (calm_run / "report.md").read_text()
    html = (calm_run / "report.html").read_text()
    assert md.startswith("# NO ALERT — peak score")
    assert "Nothing fired" in md and "Nothing fired" in html
    assert_self_contained(html)


def test_out_dir_and_report_command(calm_run: Path, tmp_path: Path) -> None:
    paths = build_report(calm_run, tmp_path / "out", detection=CFG)
    assert paths.html.parent == tmp_path / "out" and paths.markdown.exists()
    again = report_command(calm_run, Settings())
    assert again.html == calm_run / "report.html" and again.html.stat().st_size > 100_000


def test_report_without_the_inputs_folder(critical_run: Path, tmp_path: Path) -> None:
    """A run folder moved away from its scenario still reports, from the signals alone."""
    run = tmp_path / "moved"
    run.mkdir()
    for name in ("signals.jsonl", "alerts.jsonl"):
        (run / name).write_bytes((critical_run / name).read_bytes())
    meta = orjson.loads((critical_run / "run.json").read_bytes())
    meta["inputs"] = str(tmp_path / "gone")
    (run / "run.json").write_bytes(orjson.dumps(meta))
    paths = build_report(run, detection=CFG)
    html = paths.html.read_text()
    assert_self_contained(html)
    assert "inputs folder was not found" in html
    for a in alerts_of(run):
        assert a["alert_id"] in paths.markdown.read_text()


@pytest.mark.parametrize(
    "toml",
    BUNDLED or [pytest.param(None, marks=pytest.mark.skip(reason="no bundled scenarios"))],
    ids=lambda p: p.parent.name if p else "none",
)
def test_report_of_every_bundled_scenario(toml: Path, tmp_path: Path) -> None:
    run = offline_run(toml.parent, tmp_path / "run")
    paths = build_report(run, detection=CFG)
    html, md = paths.html.read_text(), paths.markdown.read_text()
    assert_self_contained(html)
    alerts = alerts_of(run)
    for a in alerts:
        assert a["alert_id"] in md
    if any(a["severity"] == "critical" for a in alerts):
        assert md.startswith("# CRITICAL")
    elif not alerts:
        assert "Nothing fired" in md


def test_header_longs_share_without_inputs_comes_from_the_signals(critical_run: Path) -> None:
    """Without the inputs the header's long share is the detector's largest 60-min window's
    (the signals keep no per-side day total), and says so; never a made-up 0%."""
    from shockwatch.runs.report.analysis import liquidation_summary

    data = load_run(critical_run)
    with_inputs = liquidation_summary(data)
    data.liquidations = None  # as when the inputs folder is gone
    from_signals = liquidation_summary(data)
    peak = max(data.window, key=lambda s: s.liquidations.notional_usd)
    want = peak.liquidations.long_share
    assert from_signals.source == "signals" and want > 0
    assert from_signals.long_share == want
    assert from_signals.long_share_label == f"{want * 100:.0f}% longs (peak 60-min window)"
    assert with_inputs.long_share_label == f"{with_inputs.long_share * 100:.0f}% longs"


def test_run_json_records_the_detection_settings_and_report_uses_them(
    critical_run: Path, tmp_path: Path
) -> None:
    from shockwatch.runs.report.build import recorded_detection

    cfg = CFG.model_copy(update={"alerts": CFG.alerts.model_copy(update={"warning_score": 44.0})})
    result = RunResult(scenario="s", prefix="p.", app_id="a", loaded={})
    scenario = read_scenario(PROJECT_ROOT / "data/scenarios/2025-11-04-everything-sells")
    run = tmp_path / "run"
    run.mkdir()
    (run / "signals.jsonl").write_bytes((critical_run / "signals.jsonl").read_bytes())
    save_run(result, scenario, run, "r", detection=cfg)
    (run / "signals.jsonl").write_bytes((critical_run / "signals.jsonl").read_bytes())
    (run / "alerts.jsonl").write_bytes((critical_run / "alerts.jsonl").read_bytes())
    meta = orjson.loads((run / "run.json").read_bytes())
    assert meta["detection"]["alerts"]["warning_score"] == 44.0
    assert recorded_detection(meta) == cfg  # every threshold, not only the one changed
    assert recorded_detection({}) is None  # an older run: today's settings
    paths = report_command(run, Settings())  # the app's defaults differ; the recorded are drawn
    assert "a warning needs score 44 or" in paths.html.read_text()
