"""Funding sources: parsing (missing values, units), publication times, revisions, idempotence."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from producers.config import Endpoint, ProducerSettings
from producers.funding.parse import (
    Observation,
    parse_dts,
    parse_fred_csv,
    parse_nyfed_repo,
    parse_nyfed_sofr,
)
from producers.funding.producer import FundingProducer
from producers.funding.series import (
    FundingSource,
    add_business_days,
    fed_holidays,
    is_business_day,
    next_poll,
    publication_ms,
)
from producers.funding.state import Action, FundingState, Sent, decide
from producers.metrics import create_metrics
from producers.plausibility import FUNDING_BANDS, UNIT_ERROR, UNIT_SAFE, check_funding
from producers.sink import DryRunSink
from streams.records import InvalidValue, MalformedRecord, Unit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"


def utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


# -- FRED ---------------------------------------------------------------------------------------
def test_fred_csv_skips_dot_as_missing_and_counts_it() -> None:
    text = "observation_date,SOFR\n2025-10-13,.\n2025-10-14,4.29\n2025-10-15,4.30\n"
    parsed = parse_fred_csv(text, "SOFR")
    assert [(o.observation_date, o.value) for o in parsed.observations] == [
        ("2025-10-14", 4.29),
        ("2025-10-15", 4.30),
    ]
    assert parsed.skipped == {"missing": 1}
    assert parsed.observations[0].unit is Unit.PCT
    assert parsed.observations[0].source is FundingSource.FRED


def test_fred_csv_older_header_and_since() -> None:
    text = "DATE,RRPONTSYD\n2025-10-30,35.6\n2025-10-31,51.8\n"
    parsed = parse_fred_csv(text, "RRPONTSYD", since="2025-10-31")
    [obs] = parsed.observations
    assert (obs.series, obs.value, obs.unit) == ("ON_RRP_AMOUNT", 51.8, Unit.USD_BN)


def test_fred_tga_millions_become_billions_and_ids_map_to_series() -> None:
    [obs] = parse_fred_csv("observation_date,WTREGEN\n2025-10-29,1006800\n", "WTREGEN").observations
    assert (obs.series, obs.value, obs.unit) == ("TGA", 1006.8, Unit.USD_BN)
    mapping = {
        "DFEDTARU": "TARGET_UPPER",
        "DFEDTARL": "TARGET_LOWER",
        "RPONTSYD": "SRF_TAKEUP",
        "WRESBAL": "RESERVES",
        "IORB": "IORB",
        "EFFR": "EFFR",
    }
    for fred_id, series in mapping.items():
        [obs] = parse_fred_csv(
            f"observation_date,{fred_id}\n2025-10-29,1.5\n", fred_id
        ).observations
        assert obs.series == series


# -- a unit error (1000x either way) never passes for reserves and the TGA (issue #22) ----------
DATA = Path(__file__).resolve().parents[2] / "data"
# FRED's H.4.1 week averages as served today, in millions: the extremes of data/calendar (the
# 2019-09-18 reserves low, 2021-07-28 high; the TGA's 2023-06-07 low, 2021-01-21 high).
REAL_MILLIONS = {"WRESBAL": (1_394_100, 3_984_371), "WTREGEN": (107_040, 1_627_854)}


@pytest.mark.parametrize("fred_id", sorted(REAL_MILLIONS))
@pytest.mark.parametrize("served", ["billions", "thousands"])
def test_a_unit_error_either_way_is_rejected(fred_id: str, served: str) -> None:
    """FRED serving the series in billions (1000x too small once scaled: the issue's TGA 0.91)
    or in thousands (1000x too big) is an ``implausible_value``, never published."""
    scale = 1 / UNIT_ERROR if served == "billions" else UNIT_ERROR
    for millions in REAL_MILLIONS[fred_id]:
        text = f"observation_date,{fred_id}\n2023-06-07,{millions * scale:.6f}\n"
        [obs] = parse_fred_csv(text, fred_id).observations
        err = check_funding(obs.series, obs.value)
        assert err is not None and err.reason == "implausible_value", (obs.series, obs.value)
        right = parse_fred_csv(f"observation_date,{fred_id}\n2023-06-07,{millions}\n", fred_id)
        assert check_funding(obs.series, right.observations[0].value) is None


def test_unit_safe_bands_reject_any_in_band_value_scaled_by_1000() -> None:
    for series in UNIT_SAFE:
        band = FUNDING_BANDS[series]
        assert band.low * UNIT_ERROR > band.high, series  # so v/1000 < low and v*1000 > high


def test_every_real_reserves_and_tga_value_is_accepted() -> None:
    """Every value of the calendar days and scenarios, and the TGA's all-time low since 2008
    ($23.4bn on 2023-06-01, the debt-ceiling X-date, Treasury's DTS)."""
    values: list[tuple[str, float]] = [("TGA", 23.4)]
    for path in sorted(DATA.glob("*/*/funding.jsonl*")):
        opener: Any = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt") as lines:
            for line in lines:
                row = json.loads(line)
                if row.get("series") in UNIT_SAFE:
                    values.append((row["series"], row["value"]))
    assert len(values) > 1_000
    assert [v for v in values if check_funding(*v) is not None] == []


def test_fred_garbage_goes_to_rejects() -> None:
    parsed = parse_fred_csv("observation_date,SOFR\n2025-10-14,four\nnot-a-date,4\n", "SOFR")
    assert parsed.observations == []
    assert [type(e) for _, e in parsed.rejects] == [InvalidValue, InvalidValue]
    html = parse_fred_csv("<html>blocked</html>", "SOFR")
    assert isinstance(html.rejects[0][1], MalformedRecord)


def test_fred_fixture_files_parse() -> None:
    from producers.funding.series import FRED_IDS

    for fred_id in FRED_IDS:
        parsed = parse_fred_csv((FIXTURES / "fred" / f"{fred_id}.csv").read_text(), fred_id)
        assert parsed.observations and not parsed.rejects


# -- New York Fed -------------------------------------------------------------------------------
def test_nyfed_sofr() -> None:
    doc = {
        "refRates": [
            {"effectiveDate": "2025-11-04", "type": "SOFR", "percentRate": 4.0},
            {"effectiveDate": "2025-11-03", "type": "SOFR", "percentRate": None},
        ]
    }
    parsed = parse_nyfed_sofr(doc)
    [obs] = parsed.observations
    assert (obs.series, obs.observation_date, obs.value, obs.source) == (
        "SOFR",
        "2025-11-04",
        4.0,
        FundingSource.NYFED,
    )
    assert parsed.skipped == {"missing": 1}


def _op(day: str, kind: str, amount: float) -> dict[str, Any]:
    return {
        "operationDate": day,
        "operationType": kind,
        "auctionStatus": "Results",
        "totalAmtAccepted": int(amount * 1e9),
    }


def test_nyfed_repo_sums_the_days_repo_operations_in_billions() -> None:
    doc = {
        "repo": {
            "operations": [
                _op("2025-10-31", "Repo", 20.95),
                _op("2025-10-31", "Repo", 29.4),
                _op("2025-10-31", "Reverse Repo", 51.8),  # not SRF take-up
                _op("2025-11-03", "Repo", 14.75),
            ]
        }
    }
    got = {o.observation_date: o.value for o in parse_nyfed_repo(doc).observations}
    assert got == {"2025-10-31": pytest.approx(50.35), "2025-11-03": pytest.approx(14.75)}


def test_nyfed_repo_full_window_drops_the_possibly_cut_oldest_day() -> None:
    doc = {"repo": {"operations": [_op("2025-11-03", "Repo", 1), _op("2025-10-31", "Repo", 2)]}}
    parsed = parse_nyfed_repo(doc, window=2)
    assert [o.observation_date for o in parsed.observations] == ["2025-11-03"]
    assert parsed.skipped == {"partial_day": 1}


def test_nyfed_fixture() -> None:
    doc = json.loads((FIXTURES / "nyfed" / "repo_results.json").read_text())
    got = {o.observation_date: o.value for o in parse_nyfed_repo(doc).observations}
    assert got["2025-10-31"] == pytest.approx(50.35)  # the record of that day
    assert got["2025-11-03"] == pytest.approx(14.75)


# -- Treasury DTS -------------------------------------------------------------------------------
def test_dts_closing_balance_from_open_today_bal_when_close_is_null() -> None:
    doc = {
        "data": [
            {
                "record_date": "2025-11-03",
                "account_type": "Treasury General Account (TGA) Opening Balance",
                "open_today_bal": "1005655",
                "close_today_bal": "null",
            },
            {
                "record_date": "2025-11-03",
                "account_type": "Treasury General Account (TGA) Closing Balance",
                "open_today_bal": "1012655",
                "close_today_bal": "null",
            },
            {
                "record_date": "2021-09-30",  # the older format filled close_today_bal
                "account_type": "Treasury General Account (TGA) Closing Balance",
                "open_today_bal": "1",
                "close_today_bal": "215000",
            },
        ]
    }
    got = {o.observation_date: o.value for o in parse_dts(doc).observations}
    assert got == {"2025-11-03": pytest.approx(1012.655), "2021-09-30": pytest.approx(215.0)}


# -- publication times (as-of joins never look ahead) ---------------------------------------------
def test_fed_holidays() -> None:
    h = fed_holidays(2025)
    assert date(2025, 11, 11) in h  # Veterans Day, a Tuesday
    assert date(2025, 11, 27) in h  # Thanksgiving
    assert date(2025, 10, 13) in h  # Columbus Day
    assert date(2022, 12, 26) in fed_holidays(2022)  # Christmas on Sunday -> Monday
    assert date(2021, 12, 24) not in fed_holidays(2021)  # on Saturday: not moved
    assert not is_business_day(date(2025, 11, 8))
    assert add_business_days(date(2025, 11, 10), 1) == date(2025, 11, 12)


@pytest.mark.parametrize(
    ("source", "series", "obs", "published_utc"),
    [
        # SOFR for D: 08:00 New York the next business day (EST = UTC-5 in November).
        (FundingSource.NYFED, "SOFR", date(2025, 11, 4), datetime(2025, 11, 5, 13, 0)),
        (FundingSource.NYFED, "SOFR", date(2025, 10, 31), datetime(2025, 11, 3, 13, 0)),
        # ... across Veterans Day; and in summer time (EDT = UTC-4).
        (FundingSource.NYFED, "SOFR", date(2025, 11, 10), datetime(2025, 11, 12, 13, 0)),
        (FundingSource.NYFED, "SOFR", date(2025, 7, 3), datetime(2025, 7, 7, 12, 0)),
        (FundingSource.NYFED, "SRF_TAKEUP", date(2025, 10, 31), datetime(2025, 10, 31, 18, 0)),
        (FundingSource.TREASURY, "TGA", date(2025, 11, 3), datetime(2025, 11, 4, 21, 0)),
        (FundingSource.FRED, "IORB", date(2025, 11, 1), datetime(2025, 11, 1, 4, 0)),
        # H.4.1 on Thursday; Thanksgiving week: Friday.
        (FundingSource.FRED, "RESERVES", date(2025, 10, 29), datetime(2025, 10, 30, 20, 30)),
        (FundingSource.FRED, "TGA", date(2025, 11, 26), datetime(2025, 11, 28, 21, 30)),
    ],
)
def test_publication_time_estimates(
    source: FundingSource, series: str, obs: date, published_utc: datetime
) -> None:
    assert utc(publication_ms(source, series, obs)) == published_utc.replace(tzinfo=UTC)


def test_next_poll_skips_weekends_and_holidays() -> None:
    friday_evening = datetime(2025, 11, 7, 23, 0, tzinfo=UTC)  # 18:00 New York
    nxt = next_poll(FundingSource.NYFED, friday_evening)
    assert (nxt.date(), nxt.hour, nxt.minute) == (date(2025, 11, 10), 8, 10)
    monday_evening = datetime(2025, 11, 10, 23, 0, tzinfo=UTC)
    assert next_poll(FundingSource.TREASURY, monday_evening).date() == date(2025, 11, 12)


# -- revisions ----------------------------------------------------------------------------------
def obs(
    value: float, source: FundingSource = FundingSource.FRED, series: str = "SOFR"
) -> Observation:
    return Observation(series, "2025-11-04", value, Unit.PCT, source, 0)


def test_decide() -> None:
    fred, nyfed = FundingSource.FRED, FundingSource.NYFED
    assert decide(None, obs(4.0)) == (Action.NEW, 0)
    assert decide(Sent(4.0, 0, "fred"), obs(4.0)) == (Action.UNCHANGED, 0)
    assert decide(Sent(4.0, 0, "fred"), obs(4.0000001)) == (Action.UNCHANGED, 0)
    assert decide(Sent(4.0, 0, "fred"), obs(4.01)) == (Action.REVISION, 1)
    assert decide(Sent(4.01, 1, "fred"), obs(4.02)) == (Action.REVISION, 2)
    # NY Fed is preferred for SOFR: FRED never revises it; NY Fed may revise FRED's value.
    assert decide(Sent(4.0, 0, "nyfed"), obs(4.01, fred)) == (Action.SUPERSEDED, 0)
    assert decide(Sent(4.0, 0, "fred"), obs(4.01, nyfed)) == (Action.REVISION, 1)
    assert decide(Sent(4.0, 0, "fred"), obs(4.0, nyfed)) == (Action.UNCHANGED, 0)


def test_state_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "producers" / "funding_state.json"
    state = FundingState(path)
    state.put(obs(4.0), 0)
    state.save()
    again = FundingState(path)
    assert again.get("SOFR", "2025-11-04") == Sent(4.0, 0, "fred")
    assert again.get("SOFR", "2025-11-05") is None


class FakeHttp:
    """Serves FRED CSVs by id (a stand-in for the network; the parsers are the real ones)."""

    def __init__(self, csvs: dict[str, str]) -> None:
        self.csvs = csvs

    async def get(self, url: str, params: dict[str, str] | None = None) -> str:
        fred_id = (params or {}).get("id", "")
        return self.csvs.get(fred_id, f"observation_date,{fred_id}\n")

    async def close(self) -> None:
        return None


async def test_producer_is_idempotent_and_sends_revisions(tmp_path: Path) -> None:
    import io

    from producers.funding.series import FRED_IDS

    out = io.StringIO()
    csvs = {"SOFR": "observation_date,SOFR\n2025-11-03,4.13\n2025-11-04,4.00\n"}
    state = tmp_path / "funding_state.json"
    now_ms = int(datetime(2025, 11, 5, 15, 0, tzinfo=UTC).timestamp() * 1000)

    def producer() -> FundingProducer:
        return FundingProducer(
            sink=DryRunSink(out, io.StringIO()),
            topic="funding.daily",
            ps=ProducerSettings(endpoints={Endpoint.FRED: "http://fred.invalid"}),
            metrics=create_metrics(CollectorRegistry()),
            state_path=state,
            clock_ms=lambda: now_ms,
            http=FakeHttp(csvs),  # type: ignore[arg-type]
        )

    assert set(FRED_IDS) >= {"SOFR"}
    assert await producer().run_once([FundingSource.FRED]) == 2
    assert await producer().run_once([FundingSource.FRED]) == 0  # nothing new
    csvs["SOFR"] = "observation_date,SOFR\n2025-11-03,4.13\n2025-11-04,4.01\n2025-11-05,3.95\n"
    assert await producer().run_once([FundingSource.FRED]) == 2
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    last = {(r["observation_date"], r["revision"]): r for r in lines}
    assert last[("2025-11-04", 1)]["value"] == 4.01  # the revision
    assert ("2025-11-05", 0) in last
    assert all(r["ts_ms"] == now_ms for r in lines)  # live: published by the fetch time


async def test_backfill_uses_estimated_publication_times(tmp_path: Path) -> None:
    import io

    out = io.StringIO()
    now_ms = int(datetime(2026, 1, 5, tzinfo=UTC).timestamp() * 1000)
    p = FundingProducer(
        sink=DryRunSink(out, io.StringIO()),
        topic="funding.daily",
        ps=ProducerSettings(endpoints={Endpoint.FRED: "http://fred.invalid"}),
        metrics=create_metrics(CollectorRegistry()),
        state_path=None,
        clock_ms=lambda: now_ms,
        http=FakeHttp({"SOFR": "observation_date,SOFR\n2025-10-31,4.22\n2025-11-04,4.00\n"}),  # type: ignore[arg-type]
    )
    assert await p.backfill(date(2025, 11, 1)) == 1  # the since filter applies
    [rec] = [json.loads(x) for x in out.getvalue().splitlines()]
    assert rec["observation_date"] == "2025-11-04"
    assert utc(rec["ts_ms"]) == datetime(2025, 11, 5, 14, 30, tzinfo=UTC)  # FRED: 09:30 ET


def test_the_producers_series_are_the_contracts_funding_series_in_their_units() -> None:
    from producers.funding.series import UNITS
    from streams.records.fields import AMOUNT_SERIES, FUNDING_SERIES, RATE_SERIES

    assert set(UNITS) == set(FUNDING_SERIES)
    assert {s for s, u in UNITS.items() if u is Unit.PCT} == set(RATE_SERIES)
    assert {s for s, u in UNITS.items() if u is Unit.USD_BN} == set(AMOUNT_SERIES)
