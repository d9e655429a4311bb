# shockwatch: the front door. Every target sets up what it needs (venv, jars, tools, broker).
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
SW := $(BIN)/shockwatch
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
SCENARIO ?= data/scenarios/2025-11-04-everything-sells

.PHONY: help setup venv tools jars kafka-up kafka-down kafka-status topics demo demo-ops run test \
        test-unit test-faults test-topology lint fmt bench bench-long backtest replay report \
        scenarios clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP) ## create the virtualenv and install shockwatch with its dev tools

# command:Debian package; `tools` installs the packages of the commands missing, in one apt-get.
# chromium: the report's browser test (Playwright drives it; its own browser download is not used).
TOOLS := prometheus:prometheus promtool:prometheus amtool:prometheus-alertmanager chromium:chromium

tools: ## install Debian's prometheus/promtool/amtool and chromium when missing
	@missing=$$(for t in $(TOOLS); do command -v $${t%%:*} >/dev/null || echo $${t#*:}; done | sort -u | xargs); \
	if [ -n "$$missing" ]; then \
	  echo "installing $$missing (Debian packages)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@# Debian starts the services on install; shockwatch runs its own on free ports.
	@-systemctl stop prometheus prometheus-alertmanager prometheus-node-exporter >/dev/null 2>&1 || true
	@-pkill -x prometheus-node-exporter >/dev/null 2>&1 || true

setup: venv tools ## everything a fresh machine needs (venv, pip, Prometheus tools, chromium, Kafka jars)
	$(BIN)/python -c "from shockwatch.local.broker import LocalBroker; from common.settings import Settings; LocalBroker(Settings()).fetch_jars()"

jars: venv ## fetch Apache Kafka from Maven Central into .state/kafka/lib
	$(BIN)/python -c "from shockwatch.local.broker import LocalBroker; from common.settings import Settings; LocalBroker(Settings()).fetch_jars()"

kafka-up: venv ## start the local Kafka broker (idempotent)
	$(SW) kafka up

kafka-down: venv ## stop the local Kafka broker (data is kept)
	$(SW) kafka down

kafka-status: venv ## is the local broker up?
	$(SW) kafka status

topics: kafka-up ## create the topics of the contract
	$(SW) topics create

demo: setup ## the whole job on the bundled 2025-11-04 scenario, ending with the alert and a report
	$(BIN)/python -m shockwatch.lab.demo $(DEMO_ARGS)

demo-ops: setup ## the ops alert path live: worker -> Prometheus -> Alertmanager -> Slack stand-in (~3 min)
	$(BIN)/python -m shockwatch.lab.demo_ops

run: venv kafka-up ## live: all producers + worker + notifier against the configured broker
	$(BIN)/python -m shockwatch.local.live

test: setup ## lint + unit + integration + end-to-end tests (starts its own broker)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -m "not faults" tests
	$(BIN)/python -m pytest -q -m faults tests || [ $$? -eq 5 ]

test-unit: venv ## the fast unit tests only
	$(BIN)/python -m pytest -q tests/unit

test-topology: setup ## the deployed topology live (also part of `make test`)
	$(BIN)/python -m pytest -q -m topology tests

test-faults: setup ## kill -9, broker restart, Slack outage, socket drops
	$(BIN)/python -m pytest -q -m faults tests || [ $$? -eq 5 ]

lint: venv ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: venv ## format the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup ## throughput, latency, replay speed, RSS (starts its own broker); BENCH_ARGS=--quick|--long
	$(BIN)/python -m shockwatch.lab.bench $(BENCH_ARGS)

bench-long: setup ## make bench plus a synthetic month replayed in place (BENCH_ARGS=--long)
	$(BIN)/python -m shockwatch.lab.bench --long $(BENCH_ARGS)

backtest: venv ## every calendar day and bundled scenario: expected vs fired (exit 1 on a mismatch)
	$(SW) backtest

replay: venv ## replay a time range: make replay FROM=... TO=... [SPEED=max]
	$(SW) replay --from "$(FROM)" --to "$(TO)" --speed "$(or $(SPEED),max)" --report

report: venv ## post-mortem report of a replay run: make report RUN=<run-id>
	$(SW) report --run-id "$(RUN)"

scenarios: venv ## regenerate the synthesized bundled scenarios and the calendar (deterministic)
	$(BIN)/python scripts/synthesize_scenarios.py --out data/scenarios
	$(BIN)/python scripts/synthesize_calendar.py --out data/calendar

clean: ## stop the broker and remove local state (topics, offsets, reports)
	-$(SW) kafka down
	rm -rf .state reports
