"""``otel-tokens demo``: the whole product on this machine, no API key.

Starts the loopback fake LLM server, instruments the real SDK clients with ``init()``
(serving ``/metrics``), runs the simulated organisation for a while, and ends with the
outcome leaderboard computed from the ``/metrics`` it served.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.live import Live

from .. import leaderboard, runtime
from .fake_llm import FakeLLMServer
from .organisation import pick
from .workload import Workload


@dataclass
class Progress:
    calls: int = 0
    failures: int = 0


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help="run a simulated organisation against fake LLM servers")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds to run (default 20)")
    parser.add_argument("--rate", type=float, default=20.0, help="LLM calls per second (default 20)")
    parser.add_argument("--port", type=int, default=9464, help="port of /metrics (default 9464; 0 picks one)")
    parser.add_argument("--host", default="127.0.0.1", help="address of /metrics (default 127.0.0.1)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--workers", type=int, default=4, help="concurrent simulated people (default 4)")
    parser.add_argument("--by", choices=("team", "task"), default="team", help="final table grouping")
    parser.add_argument("--no-live", action="store_true", help="no live display (for logs and CI)")
    parser.add_argument("--json-out", help="also write the final leaderboard (team and task) as JSON here")
    parser.add_argument(
        "--linger", type=float, default=0.0, help="keep serving /metrics this long at the end"
    )
    parser.add_argument(
        "--prometheus", action="store_true", help="also start a local Prometheus with the rules"
    )
    parser.set_defaults(func=run)


def _validate(args: argparse.Namespace) -> None:
    if args.duration <= 0:
        raise SystemExit("--duration must be positive")
    if args.rate <= 0:
        raise SystemExit("--rate must be positive")
    if args.workers <= 0:
        raise SystemExit("--workers must be positive")


def run(args: argparse.Namespace) -> int:
    try:
        import openai
    except ImportError:
        print("otel-tokens demo drives the real openai SDK: pip install 'otel-tokens[demo]'", file=sys.stderr)
        return 2

    import otel_tokens

    _validate(args)
    console = Console(width=None if sys.stdout.isatty() else 150)
    with FakeLLMServer(latency_s=0.01, chunk_delay_s=0.001) as server:
        handle = otel_tokens.init(
            service_name="otel-tokens-demo", prometheus_port=args.port, prometheus_host=args.host
        )
        if handle.metrics_url is None:
            console.print(f"[red]could not serve /metrics on {args.host}:{args.port}[/red]")
            return 1
        console.print(f"fake LLM server: {server.url}   metrics: {handle.metrics_url}")
        prometheus = _start_prometheus(console, handle.metrics_url) if args.prometheus else None
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="demo", max_retries=0)
        workload = Workload(client, args.seed, _anthropic_client(server))
        progress = Progress()
        _simulate(args, workload, progress, console, handle.metrics_url)
        workload.record_refs()
        rt = runtime.get()
        if rt is not None:
            rt.tracker.flush()  # the simulation is over: every call gets its outcome now
        samples = leaderboard.parse_exposition(_scrape(handle.metrics_url))
        for by in (args.by,):
            console.print(leaderboard.render(leaderboard.build(samples, by), by))
        console.print(f"{progress.calls} calls, {progress.failures} failed; metrics at {handle.metrics_url}")
        if args.json_out:
            tables = {by: [r.as_dict() for r in leaderboard.build(samples, by)] for by in ("team", "task")}
            with open(args.json_out, "w", encoding="utf-8") as out:
                json.dump(tables, out, indent=2, sort_keys=True)
        if args.linger > 0:
            time.sleep(args.linger)
        if prometheus is not None:
            prometheus.stop()
        handle.shutdown()
    return 0


def _simulate(
    args: argparse.Namespace, workload: Workload, progress: Progress, console: Console, metrics_url: str
) -> None:
    deadline = time.monotonic() + args.duration
    interval = args.workers / args.rate
    lock = threading.Lock()

    def worker(index: int) -> None:
        rng = random.Random(args.seed * 1000 + index)
        next_at = time.monotonic() + interval * index / args.workers
        while next_at < deadline:
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += interval
            try:
                workload.run_one(pick(rng, workload.anthropic is not None), rng)
                ok = True
            except Exception:  # noqa: BLE001 - a failed simulated call is counted, not fatal
                ok = False
            with lock:
                progress.calls += 1
                progress.failures += 0 if ok else 1

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(args.workers)]
    for thread in threads:
        thread.start()
    if args.no_live:
        for thread in threads:
            thread.join()
        return
    with Live(console=console, refresh_per_second=2) as live:
        while any(t.is_alive() for t in threads):
            samples = leaderboard.parse_exposition(_scrape(metrics_url))
            remaining = max(0.0, deadline - time.monotonic())
            live.update(
                leaderboard.render(
                    leaderboard.build(samples, args.by),
                    args.by,
                    title=(f"Live: {progress.calls} calls, {remaining:.0f}s left"),
                )
            )
            time.sleep(1.0)


def _anthropic_client(server: FakeLLMServer) -> Any:
    try:
        import anthropic
    except ImportError:
        return None
    return anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="demo", max_retries=0)


def _scrape(metrics_url: str) -> str:
    with urllib.request.urlopen(metrics_url, timeout=5) as response:  # noqa: S310 - our own loopback URL
        return str(response.read().decode("utf-8"))


def _start_prometheus(console: Console, metrics_url: str) -> Any:
    from .prometheus import LocalPrometheus

    try:
        prometheus = LocalPrometheus(metrics_url).start()
    except (OSError, RuntimeError) as exc:
        console.print(f"[yellow]--prometheus: {exc}[/yellow]")
        return None
    console.print(f"Prometheus: {prometheus.url} (rules loaded)")
    return prometheus
