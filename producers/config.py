"""Producer settings: one frozen object, read from ``SHOCKWATCH_PRODUCERS__*`` when built.

Kafka itself (bootstrap, SASL/SSL, topic prefix, state dir) comes from the shared
``common.settings.Settings``; this object holds only what the feeds need: heartbeat and
buffering knobs, which venues and symbols to follow, and the provider endpoints (overridable,
e.g. for a mirror, a proxy or the lab's local fixture server, ``shockwatch.lab.fixtures``).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.instruments import PriceProvider, known_tickers, unknown_tickers


class Endpoint(StrEnum):
    """Every provider address the producers talk to, in one closed set."""

    BINANCE_WS = "binance_ws"
    BYBIT_WS = "bybit_ws"
    OKX_WS = "okx_ws"
    GATE_WS = "gate_ws"
    HTX_WS = "htx_ws"
    DERIBIT_WS = "deribit_ws"
    BINANCE_REST = "binance_rest"
    YAHOO = "yahoo"
    FRED = "fred"
    NYFED = "nyfed"
    TREASURY = "treasury"


# ``None`` = the client library's own default (ccxt knows the venues' URLs).
DEFAULT_ENDPOINTS: dict[Endpoint, str | None] = {
    Endpoint.BINANCE_WS: None,
    Endpoint.BYBIT_WS: None,
    Endpoint.OKX_WS: None,
    Endpoint.GATE_WS: None,
    Endpoint.HTX_WS: None,
    Endpoint.DERIBIT_WS: None,
    Endpoint.BINANCE_REST: None,
    Endpoint.YAHOO: "https://query2.finance.yahoo.com",
    Endpoint.FRED: "https://fred.stlouisfed.org",
    Endpoint.NYFED: "https://markets.newyorkfed.org",
    Endpoint.TREASURY: "https://api.fiscaldata.treasury.gov",
}


class ProducerSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SHOCKWATCH_PRODUCERS__",
        frozen=True,
        extra="ignore",
    )

    # -- the Kafka sink --------------------------------------------------------------------
    # Idle time after which every partition of the topic gets a heartbeat (watermark).
    heartbeat_s: float = 5.0
    # Records queued in memory before ``send`` waits (backpressure instead of growth).
    queue_max: int = 20_000
    # Records taken off the queue per send round (one or more Kafka batches per partition).
    send_round_max: int = 5_000
    linger_ms: int = 20
    max_batch_bytes: int = 512 * 1024
    # Broker unreachable at start for this long = a clear error and a non-zero exit.
    start_timeout_s: float = 15.0
    # A batch not acknowledged within this is failed by the client and re-sent by the sink.
    request_timeout_ms: int = 30_000
    # On shutdown, wait this long for queued records to be acknowledged.
    close_timeout_s: float = 60.0

    # -- liquidations ----------------------------------------------------------------------
    # On by default: every venue with a public market-wide liquidation channel
    # (docs/producers.md, "Venues"). Hyperliquid has none and is not a venue here.
    venues: tuple[str, ...] = ("binanceusdm", "bybit", "okx", "gate", "htx", "deribit")
    # Bybit has no all-market liquidation topic: one ``allLiquidation.<symbol>`` per symbol,
    # for every linear USDT perpetual of the markets list; a list here narrows it.
    bybit_symbols: tuple[str, ...] = ()
    # Per-venue silence threshold override (seconds); defaults live in the venue table.
    silence_s: dict[str, float] = {}
    dedup_capacity: int = 200_000
    dedup_ttl_s: float = 3_600.0
    # Normalised records waiting for the sink before the venue is disconnected (backpressure).
    max_pending: int = 50_000
    # Heartbeat watermark = newest event time seen + idle time - this lag (events of several
    # venues interleave on one partition, each a little late).
    liquidation_lag_ms: int = 2_000
    # Liquidations are held this long past their event time and sent in event-time order:
    # OKX's pushes are "not necessarily in chronological order" (producers/liquidations/
    # order.py measures what a disorder does against the worker's 2 s lateness). 0 = off.
    liquidation_reorder_ms: int = 5_000
    # At most this many liquidations are held (5 s at 4,000 events/s, twice the rate of the
    # broker-outage fault test; real peaks are lower). A full hold releases its oldest record
    # early and makes ``send`` wait on the Kafka queue: backpressure to the feed, not growth.
    liquidation_reorder_max: int = Field(default=20_000, ge=1)

    # -- prices ----------------------------------------------------------------------------
    yahoo_tickers: tuple[str, ...] = ("^GSPC", "^IXIC", "NVDA", "PLTR", "GC=F", "^VIX")
    crypto_symbols: tuple[str, ...] = ("BTC/USDT:USDT", "ETH/USDT:USDT")
    price_poll_s: float = 60.0
    # A bar whose close is more than this multiple away from the symbol's last published
    # close (either way) is rejected as implausible; ``price_rebase_after`` such bars in a row
    # that agree with each other are accepted as a new level (a split, a re-denomination).
    price_max_multiple: float = 1.5
    price_rebase_after: int = 5
    # Polled minute bars arrive up to a poll interval after their end: heartbeat behind that.
    price_lag_ms: int = 90_000
    # A rate-limited provider is left alone at least this long.
    rate_limit_min_s: float = 30.0

    # -- funding ---------------------------------------------------------------------------
    funding_lookback_days: int = 14

    # -- HTTP ------------------------------------------------------------------------------
    http_timeout_s: float = 30.0
    http_attempts: int = 4
    endpoints: dict[Endpoint, str] = {}

    @field_validator("yahoo_tickers", "crypto_symbols")
    @classmethod
    def _known_instruments(cls, tickers: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        """A ticker outside the instrument table would never be polled: refused at start-up,
        naming it and the known ones (it used to be dropped without a word)."""
        provider = (
            PriceProvider.YFINANCE
            if info.field_name == "yahoo_tickers"
            else PriceProvider.CCXT_BINANCEUSDM
        )
        unknown = unknown_tickers(provider, tickers)
        if unknown:
            raise ValueError(
                f"unknown {provider} ticker(s) {', '.join(unknown)}: not in the instrument table "
                f"(streams/instruments.py); known: {', '.join(known_tickers(provider))}"
            )
        return tickers

    def endpoint(self, name: Endpoint) -> str | None:
        return self.endpoints.get(name) or DEFAULT_ENDPOINTS[name]


class InvalidProducerSettings(ValueError):
    """A ``SHOCKWATCH_PRODUCERS__*`` value was refused (the message names each variable)."""


def load_producer_settings(**overrides: object) -> ProducerSettings:
    """The producer settings, read once at start-up; a refused value is one clear line."""
    try:
        return ProducerSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise InvalidProducerSettings(
            "; ".join(
                f"SHOCKWATCH_PRODUCERS__{'__'.join(map(str, e['loc'])).upper()}: "
                f"{e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors()
            )
        ) from None
