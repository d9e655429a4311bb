"""One frozen settings object, read from the environment when the app is built.

The shared knobs of shockwatch live here: where Kafka is, topic names, the detection
thresholds (documented with the reasons for their defaults in docs/detection.md), the alerting
endpoints. Secrets are ``SecretStr`` so they never print; read them from env or from ``*_FILE``
secret files. Two domains keep their own, which the floor cannot hold without importing them:
the producers' ``ProducerSettings`` (``SHOCKWATCH_PRODUCERS__*``, ``producers/config.py``:
checked against the instrument table, a streams contract) and the notifier's
``NotifierOptions`` (``alerts/notifier.py``: code defaults with the Slack ``RetryPolicy``).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DASHBOARD_PATH = "/d/shockwatch/shockwatch"  # the uid and slug deploy/grafana gives it


class MarketSettings(BaseModel):
    """Per-asset returns and z-scores."""

    model_config = ConfigDict(frozen=True)

    windows_min: tuple[int, ...] = (15, 60)
    # Prior volatility (annualised) per asset class, used until the EWMA has seen enough bars and
    # as a floor (vol_floor_frac of it) so a flat stretch cannot blow a z-score up.
    prior_annual_vol: dict[str, float] = {
        "equity_index": 0.18,
        "ai_equity": 0.55,
        "gold": 0.16,
        "crypto": 0.55,
        "volatility": 1.00,
    }
    vol_halflife_bars: int = 390
    vol_floor_frac: float = 0.5
    # Minutes of trading in a "day" per class, to scale one-minute vol up to the day window.
    day_minutes: dict[str, int] = {
        "equity_index": 390,
        "ai_equity": 390,
        "gold": 1380,
        "crypto": 1440,
        "volatility": 390,
    }
    # A gap this long between two bars of an asset marks a session break: the bar before it is
    # the previous close (equities). Classes not listed use a rolling 24 h reference.
    session_gap_min: int = 120
    session_classes: tuple[str, ...] = ("equity_index", "ai_equity", "volatility")
    history_min: int = 1440


class BreadthSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    # A core class counts as "down" when its day z is at or below this.
    down_z: float = -0.75
    # Class z that maps to full market stress (1.0) in the score.
    full_z: float = 2.0
    core_classes: dict[str, tuple[str, ...]] = {
        "equities": ("equity_index", "ai_equity"),
        "gold": ("gold",),
        "crypto": ("crypto",),
    }
    comovement_window_min: int = 60


class LiquidationSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    # The dollar levels below are on the observed basis: what the subscribed venues report,
    # about 66% of the market-wide totals aggregators publish (docs/detection.md, section 3).
    window_min: int = 60
    baseline_min: int = 1440
    # Floor of the trailing hourly baseline: a cold start or a dead-quiet night must not turn
    # a few million dollars into a 50x "surge".
    baseline_floor_usd: float = 16_500_000.0
    full_surge: float = 6.0
    # The window notional must also be large in absolute terms to count as a wave.
    wave_min_usd: float = 99_000_000.0
    # Sustained pressure: the total over the last ``sustained_min`` minutes on a log scale
    # from ``sustained_calm_usd`` (0: an ordinary day's share) to ``sustained_full_usd`` (1),
    # so a large day spread over many hours counts even when no single hour is a wave.
    sustained_min: int = 360
    sustained_calm_usd: float = 39_600_000.0
    sustained_full_usd: float = 660_000_000.0


class FundingSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    # SOFR minus IORB, basis points: 0 bp is where repo starts to pay above the Fed's floor.
    sofr_iorb_calm_bp: float = -5.0
    sofr_iorb_full_bp: float = 20.0
    srf_calm_usd_bn: float = 1.0
    srf_full_usd_bn: float = 25.0
    # SRF take-up is judged over this many business days (month-end spikes linger as stress).
    srf_lookback_days: int = 3
    on_rrp_calm_usd_bn: float = 200.0
    on_rrp_full_usd_bn: float = 10.0
    reserves_ample_usd_bn: float = 3_000.0
    reserves_full_usd_bn: float = 2_800.0
    tga_calm_usd_bn: float = 750.0
    tga_full_usd_bn: float = 950.0
    # Balance-sheet quantities (ON RRP, reserves, TGA) are the fuel, the price of funding
    # (SOFR over IORB, SRF take-up) is the fire: a quantity counts as stress only in proportion
    # to the strongest price component, reaching full weight when that is at ``price_gate_full``.
    # Levels of reserves or the TGA that were normal in another era (2019's $1.5tn of
    # reserves, 2021's $1.6tn TGA with SOFR under IORB) then read calm, as funding was.
    quantity_components: tuple[str, ...] = ("on_rrp", "reserves", "tga")
    price_gate_full: float = 0.5
    stale_business_days: int = 3
    reserves_stale_business_days: int = 10
    weights: dict[str, float] = {
        "sofr_iorb": 0.30,
        "srf": 0.25,
        "on_rrp": 0.15,
        "reserves": 0.15,
        "tga": 0.15,
    }


class ScoreSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    weights: dict[str, float] = {
        "market": 40.0,
        "liquidations": 25.0,
        "funding": 25.0,
        "comovement": 10.0,
    }
    # Regime: AI names falling this many z more than the index with calm funding = repricing.
    repricing_gap_z: float = 1.0
    plumbing_funding_min: float = 0.5
    plumbing_liq_min: float = 0.5


class AlertSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    warning_score: float = 50.0
    critical_score: float = 70.0
    # Critical needs every core class down at once: that is what "everything sells" means.
    critical_min_breadth: float = 1.0
    # Broad, deep selling pages on its own: when the shallowest core class is down at least
    # ``broad_warning_z`` normal days (so every class is), a warning fires whatever funding
    # and liquidations say; at ``broad_critical_z`` (every class down three normal days at
    # once: a crash) it is critical without an amplifier. An episode opened this way resolves
    # only once the shallowest class is back within ``broad_resolve_z`` (hysteresis).
    broad_warning_z: float = 1.0
    broad_critical_z: float = 3.0
    broad_resolve_z: float = 0.5
    # Critical by score also needs an amplifier nearly in full: funding or liquidation stress
    # at least this (a broad fall with calm funding and moderate forced selling is a warning).
    critical_amplifier_min: float = 0.8
    resolve_score: float = 40.0
    for_s: int = 300
    resolve_for_s: int = 900
    cooldown_s: int = 1800
    # Events older than the last evaluated tick minus this are late (DLQ'd, counted).
    allowed_lateness_s: int = 2
    # A data record more than ``max_jump_s`` ahead of its partition's time does not move the
    # partition (and seal its minutes) until ``jump_confirm_events`` such records in a row
    # confirm the new time (or a heartbeat does); a record back at the old time instead marks
    # the held ones ``implausible_time``. Live, heartbeats keep a partition within seconds of
    # the clock, so only a bad record jumps; a recorded day's session gaps are confirmed by
    # the next bars. Depends on the partition's order only: replays stay deterministic.
    max_jump_s: int = 120
    jump_confirm_events: int = 3
    # Event-time gaps (old data followed by live data, a worker back after days): an empty
    # minute is not ticked once the detector has settled (no asset in view, the liquidation
    # windows empty, the alert machine at rest: ticking it would change nothing), or once it
    # is more than this many minutes after the newest data; a gap then costs at most this many
    # signals. With the defaults the detector settles within history_min + the liquidation
    # window and baseline + resolve_for_s (~1,516 minutes), so the bound never binds and the
    # skip is exact. Far above any gap inside a recorded day (the bundled days' longest run of
    # empty minutes is 59). 0 = tick every minute (docs/detection.md, "Gaps").
    max_gap_ticks: int = 1560


class DetectionSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    market: MarketSettings = MarketSettings()
    breadth: BreadthSettings = BreadthSettings()
    liquidations: LiquidationSettings = LiquidationSettings()
    funding: FundingSettings = FundingSettings()
    score: ScoreSettings = ScoreSettings()
    alerts: AlertSettings = AlertSettings()
    scope: str = "global"


class Settings(BaseSettings):
    """Read once at start-up (``Settings()``); pass the object down, never re-read the env."""

    model_config = SettingsConfigDict(
        env_prefix="SHOCKWATCH_",
        env_nested_delimiter="__",
        frozen=True,
        extra="ignore",
    )

    state_dir: Path = PROJECT_ROOT / ".state"
    reports_dir: Path = PROJECT_ROOT / "reports"

    # Kafka: leave bootstrap empty to use the local broker started by `shockwatch kafka up`.
    kafka_bootstrap: str = ""
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    kafka_heap: str = "-Xms256m -Xmx512m"
    # Topics' replication: empty = derived from the brokers the cluster has (1 on one broker,
    # 3 from three on), and min.insync.replicas = 2 when replicated three times.
    kafka_replication_factor: int | None = None
    kafka_min_insync_replicas: int | None = None

    topic_prefix: str = ""
    input_partitions: int = 3
    retention_days: int = 35
    app_id: str = "shockwatch"
    # Scale-out: every worker of the app id shares the input partitions (shard stage) and one
    # of them merges their summaries (docs/architecture.md, "Scale-out"). Off: one worker does
    # it all and a second one stands by.
    scale_out: bool = False
    max_future_s: int = 300
    # Liveness: an input partition that showed nothing (no data, no heartbeat) for this many
    # seconds of wall-clock time while the worker is caught up on it is idle and left out of
    # the tick watermark, so a silent feed (a producer down) cannot stop detection. 0 = off;
    # scenario runs and replays turn it off so a recorded day gives the same output at any
    # speed (docs/architecture.md, "Idle partitions").
    idle_partition_s: float = 120.0
    # Records per Kafka message when tools (scenario runs, replay, bench) frame a source that
    # naturally batches; 1 = one record per message. See docs/architecture.md.
    frame_max_events: int = 500
    # A replay's detector starts from its state as of the replay's start: the nearest checkpoint
    # on the state topic, else a warm-up on this much input before the start (run, not emitted).
    # 7 days: the previous equity session close across the longest market closure (~4.5 days),
    # the 1-day bar history and liquidation baseline, and >= 5 equity sessions of the EWMA
    # volatility (half-life 390 bars; docs/architecture.md, "Replay in place"). 0 = cold.
    replay_warmup_s: int = 7 * 86400
    # Diagnostics: log (WARNING) every pass of the worker's garbage collector that took at
    # least this many ms; 0 = off. The bench's latency runs turn it on to tell a collector pause
    # from the other causes of a slow tick (docs/benchmarks.md, "Latency").
    gc_trace_ms: float = 0.0

    detection: DetectionSettings = DetectionSettings()

    metrics_host: str = "127.0.0.1"
    # Each process's /metrics port (docs/alerts.md, "Ports"); 0 = any free port, which the
    # process prints and records in <state>/ports/<job>.json for `shockwatch status`/`watch`.
    metrics_port: int = 9464  # the worker
    notifier_metrics_port: int = 9465
    liquidations_metrics_port: int = 9466
    prices_metrics_port: int = 9467
    funding_metrics_port: int = 9468
    slack_webhook_url: SecretStr | None = None
    slack_bot_token: SecretStr | None = None
    slack_channel: str | None = None
    slack_api_base: str = "https://slack.com/api"
    slack_max_per_minute: int = 20
    # Old data cannot page: an alert whose event time is more than this many seconds before
    # now is recorded as delivered but not posted to Slack (one log line says why; counted as
    # shockwatch_slack_sends_total{result="stale_skipped"}). Live, an alert is seconds old; an
    # hour allows for a notifier or a Slack outage caught up on. 0 = off: runs of recorded data
    # (the demo, scenario runs, tests; shockwatch.runs.runner.NotifierProcess) notify old days on
    # purpose (docs/alerts.md, "Old alerts").
    live_horizon_s: float = 3600.0
    # Where the Slack messages' links go (docs/alerts.md, "Links"). The runbooks: this
    # checkout's docs/ folder unless set (a deployment points it at where its docs are served,
    # e.g. its git host's docs/ folder); Grafana: no Dashboard link unless its base URL is set.
    runbook_base_url: str = (PROJECT_ROOT / "docs").as_uri()
    grafana_url: str | None = None

    @property
    def runbook_url(self) -> str:
        return f"{self.runbook_base_url.rstrip('/')}/runbooks.md"

    @property
    def dashboard_url(self) -> str | None:
        """The dashboard deploy/grafana provisions, on SHOCKWATCH_GRAFANA_URL."""
        return f"{self.grafana_url.rstrip('/')}{DASHBOARD_PATH}" if self.grafana_url else None

    @cached_property
    def kafka_dir(self) -> Path:
        return self.state_dir / "kafka"


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, reading ``SHOCKWATCH_*_FILE`` secret files too."""
    import os

    for name in ("SLACK_WEBHOOK_URL", "SLACK_BOT_TOKEN", "KAFKA_SASL_PASSWORD"):
        path = os.environ.get(f"SHOCKWATCH_{name}_FILE")
        key = name.lower()
        if path and key not in overrides:
            overrides[key] = Path(path).read_text().strip()
    return Settings(**overrides)  # type: ignore[arg-type]


__all__ = ["PROJECT_ROOT", "DetectionSettings", "Settings", "load_settings"]
