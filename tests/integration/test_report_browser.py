"""The HTML report in a real browser: Debian's ``chromium`` driven by Playwright (launched on
``/usr/bin/chromium`` with ``executable_path``; Playwright's own browser download is never used).

The report of the bundled 2025-11-04 scenario (the offline detector, saved as ``save_run`` writes a
run) opens with no console error, no page error and no request besides the file itself; every
chart the report builds is in the page and decodes to the pixel size it was drawn at; a full-page
screenshot goes to ``reports/browser/report.png``. A broken chart, a script error and a remote
image in a doctored copy are each caught, so these checks can fail.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from common.settings import PROJECT_ROOT, Settings
from shockwatch.runs.report import build_report, load_run
from shockwatch.runs.report.build import build_charts
from tests.fixtures_alerts import require_tool
from tests.unit.test_report import CFG, offline_run

pytestmark = pytest.mark.browser

EVERYTHING_SELLS = PROJECT_ROOT / "data" / "scenarios" / "2025-11-04-everything-sells"
VIEWPORT = {"width": 1200, "height": 900}  # the report is laid out for a 1200 px wide window
LOAD_TIMEOUT_MS = 30_000

# Every <figure> of the page: its image's load state, decoded (natural) and laid-out size.
# ``decode()`` settles once the image is decoded, and rejects for one that cannot be.
CHARTS_JS = """
async () => Promise.all([...document.querySelectorAll('figure')].map(async (f) => {
  const img = f.querySelector('img');
  if (!img) return {id: f.id, img: false};
  let decoded = true;
  try { await img.decode(); } catch (e) { decoded = false; }
  const box = img.getBoundingClientRect();
  return {id: f.id, img: true, decoded, complete: img.complete,
          natural: [img.naturalWidth, img.naturalHeight], shown: [box.width, box.height]};
}))
"""


@dataclass
class PageCheck:
    """What one page load showed: console errors, page errors, requests, and each chart."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    charts: dict[str, dict[str, Any]] = field(default_factory=dict)

    def broken(self) -> list[str]:
        """Ids of the charts that did not load: no image, not decoded, or of zero size."""
        return [
            key
            for key, c in self.charts.items()
            if not (c["img"] and c["decoded"] and c["complete"])
            or min(c["natural"]) <= 0
            or min(c["shown"]) <= 0
        ]


def png_size(png: bytes) -> list[int]:
    """Width and height from a PNG's IHDR chunk (the size matplotlib drew)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return [width, height]


def open_report(browser: Browser, html: Path, screenshot: Path | None = None) -> PageCheck:
    check = PageCheck()
    page: Page = browser.new_page(viewport=VIEWPORT)
    try:
        page.on(
            "console",
            lambda m: check.console_errors.append(m.text) if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: check.page_errors.append(str(e)))
        page.on("request", lambda r: check.requests.append(r.url))
        page.goto(html.as_uri(), wait_until="load", timeout=LOAD_TIMEOUT_MS)
        check.charts = {c["id"]: c for c in page.evaluate(CHARTS_JS)}
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
    finally:
        page.close()
    # The page itself and its data: images are not fetches; anything else would be.
    check.requests = [u for u in check.requests if u != html.as_uri() and not u.startswith("data:")]
    return check


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = require_tool("chromium", debian="chromium")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=chromium, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[int]]]:
    """The bundled scenario's report, and the pixel size of every chart it was built with."""
    run = offline_run(
        EVERYTHING_SELLS, tmp_path_factory.mktemp("browser") / "everything-sells-offline"
    )
    html = build_report(run, detection=CFG).html
    drawn = {c.key: png_size(c.png) for c in build_charts(load_run(run), CFG)}
    return html, drawn


def test_report_opens_with_no_error_and_every_chart_loaded(
    browser: Browser, report: tuple[Path, dict[str, list[int]]]
) -> None:
    html, drawn = report
    shot = Settings().reports_dir / "browser" / "report.png"
    check = open_report(browser, html, screenshot=shot)

    assert check.console_errors == []
    assert check.page_errors == []
    assert check.requests == []
    assert drawn, "the report built no chart"
    assert sorted(check.charts) == sorted(drawn), "a chart is missing from the page"
    assert check.broken() == []
    for key, size in drawn.items():
        assert check.charts[key]["natural"] == size, f"{key} decoded at another size"
    assert png_size(shot.read_bytes())[0] == VIEWPORT["width"]
    assert png_size(shot.read_bytes())[1] > VIEWPORT["height"], "not a full-page screenshot"


def test_the_checks_catch_a_broken_chart_a_script_error_and_a_fetch(
    browser: Browser, report: tuple[Path, dict[str, list[int]]], tmp_path: Path
) -> None:
    html, drawn = report
    text = html.read_text(encoding="utf-8")
    victim = sorted(drawn)[0]
    start = text.index("base64,", text.index(f'<figure id="{victim}"')) + len("base64,")
    doctored = (
        text[:start]
        + text[start : start + 64]  # the PNG header survives, the image data does not
        + text[text.index('"', start) :]
    )
    doctored = doctored.replace(
        "</body>",
        '<img src="http://127.0.0.1:9/remote.png"><script>console.error("seen");missing()</script>'
        "</body>",
    )
    bad = tmp_path / "report.html"
    bad.write_text(doctored, encoding="utf-8")

    check = open_report(browser, bad)

    assert check.broken() == [victim]
    assert any("seen" in m for m in check.console_errors)
    assert any("missing" in e for e in check.page_errors)
    assert check.requests == ["http://127.0.0.1:9/remote.png"]
