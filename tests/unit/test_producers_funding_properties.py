"""Properties of the funding producer's parsers (producers/funding/parse.py): a provider
document or CSV never raises anything but the module's reject path (``Parsed.rejects``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import orjson
from hypothesis import assume, given
from hypothesis import strategies as st

from producers.funding import parse as fparse
from tests.strategies import (
    FIXTURES,
    QUICK,
    check_reject,
    json_paths,
    json_values,
    leaves,
    replace_at,
    venue_values,
)


def check_parsed(parsed: fparse.Parsed) -> None:
    assert isinstance(parsed, fparse.Parsed)
    for obs in parsed.observations:
        assert math.isfinite(obs.value) and obs.value >= 0
        assert len(obs.observation_date) == 10
        assert isinstance(obs.published_ms, int)
    for raw, exc in parsed.rejects:
        assert isinstance(raw, bytes)
        check_reject(exc)
    assert all(n > 0 for n in parsed.skipped.values())


def known_bug_funding_doc(doc: Any) -> bool:
    """parse_nyfed_repo: a non-object ``repo``; any parser: a date in year 9999 (the estimated
    publication day overflows ``date``)."""
    repo = doc.get("repo") if isinstance(doc, dict) else None
    return (bool(repo) and not isinstance(repo, dict)) or any(
        isinstance(v, str) and v.startswith("9999-") for v in leaves(doc)
    )


NYFED_SOFR = orjson.loads((FIXTURES / "nyfed" / "sofr.json").read_bytes())
NYFED_REPO = orjson.loads((FIXTURES / "nyfed" / "repo_results.json").read_bytes())
DTS = orjson.loads((FIXTURES / "treasury" / "operating_cash_balance.json").read_bytes())
FUNDING_DOCS: dict[str, tuple[Any, Callable[[Any], fparse.Parsed]]] = {
    "sofr": (NYFED_SOFR, fparse.parse_nyfed_sofr),
    "repo": (NYFED_REPO, lambda d: fparse.parse_nyfed_repo(d, window=30)),
    "dts": (DTS, fparse.parse_dts),
}
funding_values = st.one_of(
    venue_values,
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(["2025-11-04", "2025-02-30", ".", "NA", "null", "-0.01", "1e308"]),
)


def _small(doc: Any) -> Any:
    """The fixture documents, cut to a few rows so mutations hit the rows often."""
    if isinstance(doc, dict):
        return {
            k: (_small(v) if isinstance(v, dict) else v[:4] if isinstance(v, list) else v)
            for k, v in doc.items()
        }
    return doc


@QUICK
@given(data=st.data(), which=st.sampled_from(sorted(FUNDING_DOCS)))
def test_funding_parsers_only_reject_by_rule(data: st.DataObject, which: str) -> None:
    doc, parse = FUNDING_DOCS[which]
    doc = _small(doc)
    for _ in range(data.draw(st.integers(0, 4))):
        path = data.draw(st.sampled_from(json_paths(doc)))
        delete = bool(path) and data.draw(st.booleans())
        doc = replace_at(doc, path, data.draw(funding_values), delete)
    if data.draw(st.integers(0, 9)) == 0:
        doc = data.draw(json_values)
    doc = orjson.loads(orjson.dumps(doc))  # as fetched: orjson-parsed
    assume(not known_bug_funding_doc(doc))
    check_parsed(parse(doc))


# Provider text as aiohttp's strict decoding gives it: never a lone surrogate (category Cs).
FRED_HEADERS = st.sampled_from(["observation_date,SOFR", "DATE,SOFR", "date,value", "", "x"])
fred_cells = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from([".", "", "4.31", "-1", "nan", "inf", "1e400", "4,3", '"4.1"', "２"]),
    st.text(
        alphabet=st.characters(blacklist_characters="\r\n\x00", blacklist_categories=("Cs",)),
        max_size=12,
    ),
)


@QUICK
@given(
    header=FRED_HEADERS,
    rows=st.lists(st.lists(fred_cells, max_size=3), max_size=8),
    fred_id=st.sampled_from(sorted(fparse.FRED_IDS)),
    crlf=st.booleans(),
)
def test_fred_csv_only_rejects_by_rule(
    header: str, rows: list[list[str]], fred_id: str, crlf: bool
) -> None:
    end = "\r\n" if crlf else "\n"
    text = end.join([header, *(",".join(r) for r in rows)]) + end
    assume(not any(c.startswith("9999-") for r in rows for c in r))
    check_parsed(fparse.parse_fred_csv(text, fred_id))


@QUICK
@given(
    text=st.text(
        alphabet=st.characters(blacklist_characters="\r", blacklist_categories=("Cs",)),
        max_size=200,
    )
)
def test_fred_csv_survives_arbitrary_text(text: str) -> None:
    assume("9999-" not in text)
    check_parsed(fparse.parse_fred_csv("observation_date,SOFR\n" + text, "SOFR"))


# ---------------------------------------------------------------------------------------------
# Bugs these properties found (fixed ones stay as regression tests)


def test_fixed_bug_nyfed_repo_not_an_object() -> None:
    fparse.parse_nyfed_repo({"repo": [1]})


def test_fixed_bug_funding_date_at_the_end_of_time() -> None:
    doc = {"refRates": [{"type": "SOFR", "effectiveDate": "9999-12-31", "percentRate": 4.0}]}
    fparse.parse_nyfed_sofr(doc)


def test_fixed_bug_fred_csv_bare_carriage_return() -> None:
    fparse.parse_fred_csv("observation_date,SOFR\n2025-01-01,4\r1\n", "SOFR")
