"""Which venues a day's liquidations came from, and which of them shockwatch reads.

A published daily liquidation total (Coinglass, formerly Bybt; Datamish for BitMEX) is
market-wide. shockwatch's live feeds read only the venues it subscribes (``OBSERVED``, the
ccxt ids of ``producers/liquidations/venues.py``): Hyperliquid, BitMEX, FTX, CoinEx, Bitfinex
and the rest are never seen. So each day's total is split by venue and only the observed part
goes into the scenario files; the rest is recorded as unobserved.

The split of a day is, in order of preference:

* ``sourced``: a published per-exchange breakdown of that day covering (nearly) all of it;
* ``sourced-partial``: the venues a source names keep their published amounts, the remainder
  is spread over the era's other venues in proportion to ``ERAS`` (below);
* ``era``: no breakdown found: the era's typical shares (``ERAS``).

Each era's shares are read off one or two published breakdowns of that era (named in ``src``)
and rounded; where a source lumps venues together, the split among them is chosen and says so.
The amounts are what Coinglass-style aggregators report, which for Binance is its own
1-per-second-per-symbol snapshot stream (the same lower bound the live feed gets) and for OKX
its own push: the figures are on the live feeds' basis already, so no further cut is applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from producers.liquidations.venues import Venue

# The venues shockwatch subscribes (ccxt ids): producers/liquidations/venues.py's table itself,
# so the data can only claim what the live feeds read (Bitget has no documented public
# liquidation channel, docs/producers.md: its share stays unobserved).
OBSERVED = tuple(v.value for v in Venue)


@dataclass(frozen=True)
class Era:
    name: str
    first_year: int
    last_year: int
    shares: tuple[tuple[str, float], ...]  # venue -> share of the market-wide notional
    src: str


ERAS = (
    Era(
        "BitMEX era",
        2019,
        2020,
        (
            ("bitmex", 0.35),
            ("htx", 0.22),
            ("okx", 0.20),
            ("binanceusdm", 0.18),
            ("bybit", 0.03),
            ("deribit", 0.01),
            ("other", 0.01),
        ),
        "2020-05-10 breakdown (Huobi $368m, BitMEX $284m, OKEx $282m, Binance $280m, FTX "
        "$1.5m of $1.22bn: https://thebitcoinstreetjournal.com/halving-countdown-large-"
        "liquidation-at-major-derivatives-exchanges-bitcoinbtc-drops-12-in-last-24hrs); BitMEX "
        "raised from its 23% that day to 35% for 2019 to March 2020, when it was 'the largest "
        "perpetual contracts platform' (https://api.blankvar.com/en/p/1gx7bf) and lost share "
        "after Black Thursday (chosen, not sourced); Bybit and Deribit small (chosen)",
    ),
    Era(
        "Bybt era",
        2021,
        2021,
        (
            ("binanceusdm", 0.40),
            ("htx", 0.22),
            ("okx", 0.13),
            ("bybit", 0.12),
            ("bitmex", 0.05),
            ("ftx", 0.05),
            ("deribit", 0.02),
            ("other", 0.01),
        ),
        "2021-02-24 Bybt breakdown (Binance $2.5bn, Huobi $1.40bn, OKEx $745m of $5.6bn: "
        "https://www.wikibit.com/us_en/202102243344351728.html) and 2021-01-21 (Binance "
        "40.76%, Bybit second: https://cryptopotato.com/900-million-liquidated-in-24-hours-as-"
        "bitcoin-plunges-toward-30k/?amp); the remaining ~17% over Bybit, BitMEX, FTX and "
        "Deribit is chosen",
    ),
    Era(
        "FTX era",
        2022,
        2022,
        (
            ("okx", 0.25),
            ("binanceusdm", 0.22),
            ("bybit", 0.15),
            ("htx", 0.12),
            ("ftx", 0.10),
            ("bitmex", 0.05),
            ("deribit", 0.03),
            ("other", 0.08),
        ),
        "2022-05-09 Coinglass breakdown (OKX $257m, Binance $181m, FTX $102m of $1.05bn: "
        "https://www.coindesk.com/markets/2022/05/10/crypto-market-crash-leads-to-1b-in-"
        "liquidations-majors-lose-pivotal-support/); the rest over Bybit, Huobi, BitMEX, "
        "Deribit and smaller venues is chosen",
    ),
    Era(
        "CEX era",
        2023,
        2024,
        (
            ("binanceusdm", 0.38),
            ("okx", 0.27),
            ("bybit", 0.14),
            ("htx", 0.10),
            ("bitmex", 0.03),
            ("coinex", 0.03),
            ("deribit", 0.01),
            ("other", 0.04),
        ),
        "2023-03-10 (Binance $114m, OKX $78m, Huobi $43m of $324m: https://crypto-wallstreet."
        "com/2023/03/10/crypto-liquidations-top-300m-as-bitcoin-drops-below-20k/) and "
        "2024-08-05 (Binance $412m, OKX $319m of $1.06bn: https://bithubi.com/crypto-"
        "liquidations-surpass-1b-amid-market-wide-turbulence); Bybit, BitMEX, CoinEx, "
        "Deribit chosen",
    ),
    Era(
        "Hyperliquid era",
        2025,
        2025,
        (
            ("hyperliquid", 0.25),
            ("bybit", 0.23),
            ("binanceusdm", 0.18),
            ("okx", 0.08),
            ("htx", 0.08),
            ("gate", 0.08),
            ("bitget", 0.04),
            ("deribit", 0.01),
            ("other", 0.05),
        ),
        "2025-11-14 Coinglass breakdown (Hyperliquid $291.5m, Bybit $289.3m, Binance "
        "$215.1m, HTX $100.8m, Gate $100.4m, OKX $89.6m, CoinEx $8.0m, BitMEX $2.4m of "
        "$1.24bn: https://www.mytoken.io/en/news/541477.html); the unlisted ~12% split over "
        "Bitget, Deribit and others is chosen",
    ),
)


@dataclass(frozen=True)
class VenueSplit:
    basis: str  # sourced | sourced-partial | era
    era: str
    usd: tuple[tuple[str, float], ...]  # every venue's share of the day, USD

    @property
    def total_usd(self) -> float:
        return sum(v for _, v in self.usd)

    @property
    def observed_usd(self) -> dict[str, float]:
        return {k: v for k, v in self.usd if k in OBSERVED}

    @property
    def unobserved_usd(self) -> dict[str, float]:
        return {k: v for k, v in self.usd if k not in OBSERVED}

    @property
    def observed_share(self) -> float:
        return sum(self.observed_usd.values()) / self.total_usd

    def shares(self) -> tuple[tuple[str, float], ...]:
        """The observed venues' shares of the market-wide total (they sum to the observed
        share): what the synthesizer scales a market-wide budget by."""
        total = self.total_usd
        return tuple((k, v / total) for k, v in self.usd if k in OBSERVED)

    def unobserved_shares(self) -> tuple[tuple[str, float], ...]:
        total = self.total_usd
        return tuple((k, v / total) for k, v in self.usd if k not in OBSERVED)

    def to_json(self) -> dict[str, Any]:
        return {
            "basis": self.basis,
            "era": self.era,
            "market_wide_usd": round(self.total_usd),
            "observed_share": round(self.observed_share, 4),
            "observed_usd": {k: round(v) for k, v in self.observed_usd.items()},
            "unobserved_usd": {k: round(v) for k, v in self.unobserved_usd.items()},
        }


def era_of(year: int) -> Era:
    for era in ERAS:
        if era.first_year <= year <= era.last_year:
            return era
    raise ValueError(f"no venue era covers {year}")


def split(total_usd: float, year: int, sourced: dict[str, float] | None = None) -> VenueSplit:
    """Split a market-wide total: sourced venues keep their amounts, the remainder goes to the
    era's other venues by their era shares (all of it when nothing is sourced)."""
    era = era_of(year)
    named = dict(sourced or {})
    if not named:
        return VenueSplit("era", era.name, tuple((k, total_usd * s) for k, s in era.shares))
    rest = total_usd - sum(named.values())
    if rest < -0.5:
        raise ValueError(f"sourced venues ({sum(named.values()):,.0f}) exceed the total")
    others = [(k, s) for k, s in era.shares if k not in named]
    weight = sum(s for _, s in others)
    usd = [*named.items(), *((k, max(rest, 0.0) * s / weight) for k, s in others)]
    basis = "sourced" if rest <= 0.05 * total_usd else "sourced-partial"
    return VenueSplit(basis, era.name, tuple(usd))


def split_day(liq: dict[str, Any], year: int) -> VenueSplit:
    """A calendar day's split from its ``liquidations`` entry in days.json: ``total_usd``
    and, where published, ``venues_sourced.usd`` (venue -> USD) or ``venues_sourced.shares``
    (venue -> share, from a breakdown of an overlapping 24 h window). A total that covers one
    venue only (``venues_sourced.total_is``: that venue, e.g. BitMEX's own 2020 figures) is
    scaled up to the market by that venue's era share; the other venues are then era-typical."""
    src = liq.get("venues_sourced") or {}
    sourced = {k: float(v) for k, v in (src.get("usd") or {}).items()}
    # A breakdown published for an overlapping 24 h window: its shares, applied to the day.
    sourced |= {k: float(v) * float(liq["total_usd"]) for k, v in (src.get("shares") or {}).items()}
    only = src.get("total_is")
    if only:
        era = era_of(year)
        share = dict(era.shares)[only]
        total = float(liq["total_usd"]) / share
        return split(total, year, {only: float(liq["total_usd"])})
    return split(float(liq["total_usd"]), year, sourced)
