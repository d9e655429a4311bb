"""common.fmt: the one USD formatter, with the options its three readers use."""

from __future__ import annotations

import pytest

from common.fmt import fmt_usd


@pytest.mark.parametrize(
    ("x", "default", "headline", "slack", "report"),
    [
        (None, "n/a", "n/a", "n/a", "n/a"),
        (950.0, "$950", "$950", "$950", "$950"),
        (12_345.0, "$12k", "$12,345", "$12k", "$12k"),
        (45_300_000.0, "$45m", "$45m", "$45m", "$45.3m"),
        (354_000_000.0, "$354m", "$354m", "$354m", "$354m"),
        (2_500_000_000.0, "$2.50bn", "$2.50bn", "$2.50bn", "$2.50bn"),
        (3.1e12, "$3100.00bn", "$3100.00bn", "$3.10tn", "$3100.00bn"),
        (-45_300_000.0, "$-45m", "$-45m", "$-45m", "$-45.3m"),
    ],
)
def test_one_formatter_keeps_each_readers_output(
    x: float | None, default: str, headline: str, slack: str, report: str
) -> None:
    assert fmt_usd(x) == default
    assert fmt_usd(x, thousands=False) == headline  # the alert headline (on the wire)
    assert fmt_usd(x, trillions=True) == slack
    assert fmt_usd(x, fine_millions=True) == report
