"""Replay recorded provider responses through the real clients: a local websocket + HTTP server.

``FixtureServer(dir)`` listens on 127.0.0.1 (free ports) and plays the venues and data
providers from files in their own formats, so the lab and the tests run the same client
code as live (ccxt.pro, aiohttp, the parsers), only pointed at ``endpoints()``.

Layout of ``dir`` (see tests/fixtures/providers/README.md)::

    binanceusdm/markets.json  forceOrder.jsonl  klines_<ID>.json  time.json
    bybit/markets.json        allLiquidation.jsonl
    okx/markets.json          liquidation-orders.jsonl  replay.jsonl (sent again on each connection)
    yahoo/<ticker>.json       (chart API documents)
    fred/<ID>.csv   nyfed/sofr.json  nyfed/repo_results.json  treasury/operating_cash_balance.json

Websocket behaviour per venue: answer the subscribe like the venue does, send the frames of the
connection's ``ConnPlan`` (all of them by default), then stay idle (answering pings) or close.
Tests script drops and silences with plans, and HTTP failures with ``fail_next``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from common.settings import Settings
from producers.config import Endpoint, ProducerSettings
from producers.liquidations.producer import RunLimits
from producers.metrics import ProducerMetrics, default_metrics
from producers.run import Endpoints, produce_funding, produce_liquidations, produce_prices

log = logging.getLogger(__name__)

WS_PREFIX = {"binanceusdm": "/binance", "bybit": "/bybit", "okx": "/okx"}
WS_FILES = {
    "binanceusdm": "forceOrder.jsonl",
    "bybit": "allLiquidation.jsonl",
    "okx": "liquidation-orders.jsonl",
}


@dataclass(frozen=True)
class ConnPlan:
    """Frames ``[start:stop]`` of the venue's file on one connection, then ``then``."""

    start: int = 0
    stop: int | None = None
    then: str = "idle"  # "idle": keep the socket open and quiet; "close": drop it


