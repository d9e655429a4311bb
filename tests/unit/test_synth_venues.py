"""The synthesized data claims only what the live feeds read: the calendar's and the bundled
scenarios' liquidation files hold the subscribed venues alone, and those are the producers'
venue table (issue #23: one basis for calibration and live)."""

from __future__ import annotations

import gzip
import json
import sys

from common.settings import PROJECT_ROOT
from producers.liquidations.venues import Venue

sys.path.insert(0, str(PROJECT_ROOT / "scripts"))

from synth.venues import ERAS, OBSERVED

DATA = PROJECT_ROOT / "data"


def test_the_observed_venues_are_the_producers_venue_table() -> None:
    assert set(OBSERVED) == {v.value for v in Venue}


def test_every_era_table_sums_to_the_whole_market() -> None:
    for era in ERAS:
        assert abs(sum(share for _, share in era.shares) - 1.0) < 1e-9, era.name


def test_no_scenario_file_carries_a_venue_the_feeds_do_not_read() -> None:
    files = sorted(DATA.glob("*/*/liquidations.jsonl.gz"))
    assert len(files) >= 30
    read = {v.value for v in Venue}
    for path in files:
        with gzip.open(path, "rt") as f:
            venues = {json.loads(line)["exchange"] for line in f}
        assert venues <= read, (path.parent.name, venues - read)


def test_days_json_splits_every_day_into_observed_and_unobserved_venues() -> None:
    days = json.loads((DATA / "calendar" / "days.json").read_text())["days"]
    assert len(days) >= 26
    read = {v.value for v in Venue}
    for day in days:
        split = day["liquidations"]["venue_split"]
        observed, unobserved = split["observed_usd"], split["unobserved_usd"]
        assert set(observed) <= read and not set(unobserved) & read, day["name"]
        total = sum(observed.values()) + sum(unobserved.values())
        assert abs(total - split["market_wide_usd"]) <= 0.01 * split["market_wide_usd"]
        assert abs(split["observed_share"] - sum(observed.values()) / total) < 0.01, day["name"]
