"""Overhead of otel-tokens per LLM call, side by side with no instrumentation, the floor and peers.

The floor is a hand-written OTel span with the same attributes otel-tokens sets plus the same
counter and histogram records (call, duration, tokens by type, cost, token usage, and the
outcome counters), and nothing else: no request parsing, no outcome tracking, no event.
Real ``openai`` and ``anthropic`` SDK clients talk to an in-process transport (``MockTransport``,
no sockets), non-streamed and streamed (100 chunks), sync and async. Variants run interleaved
in rounds so a noisy machine shifts them alike. Peers (the official OpenTelemetry OpenAI
instrumentation, OpenLLMetry's) run in their own environments (``.venv-envs/peers-*``, built
by ``bash scripts/test-env peers-openai-v2`` / ``peers-openllmetry``) when those exist, each
against its own uninstrumented baseline in the same process.

Reports median and p99 microseconds per call, overhead over uninstrumented, the ratio to the
floor's overhead, per-chunk stream overhead and import + init time. Memory over 1,000,000
calls is ``bench_pending_memory.py``'s job.

    python benchmarks/bench_overhead.py            # full run (~3 minutes on 2 cores)
    python benchmarks/bench_overhead.py --quick    # CI: checks the harness, not the timings
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import openai
from chunk_overhead import per_chunk_us
from floor import Floor
from mock_llm import CHUNKS, MESSAGES, anthropic_clients, openai_clients
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

# The anthropic SDK (2.x) traces itself whenever a valid span is current, as otel-tokens' call
# span is during the call and a floor's unattached span is not: ~85 us per call on this machine,
# all of it the SDK's. Off for every variant (set ANTHROPIC_OPEN_TELEMETRY=true to include it).
os.environ.setdefault("ANTHROPIC_OPEN_TELEMETRY", "false")
ROOT = Path(__file__).resolve().parent.parent
PEERS = {
    "openai-v2": ("peers-openai-v2", "opentelemetry.instrumentation.openai_v2:OpenAIInstrumentor"),
    "openllmetry": ("peers-openllmetry", "opentelemetry.instrumentation.openai:OpenAIInstrumentor"),
}
Call = Callable[[], Any]


def surfaces(only_openai: bool) -> dict[str, tuple[Call, bool]]:
    """Surface name -> (call returning the SDK's result, is_async); "stream" surfaces return streams.

    Every request is distinct, as in an app: identical ones would count as repeats (waste signal)."""
    ids = itertools.count()

    def ask() -> list[dict[str, str]]:
        return [{"role": "user", "content": f"Say hello {next(ids)}"}]

    sync, aio = openai_clients()
    model = "gpt-4o-mini"
    usage = {"stream_options": {"include_usage": True}}
    found: dict[str, tuple[Call, bool]] = {
        "openai sync": (lambda: sync.chat.completions.create(model=model, messages=ask()), False),
        "openai async": (lambda: aio.chat.completions.create(model=model, messages=ask()), True),
        "openai stream": (
            lambda: sync.chat.completions.create(model=model, messages=ask(), stream=True),
            False,
        ),
        "openai stream+usage": (
            lambda: sync.chat.completions.create(model=model, messages=ask(), stream=True, **usage),
            False,
        ),
        "openai async stream": (
            lambda: aio.chat.completions.create(model=model, messages=ask(), stream=True),
            True,
        ),
    }
    if only_openai:
        return found
    a_sync, a_aio = anthropic_clients()
    claude = {"model": "claude-haiku-4-5", "max_tokens": 64}
    found |= {
        "anthropic sync": (lambda: a_sync.messages.create(**claude, messages=ask()), False),
        "anthropic async": (lambda: a_aio.messages.create(**claude, messages=ask()), True),
        "anthropic stream": (lambda: a_sync.messages.create(**claude, messages=ask(), stream=True), False),
        "anthropic async stream": (
            lambda: a_aio.messages.create(**claude, messages=ask(), stream=True),
            True,
        ),
    }
    return found


def _providers() -> tuple[TracerProvider, MeterProvider, LoggerProvider]:
    return TracerProvider(), MeterProvider(metric_readers=[InMemoryMetricReader()]), LoggerProvider()


@contextmanager
def _uninstrumented() -> Iterator[None]:
    yield


@contextmanager
def _otel_tokens() -> Iterator[None]:
    import otel_tokens

    tracer_provider, meter_provider, logger_provider = _providers()
    otel_tokens.instrument(tracer_provider, meter_provider, logger_provider)
    try:
        yield
    finally:
        otel_tokens.uninstrument()


def _peer(path: str) -> Callable[[], Any]:
    module, _, cls = path.partition(":")

    @contextmanager
    def active() -> Iterator[None]:
        instrumentor = getattr(importlib.import_module(module), cls)()
        tracer_provider, meter_provider, logger_provider = _providers()
        instrumentor.instrument(
            tracer_provider=tracer_provider, meter_provider=meter_provider, logger_provider=logger_provider
        )
        try:
            yield
        finally:
            instrumentor.uninstrument()

    return active


def _time_sync(fn: Call, stream: bool, n: int, out: list[float]) -> None:
    for _ in range(n):
        start = time.perf_counter_ns()
        result = fn()
        if stream:
            for _chunk in result:
                pass
        del result  # released inside the timing, as an app would
        out.append((time.perf_counter_ns() - start) / 1000)


def _time_async(fn: Call, stream: bool, n: int, out: list[float]) -> None:
    async def run() -> None:
        for _ in range(n):
            start = time.perf_counter_ns()
            result = await fn()
            if stream:
                async for _chunk in result:
                    pass
            del result
            out.append((time.perf_counter_ns() - start) / 1000)

    asyncio.run(run())


def measure(
    variants: dict[str, Callable[[], Any]], calls: dict[str, tuple[Call, bool]], n: int, rounds: int
) -> dict[str, dict[str, list[float]]]:
    """Interleaved rounds: every variant runs every surface n/rounds times per round."""
    per_round = max(1, n // rounds)
    samples: dict[str, dict[str, list[float]]] = {v: {s: [] for s in calls} for v in variants}
    floor_calls: dict[str, tuple[Call, bool]] = {}
    for round_ in range(rounds + 1):  # round 0 warms up and is dropped
        for variant, activate in variants.items():
            with activate():
                for surface, (fn, is_async) in calls.items():
                    if variant == "floor":
                        if surface not in floor_calls:
                            floor_calls[surface] = (FLOOR.wrap(surface, fn, is_async), is_async)
                        fn = floor_calls[surface][0]
                    out: list[float] = [] if round_ == 0 else samples[variant][surface]
                    timer = _time_async if is_async else _time_sync
                    timer(fn, "stream" in surface, per_round if round_ else min(per_round, 20), out)
    return samples


def _stats(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _import_init_ms(preimport: str, repeat: int) -> float:
    code = (
        f"{preimport}\nimport time; t = time.perf_counter(); import otel_tokens; "
        "otel_tokens.init(prometheus_port=0); print((time.perf_counter() - t) * 1000)"
    )
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": "", "OTEL_TOKENS_MODE": ""}
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
            ).stdout.split()[-1]
        )
        for _ in range(repeat)
    ]
    return statistics.median(runs)


def _summaries(samples: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, tuple[float, float]]]:
    return {v: {s: _stats(values) for s, values in cells.items()} for v, cells in samples.items()}


def _peer_results(name: str, n: int, rounds: int) -> dict[str, dict[str, tuple[float, float]]] | str:
    env_name, _ = PEERS[name]
    python = ROOT / ".venv-envs" / env_name / "bin" / "python"
    if not python.exists():
        return f"not installed (bash scripts/test-env {env_name})"
    result = subprocess.run(
        [str(python), __file__, "--peer", name, "--calls", str(n), "--rounds", str(rounds)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return "failed: " + (result.stderr.strip().splitlines() or ["?"])[-1]
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _print_table(
    results: dict[str, dict[str, tuple[float, float]]], base: dict[str, dict[str, tuple[float, float]]]
) -> None:
    floor = results.get("floor", {})
    print(f"{'variant':<16}{'surface':<24}{'median us':>11}{'p99 us':>10}{'overhead us':>13}{'x floor':>9}")
    for variant, cells in results.items():
        for surface, (median, p99) in cells.items():
            overhead = median - base[variant][surface][0]
            floor_overhead = floor[surface][0] - base["floor"][surface][0] if surface in floor else 0.0
            ratio = f"{overhead / floor_overhead:.2f}" if floor_overhead > 0 else "-"
            print(f"{variant:<16}{surface:<24}{median:>11.1f}{p99:>10.1f}{overhead:>13.1f}{ratio:>9}")


def isolated_per_chunk(rounds: int) -> dict[str, float]:
    """Per-chunk cost of otel-tokens' stream proxy alone (``chunk_overhead``), per SDK."""
    from otel_tokens.instrumentation import anthropic as anthropic_instrumentation
    from otel_tokens.instrumentation import openai as openai_instrumentation

    sync, _ = openai_clients()
    a_sync, _ = anthropic_clients()
    chat = {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True}
    usage = {**chat, "stream_options": {"include_usage": True}}
    claude = {"model": "claude-haiku-4-5", "max_tokens": 64, "messages": MESSAGES, "stream": True}
    cases = {
        "openai": (openai_instrumentation.LIBRARY, "Completions.create", sync.chat.completions, usage),
        "openai, hiding the usage chunk it asked for": (
            openai_instrumentation.LIBRARY,
            "Completions.create",
            sync.chat.completions,
            chat,
        ),
        "anthropic": (anthropic_instrumentation.LIBRARY, "Messages.create", a_sync.messages, claude),
    }
    chunks = {
        "openai": list(sync.chat.completions.create(**usage)),
        "anthropic": list(a_sync.messages.create(**claude)),
    }
    found = {}
    with _otel_tokens():
        for name, (library, qualname, instance, kwargs) in cases.items():
            replayed = chunks[name.split(",")[0]]
            found[name] = per_chunk_us(library, qualname, instance, kwargs, replayed, rounds=rounds)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1500, help="calls per variant and surface")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="few calls: check the harness (CI)")
    parser.add_argument("--peer", choices=sorted(PEERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    n, rounds = (40, 2) if args.quick else (args.calls, args.rounds)

    if args.peer:  # inside a peer's environment: its baseline and the peer, as JSON
        calls = surfaces(only_openai=True)
        found = _summaries(
            measure(
                {"uninstrumented": _uninstrumented, args.peer: _peer(PEERS[args.peer][1])}, calls, n, rounds
            )
        )
        print(json.dumps(found))
        return 0

    calls = surfaces(only_openai=False)
    variants = {"uninstrumented": _uninstrumented, "floor": _uninstrumented, "otel-tokens": _otel_tokens}
    results = _summaries(measure(variants, calls, n, rounds))
    base = dict.fromkeys(results, results["uninstrumented"])
    peers = {name: _peer_results(name, n, rounds) for name in PEERS}
    for name, found in peers.items():
        if isinstance(found, dict):
            results[name] = {s: tuple(v) for s, v in found[name].items()}  # type: ignore[misc]
            base[name] = {s: tuple(v) for s, v in found["uninstrumented"].items()}  # type: ignore[misc]

    print(
        f"cores: {os.cpu_count()}  calls per cell: {n} in {rounds} interleaved rounds  python "
        f"{sys.version.split()[0]}  openai {openai.__version__}  anthropic {version('anthropic')}"
    )
    _print_table(results, base)
    for name, found in peers.items():
        if isinstance(found, str):
            print(f"{name}: {found}")
    ours, plain = results["otel-tokens"], results["uninstrumented"]
    for provider, stream, call in (
        ("openai", "openai stream+usage", "openai sync"),
        ("anthropic", "anthropic stream", "anthropic sync"),
    ):
        per_chunk = ((ours[stream][0] - plain[stream][0]) - (ours[call][0] - plain[call][0])) / CHUNKS
        print(
            f"stream overhead minus non-streamed overhead, per chunk, {provider} (end to end; includes "
            f"what a stream costs once, e.g. the time-to-first-chunk histogram): {per_chunk:.2f} us"
        )
    injected = (
        (ours["openai stream"][0] - plain["openai stream"][0])
        - (ours["openai sync"][0] - plain["openai sync"][0])
    ) / CHUNKS
    print(
        f"  the same, openai, incl. the SDK parsing the usage chunk otel-tokens asks for: {injected:.2f} us"
    )
    for name, value in isolated_per_chunk(rounds=3 if args.quick else 15).items():
        print(
            f"per-chunk overhead, isolated (SDK chunk objects replayed, 1100 vs 100 chunks), {name}: {value:.2f} us"
        )
    repeat = 1 if args.quick else 5
    print(
        f"import + init, SDKs already imported by the app: {_import_init_ms('import openai, anthropic', repeat):.0f} ms"
    )
    print(f"import + init, cold interpreter: {_import_init_ms('', repeat):.0f} ms")
    return 0


FLOOR = Floor()

if __name__ == "__main__":
    raise SystemExit(main())