def read_jsonl(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [line for line in path.read_text().splitlines() if line.strip()]


class FixtureServer:
    def __init__(
        self,
        root: Path,
        plans: dict[str, list[ConnPlan]] | None = None,
        frame_delay_s: float = 0.0,
    ) -> None:
        self.root = Path(root)
        self.plans = plans or {}
        self.frame_delay_s = frame_delay_s
        self.connections: dict[str, int] = defaultdict(int)
        self.subscriptions: dict[str, list[Any]] = defaultdict(list)
        self.requests: list[str] = []
        self._failures: list[tuple[str, int, dict[str, str]]] = []
        self._ws_server: Any = None
        self._http_runner: Any = None
        self._sockets: set[Any] = set()
        self.ws_port = 0
        self.http_port = 0

    # -- life cycle --------------------------------------------------------------------------
    async def start(self) -> FixtureServer:
        import websockets
        from aiohttp import web

        ws_log = logging.getLogger("shockwatch.lab.fixtures.ws")
        ws_log.setLevel(logging.WARNING)
        self._ws_server = await websockets.serve(self._ws_handler, "127.0.0.1", 0, logger=ws_log)
        self.ws_port = self._ws_server.sockets[0].getsockname()[1]
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._http_handler)
        self._http_runner = web.AppRunner(app, access_log=None)
        await self._http_runner.setup()
        site = web.TCPSite(self._http_runner, "127.0.0.1", 0)
        await site.start()
        self.http_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        log.info(
            "fixture server: ws :%d, http :%d, from %s", self.ws_port, self.http_port, self.root
        )
        return self

    async def stop(self) -> None:
        if self._ws_server is not None:
            self._ws_server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws_server.wait_closed(), 5)
        if self._http_runner is not None:
            await self._http_runner.cleanup()

    async def __aenter__(self) -> FixtureServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def endpoints(self) -> dict[Endpoint, str]:
        ws = f"ws://127.0.0.1:{self.ws_port}"
        http = f"http://127.0.0.1:{self.http_port}"
        return {
            # ccxt appends the category/stream to these: /market/ws/0, /public, ...
            Endpoint.BINANCE_WS: f"{ws}/binance/ws",
            Endpoint.BYBIT_WS: f"{ws}/bybit/v5/public/linear",
            Endpoint.OKX_WS: f"{ws}/okx/ws/v5",
            Endpoint.BINANCE_REST: http,
            Endpoint.YAHOO: http,
            Endpoint.FRED: http,
            Endpoint.NYFED: http,
            Endpoint.TREASURY: http,
        }

    def fail_next(self, path_prefix: str, status: int, times: int = 1, **headers: str) -> None:
        """The next ``times`` requests under ``path_prefix`` get ``status`` (e.g. 429)."""
        for _ in range(times):
            self._failures.append((path_prefix, status, headers))

    async def drop_all(self) -> None:
        """Close every open websocket now (a venue-side disconnect)."""
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close()

    # -- websockets --------------------------------------------------------------------------
    async def _ws_handler(self, ws: Any) -> None:
        path = ws.request.path
        venue = next((v for v, p in WS_PREFIX.items() if path.startswith(p + "/")), None)
        if venue is None:
            await ws.close(code=1008, reason="unknown path")
            return
        n = self.connections[venue]
        self.connections[venue] += 1
        plans = self.plans.get(venue)
        if plans is None:
            plan = ConnPlan() if n == 0 else ConnPlan(0, 0)
        else:
            plan = plans[n] if n < len(plans) else ConnPlan(0, 0)
        frames = read_jsonl(self.root / venue / WS_FILES[venue])[plan.start : plan.stop]
        replay = read_jsonl(self.root / venue / "replay.jsonl") if venue == "okx" else []
        subscribed = asyncio.Event()
        self._sockets.add(ws)
        reader = asyncio.create_task(self._ws_reader(ws, venue, subscribed))
        try:
            await asyncio.wait_for(subscribed.wait(), timeout=10)
            for frame in [*replay, *frames]:
                await ws.send(frame)
                if self.frame_delay_s:
                    await asyncio.sleep(self.frame_delay_s)
            if plan.then == "close":
                await ws.close()
            else:
                await reader
        except Exception as exc:  # client went away
            log.debug("fixture ws %s ended: %r", venue, exc)
        finally:
            reader.cancel()
            self._sockets.discard(ws)

    async def _ws_reader(self, ws: Any, venue: str, subscribed: asyncio.Event) -> None:
        async for raw in ws:
            if raw == "ping":  # OKX text keep-alive
                await ws.send("pong")
                continue
            try:
                msg = json.loads(raw)
            except ValueError:
                continue
            reply = self._ws_reply(venue, msg)
            if reply is not None:
                await ws.send(json.dumps(reply))
            if _is_subscribe(msg):
                self.subscriptions[venue].append(msg)
                subscribed.set()

    @staticmethod
    def _ws_reply(venue: str, msg: dict[str, Any]) -> dict[str, Any] | None:
        if venue == "binanceusdm" and "id" in msg:
            return {"result": None, "id": msg["id"]}
        if venue == "bybit":
            op = msg.get("op")
            if op == "ping":
                return {"success": True, "ret_msg": "pong", "conn_id": "fixture", "op": "ping"}
            if op == "subscribe":
                return {
                    "success": True,
                    "ret_msg": "",
                    "conn_id": "fixture",
                    "req_id": msg.get("req_id"),
                    "op": "subscribe",
                }
        if venue == "okx" and msg.get("op") == "subscribe":
            args = msg.get("args") or [{}]
            return {"event": "subscribe", "arg": args[0], "connId": "fixture"}
        return None

    # -- HTTP --------------------------------------------------------------------------------
    async def _http_handler(self, request: Any) -> Any:
        from aiohttp import web

        path = request.path
        self.requests.append(request.path_qs)
        for i, (prefix, status, headers) in enumerate(self._failures):
            if path.startswith(prefix):
                del self._failures[i]
                return web.Response(
                    status=status, text=f"fixture failure {status}", headers=headers
                )
        target = self._route(path, request.query)
        if target is None or not target.exists():
            return web.Response(status=404, text=f"no fixture for {request.path_qs}")
        ctype = "text/csv" if target.suffix == ".csv" else "application/json"
        return web.Response(body=target.read_bytes(), content_type=ctype)

    def _route(self, path: str, query: Any) -> Path | None:
        r = self.root
        if path == "/graph/fredgraph.csv":
            series = query.get("id", "")
            return r / "fred" / f"{series}.csv" if series.isalnum() else None
        if path.startswith("/api/rates/secured/sofr/"):
            return r / "nyfed" / "sofr.json"
        if path.startswith("/api/rp/repo/") and "/results/" in path:
            return r / "nyfed" / "repo_results.json"
        if path.startswith("/services/api/fiscal_service/v1/accounting/dts/operating_cash_balance"):
            page = query.get("page[number]", "1")
            paged = r / "treasury" / f"operating_cash_balance.p{page}.json"
            if page.isdigit() and page != "1" and paged.exists():
                return paged
            return r / "treasury" / "operating_cash_balance.json"
        if path.startswith("/v8/finance/chart/"):
            ticker = path.rsplit("/", 1)[-1]
            if "/" in ticker or ticker.startswith("."):
                return None
            return r / "yahoo" / f"{ticker}.json"
        if path == "/fapi/v1/klines":
            symbol = query.get("symbol", "")
            return r / "binanceusdm" / f"klines_{symbol}.json" if symbol.isalnum() else None
        if path == "/fapi/v1/time":
            return r / "binanceusdm" / "time.json"
        return None


