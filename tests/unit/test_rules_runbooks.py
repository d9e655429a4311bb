"""The rule file's runbook links come from the one runbook setting and land on a section."""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

import pytest

from common.settings import PROJECT_ROOT, load_settings
from shockwatch.local.ops import RULES, RUNBOOK_PLACEHOLDER, render_rules

RUNBOOKS = PROJECT_ROOT / "docs" / "runbooks.md"


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    return {
        re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-")
        for h in re.findall(r"^#{1,6} (.+)$", markdown, flags=re.M)
    }


def runbook_urls(text: str) -> list[str]:
    return re.findall(r"^\s*runbook_url: (\S+)$", text, flags=re.M)


def test_every_rule_links_a_runbook_section_that_exists_with_the_default_setting() -> None:
    settings = load_settings()
    urls = runbook_urls(render_rules(settings.runbook_base_url))
    alerts = re.findall(r"^\s*- alert: (\w+)$", RULES.read_text(), flags=re.M)
    assert len(urls) == len(alerts) >= 8
    for url, alert in zip(urls, alerts, strict=True):
        parsed = urllib.parse.urlparse(url)
        assert parsed.scheme == "file"
        path = Path(urllib.parse.unquote(parsed.path))
        assert path == RUNBOOKS and path.is_file(), url
        assert parsed.fragment == alert.lower(), f"{alert} links #{parsed.fragment}"
        assert parsed.fragment in anchors(path.read_text()), f"no section for {url}"


def test_a_deployment_base_replaces_every_link_and_nothing_else() -> None:
    base = "https://git.example/ops/shockwatch/blob/main/docs/"
    text = render_rules(base)
    urls = runbook_urls(text)
    assert urls and all(u.startswith(base + "runbooks.md#") for u in urls)
    assert RUNBOOK_PLACEHOLDER + "/" not in text
    # only the links changed
    original = RULES.read_text().splitlines()
    changed = [a for a, b in zip(original, text.splitlines(), strict=True) if a != b]
    assert len(changed) == len(urls)


@pytest.mark.parametrize("base", ["", "   ", "https://bad host/docs"])
def test_a_base_that_is_not_a_url_is_refused(base: str) -> None:
    with pytest.raises(ValueError, match="RUNBOOK_BASE_URL"):
        render_rules(base)


def test_a_link_left_outside_the_setting_is_refused() -> None:
    text = RULES.read_text().replace(
        f"{RUNBOOK_PLACEHOLDER}/runbooks.md#feedstale", "https://elsewhere/runbooks.md#feedstale"
    )
    with pytest.raises(ValueError, match="do not all use"):
        render_rules("https://docs.example", text)


def test_the_rules_command_writes_the_rendered_file(tmp_path: Path) -> None:
    """What the compose `rules` service runs: the file Prometheus loads, every link rendered."""
    from shockwatch.local.ops import main

    out = tmp_path / "rendered" / "shockwatch.rules.yml"
    assert main(["rules", "--out", str(out)]) == 0
    text = out.read_text()
    links = re.findall(r"^\s*runbook_url: (\S+)", text, flags=re.M)
    assert links and not any(RUNBOOK_PLACEHOLDER in link for link in links)
    assert main(["rules", "--bogus"]) == 2
