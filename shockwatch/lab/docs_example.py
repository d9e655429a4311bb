"""Write docs/slack-message-example.json: the Block Kit message of the 2025-11-04 critical alert.

The alert is the one the real detector raises over the bundled scenario
(data/scenarios/2025-11-04-everything-sells); links as a deployment sets them
(SHOCKWATCH_GRAFANA_URL, SHOCKWATCH_RUNBOOK_BASE_URL: example hosts, not this machine's paths).

    .venv/bin/python -m shockwatch.lab.docs_example
"""

from __future__ import annotations

import json
import sys

from alerts.blocks import MessageLinks, build_message
from common.settings import PROJECT_ROOT, Settings
from streams.detection.offline import run_offline
from streams.scenario import read_scenario

SCENARIO = PROJECT_ROOT / "data" / "scenarios" / "2025-11-04-everything-sells"
OUTPUT = PROJECT_ROOT / "docs" / "slack-message-example.json"


EXAMPLE_LINKS = {
    "grafana_url": "https://grafana.example.com",
    "runbook_base_url": "https://docs.example.com/shockwatch",
}


def example() -> dict[str, object]:
    settings = Settings().model_copy(update=EXAMPLE_LINKS)
    outputs, _ = run_offline(read_scenario(SCENARIO), settings.detection)
    for out in outputs:
        for alert in out.alerts:
            if alert.state == "firing" and alert.severity == "critical":
                return build_message(alert, MessageLinks.from_settings(settings))
    raise SystemExit("the 2025-11-04 scenario raised no critical alert")


def main() -> int:
    OUTPUT.write_text(json.dumps(example(), indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {OUTPUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
