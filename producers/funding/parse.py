"""Parsers of the three funding sources' documents into ``Observation``s (pure functions).

Each returns a ``Parsed``: the observations, counted skips (``missing``: a value the provider
marks as not available, e.g. FRED's ``.``), and rejects (malformed provider data, for the DLQ).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson

from producers.funding.series import FRED_IDS, UNITS, FundingSource, publication_ms
from streams.records import InvalidValue, MalformedRecord, MissingField, RecordError, Unit

# The row of the DTS operating cash balance that holds the Treasury's end-of-day cash, by era
# (fiscal data's ``account_type``): "Federal Reserve Account" to 2021-09-30 and "Treasury
# General Account (TGA)" to 2022-04-15, one row a day with the balance in ``close_today_bal``;
# since 2022-04-18 an "Opening Balance" and a "Closing Balance" row, the closing balance in
# ``open_today_bal`` of the latter and ``close_today_bal`` the string "null". Amounts in $mn.
TGA_CLOSING = "Treasury General Account (TGA) Closing Balance"
TGA_ACCOUNTS = (TGA_CLOSING, "Treasury General Account (TGA)", "Federal Reserve Account")
# Rows the TGA parser reads past on purpose (the other lines of Table I), not counted as skips.
DTS_OTHER_ROWS = (
    "Treasury General Account (TGA) Opening Balance",
    "Total TGA Deposits (Table II)",
    "Total TGA Withdrawals (Table II) (-)",
    "Tax and Loan Note Accounts (Table V)",
    "Total Operating Balance",
    "Short-Term Cash Investments (Table V)",
    "Supplementary Financing Program Account",
)
# New York Fed small value exercises: ordinary-looking repo operations run to keep systems
# ready, "limited to one $1 million proposition per eligible security type" per counterparty
# (NY Fed operating policy statements of 2020-02-18 and 2025-10-31): not SRF take-up.
SMALL_VALUE_PER_CPTY_USD = 3_000_000.0  # $1m in each of three security types (tranches)
DATE_COLUMNS = ("observation_date", "DATE")  # FRED's header, current and older


@dataclass(frozen=True, slots=True)
class Observation:
    series: str
    observation_date: str
    value: float
    unit: Unit
    source: FundingSource
    published_ms: int


@dataclass
class Parsed:
    observations: list[Observation] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    rejects: list[tuple[bytes, RecordError]] = field(default_factory=list)

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + n

    def extend(self, other: Parsed) -> None:
        self.observations.extend(other.observations)
        for reason, n in other.skipped.items():
            self.skip(reason, n)
        self.rejects.extend(other.rejects)


def _iso_date(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise MissingField(name, "is required")
    try:
        d = date.fromisoformat(value[:10])
    except ValueError:
        raise InvalidValue(name, f"not a date: {value!r}") from None
    if not 1990 <= d.year <= 2100:
        raise InvalidValue(name, f"date out of range: {value!r}")
    return d.isoformat()


def _value(raw: Any, name: str) -> float | None:
    """A number, ``None`` for "not available" markers, else ``InvalidValue``."""
    if raw is None or (isinstance(raw, str) and raw.strip() in ("", ".", "null", "NA")):
        return None
    try:
        x = float(raw)
    except (TypeError, ValueError, OverflowError):
        raise InvalidValue(name, f"not a number: {raw!r}") from None
    if not math.isfinite(x) or x < 0:
        raise InvalidValue(name, f"must be finite and >= 0, got {raw!r}")
    return x


def _obs(source: FundingSource, series: str, d: str, value: float) -> Observation:
    return Observation(
        series=series,
        observation_date=d,
        value=round(value, 6),
        unit=UNITS[series],
        source=source,
        published_ms=publication_ms(source, series, date.fromisoformat(d)),
    )


def parse_fred_csv(text: str, fred_id: str, since: str | None = None) -> Parsed:
    spec = FRED_IDS[fred_id]
    out = Parsed()
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:  # a bare CR, an oversized field: the whole document is unusable
        out.rejects.append((text[:500].encode(), MalformedRecord("csv", str(exc))))
        return out
    header = rows[0] if rows else None
    if not header or len(header) < 2 or header[0] not in DATE_COLUMNS:
        out.rejects.append(
            (text[:500].encode(), MalformedRecord("header", f"not a FRED CSV: {header!r}"))
        )
        return out
    for row in rows[1:]:
        if not row:
            continue
        raw = ",".join(row).encode()
        try:
            if len(row) < 2:
                raise MalformedRecord("row", f"expected 2 columns, got {len(row)}")
            d = _iso_date(row[0], "observation_date")
            value = _value(row[1], fred_id)
        except RecordError as exc:
            out.rejects.append((raw, exc))
            continue
        if since is not None and d < since:
            continue
        if value is None:
            out.skip("missing")
            continue
        out.observations.append(_obs(FundingSource.FRED, spec.series, d, value * spec.factor))
    return out


def parse_nyfed_sofr(doc: Mapping[str, Any], since: str | None = None) -> Parsed:
    out = Parsed()
    rates = doc.get("refRates") if isinstance(doc, Mapping) else None
    if not isinstance(rates, list):
        out.rejects.append((orjson.dumps(doc)[:2000], MalformedRecord("refRates", "missing")))
        return out
    for item in rates:
        if not isinstance(item, Mapping) or str(item.get("type", "SOFR")).upper() != "SOFR":
            continue
        try:
            d = _iso_date(item.get("effectiveDate"), "effectiveDate")
            value = _value(item.get("percentRate"), "percentRate")
        except RecordError as exc:
            out.rejects.append((orjson.dumps(item), exc))
            continue
        if since is not None and d < since:
            continue
        if value is None:
            out.skip("missing")
            continue
        out.observations.append(_obs(FundingSource.NYFED, "SOFR", d, value))
    return out


def parse_nyfed_repo(
    doc: Mapping[str, Any], window: int | None = None, since: str | None = None
) -> Parsed:
    """SRF take-up per day = the accepted amounts of that day's repo operations, in $bn.

    ``window`` is the N of a ``last/N`` request: when the answer is full, its oldest day may be
    cut in half, so that day is left out (it was, or will be, complete in another answer).
    """
    out = Parsed()
    repo = doc.get("repo") if isinstance(doc, Mapping) else None
    ops = repo.get("operations") if isinstance(repo, Mapping) else None
    if not isinstance(ops, list):
        out.rejects.append(
            (orjson.dumps(doc)[:2000], MalformedRecord("repo.operations", "missing"))
        )
        return out
    totals: dict[str, float] = {}
    for op in ops:
        if not isinstance(op, Mapping):
            continue
        if str(op.get("operationType", "")).lower() != "repo":
            continue
        if str(op.get("auctionStatus", "Results")).lower() != "results":
            out.skip("not_results")
            continue
        if small_value_exercise(op):
            out.skip("small_value_exercise")
            continue
        try:
            d = _iso_date(op.get("operationDate"), "operationDate")
            value = _value(op.get("totalAmtAccepted"), "totalAmtAccepted")
        except RecordError as exc:
            out.rejects.append((orjson.dumps(op), exc))
            continue
        if value is None:
            out.skip("missing")
            continue
        totals[d] = totals.get(d, 0.0) + value
    days = sorted(totals)
    if window is not None and len(ops) >= window and days:
        out.skip("partial_day")
        days = days[1:]
    for d in days:
        if since is None or d >= since:
            out.observations.append(_obs(FundingSource.NYFED, "SRF_TAKEUP", d, totals[d] / 1e9))
    return out


def small_value_exercise(op: Mapping[str, Any]) -> bool:
    """A NY Fed small value exercise: its note says so, or its accepted amount is within the
    exercise's cap of $1m per security type per accepted counterparty."""
    note = str(op.get("note") or "").lower()
    if "small value" in note or "small-value" in note:
        return True
    try:
        accepted = float(op.get("totalAmtAccepted") or 0.0)
        cpty = int(op.get("acceptedCpty") or 0)
    except (TypeError, ValueError):
        return False
    return 0 < accepted <= cpty * SMALL_VALUE_PER_CPTY_USD