def _is_subscribe(msg: dict[str, Any]) -> bool:
    return msg.get("method") == "SUBSCRIBE" or msg.get("op") == "subscribe"


# -- the producers over the fixtures ------------------------------------------------------------
def serve_fixtures(fixtures: Path) -> Endpoints:
    """The producers' ``endpoints`` for a run over ``fixtures``: a fixture server of its own for
    the run's length, every endpoint pointed at it."""

    @contextlib.asynccontextmanager
    async def serve(ps: ProducerSettings) -> AsyncIterator[ProducerSettings]:
        async with FixtureServer(fixtures) as server:
            yield ps.model_copy(update={"endpoints": {**ps.endpoints, **server.endpoints()}})

    return serve


async def publish_fixtures(
    settings: Settings,
    fixtures: Path,
    *,
    ps: ProducerSettings | None = None,
    funding_since: date = date(2025, 10, 1),
    dry_run: bool = False,
    metrics: ProducerMetrics | None = None,
    out: TextIO | None = None,
) -> dict[str, object]:
    """All three producers over the recorded fixtures, as for the end-to-end tests:
    liquidations and prices replayed, funding backfilled (estimated publication times, so the
    detector's as-of join sees each value from the day it was public)."""
    ps = ps or ProducerSettings()
    metrics = metrics or default_metrics()
    liquidations, prices, funding = await asyncio.gather(
        produce_liquidations(
            settings,
            ps,
            dry_run=dry_run,
            fixtures=fixtures,
            endpoints=serve_fixtures(fixtures),
            limits=RunLimits(duration_s=120, idle_exit_s=2.0),
            metrics=metrics,
            out=out,
        ),
        produce_prices(
            settings,
            ps,
            dry_run=dry_run,
            fixtures=fixtures,
            endpoints=serve_fixtures(fixtures),
            metrics=metrics,
            out=out,
        ),
        produce_funding(
            settings,
            ps,
            dry_run=dry_run,
            fixtures=fixtures,
            endpoints=serve_fixtures(fixtures),
            backfill_since=funding_since,
            metrics=metrics,
            out=out,
        ),
    )
    return {"liquidations": liquidations, "prices": prices, "funding": funding}


def main(argv: list[str] | None = None) -> int:
    """``python -m shockwatch.lab.fixtures DIR``: the three producers over recorded responses
    (once ``shockwatch produce all --fixtures DIR``; the fixture server is the lab's, so its
    command is too)."""
    import argparse
    import sys

    from common.cli import settings_from_env
    from common.log import setup_logging
    from producers.config import load_producer_settings
    from streams.topics import create_topics

    parser = argparse.ArgumentParser(prog="python -m shockwatch.lab.fixtures")
    parser.add_argument("fixtures", type=Path, help="e.g. tests/fixtures/providers")
    parser.add_argument("--dry-run", action="store_true", help="print records, send nothing")
    parser.add_argument("--funding-since", default="2025-10-01", help="YYYY-MM-DD")
    args = parser.parse_args(argv)
    setup_logging("INFO")
    settings = settings_from_env()
    if not args.dry_run:
        create_topics(settings)
    stats = asyncio.run(
        publish_fixtures(
            settings,
            args.fixtures,
            ps=load_producer_settings(),
            funding_since=date.fromisoformat(args.funding_since),
            dry_run=args.dry_run,
        )
    )
    sys.stderr.write(f"all: {stats}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