def dts_pages(doc: Mapping[str, Any]) -> int | None:
    """``meta.total-pages`` of a fiscal data answer (None when absent)."""
    meta = doc.get("meta") if isinstance(doc, Mapping) else None
    pages = meta.get("total-pages") if isinstance(meta, Mapping) else None
    return pages if isinstance(pages, int) and pages >= 1 else None


def parse_dts(doc: Mapping[str, Any], since: str | None = None) -> Parsed:
    """TGA closing balance per record date ($mn -> $bn), from the account row of each era
    (``TGA_ACCOUNTS``): the value of ``close_today_bal``, or of ``open_today_bal`` where the
    former is "null" (since 2022-04-18). Rows of other accounts are skipped and counted unless
    they are the known other lines of Table I."""
    out = Parsed()
    rows = doc.get("data") if isinstance(doc, Mapping) else None
    if not isinstance(rows, list):
        out.rejects.append((orjson.dumps(doc)[:2000], MalformedRecord("data", "missing")))
        return out
    seen: set[str] = set()
    for row in rows:
        if not isinstance(row, Mapping):
            out.rejects.append((orjson.dumps(row), MalformedRecord("data", "row is not an object")))
            continue
        account = row.get("account_type")
        if account not in TGA_ACCOUNTS:
            if account not in DTS_OTHER_ROWS:
                out.skip("other_account")
            continue
        try:
            d = _iso_date(row.get("record_date"), "record_date")
            value = _value(row.get("close_today_bal"), "close_today_bal")
            if value is None:
                value = _value(row.get("open_today_bal"), "open_today_bal")
        except RecordError as exc:
            out.rejects.append((orjson.dumps(row), exc))
            continue
        if since is not None and d < since:
            continue
        if value is None:
            out.skip("missing")
            continue
        if d in seen:
            out.skip("duplicate_row")
            continue
        seen.add(d)
        out.observations.append(_obs(FundingSource.TREASURY, "TGA", d, value / 1000.0))
    return out
