"""Overhead of otel-tokens per LLM call, side by side with no instrumentation and the floor.

The floor is a hand-written OTel span with the same attributes plus the same counter and
histogram records, no otel-tokens. Real ``openai`` SDK clients talk to an in-process
transport (``httpx2.MockTransport``, no sockets), non-streamed and streamed (100 chunks),
sync and async. Prints median and p99 microseconds per call, overhead over uninstrumented,
the ratio to the floor's overhead, per-chunk stream overhead, and import + init time.

    python benchmarks/bench_overhead.py            # full run
    python benchmarks/bench_overhead.py --quick    # CI: checks the harness, not the timings
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx2
import openai
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

import otel_tokens

CHUNKS = 100
MESSAGES = [{"role": "user", "content": "Say hello"}]


def _completion() -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "Hello there, friend."},
                }
            ],
            "usage": {
                "prompt_tokens": 12,
                "completion_tokens": 5,
                "total_tokens": 17,
                "prompt_tokens_details": {"cached_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0},
            },
        }
    ).encode()


def _stream(include_usage: bool) -> bytes:
    lines = []
    for i in range(CHUNKS):
        chunk = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [
                {"index": 0, "delta": {"content": "w "}, "finish_reason": "stop" if i == CHUNKS - 1 else None}
            ],
        }
        if include_usage:
            chunk["usage"] = None
        lines.append(b"data: " + json.dumps(chunk).encode() + b"\n\n")
    if include_usage:
        usage = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [],
            "usage": {"prompt_tokens": 12, "completion_tokens": CHUNKS, "total_tokens": 12 + CHUNKS},
        }
        lines.append(b"data: " + json.dumps(usage).encode() + b"\n\n")
    lines.append(b"data: [DONE]\n\n")
    return b"".join(lines)


BODY = _completion()
STREAM_PLAIN = _stream(False)
STREAM_USAGE = _stream(True)


def _handler(request: httpx2.Request) -> httpx2.Response:
    body = json.loads(request.content)
    if body.get("stream"):
        payload = STREAM_USAGE if (body.get("stream_options") or {}).get("include_usage") else STREAM_PLAIN
        return httpx2.Response(200, content=payload, headers={"content-type": "text/event-stream"})
    return httpx2.Response(200, content=BODY, headers={"content-type": "application/json"})


async def _async_handler(request: httpx2.Request) -> httpx2.Response:
    return _handler(request)


def _clients() -> tuple[openai.OpenAI, openai.AsyncOpenAI]:
    sync = openai.OpenAI(
        base_url="http://bench.invalid/v1",
        api_key="x",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(_handler)),
    )
    aio = openai.AsyncOpenAI(
        base_url="http://bench.invalid/v1",
        api_key="x",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(_async_handler)),
    )
    return sync, aio


class Floor:
    """What a minimal hand-written instrumentation does per call."""

    def __init__(self, tracer_provider: TracerProvider, meter_provider: MeterProvider) -> None:
        self.tracer = tracer_provider.get_tracer("floor")
        meter = meter_provider.get_meter("floor")
        self.tokens = meter.create_counter("floor.tokens")
        self.cost = meter.create_counter("floor.cost")
        self.calls = meter.create_counter("floor.calls")
        self.duration = meter.create_histogram("floor.duration", unit="s")
        self.usage = meter.create_histogram("floor.token.usage")

    def call(self, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        attrs = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "otel_tokens.task": "unlabeled",
        }
        with self.tracer.start_as_current_span(
            "chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=attrs
        ) as span:
            result = fn()
            usage = result.usage
            span.set_attribute("gen_ai.response.id", result.id)
            span.set_attribute("gen_ai.response.model", result.model)
            span.set_attribute("gen_ai.usage.input_tokens", usage.prompt_tokens)
            span.set_attribute("gen_ai.usage.output_tokens", usage.completion_tokens)
            labels = {
                "provider": "openai",
                "model": result.model,
                "operation": "chat",
                "task": "unlabeled",
                "team": "",
            }
            self.tokens.add(usage.prompt_tokens, {**labels, "token_type": "input"})
            self.tokens.add(usage.completion_tokens, {**labels, "token_type": "output"})
            self.cost.add(0.0001, labels)
            self.calls.add(1, {**labels, "status": "ok"})
            self.duration.record(time.perf_counter() - start, {"gen_ai.operation.name": "chat"})
            self.usage.record(usage.prompt_tokens, {"gen_ai.token.type": "input"})
            self.usage.record(usage.completion_tokens, {"gen_ai.token.type": "output"})
        return result


def _time(fn: Callable[[], Any], n: int) -> list[float]:
    for _ in range(min(50, n)):
        fn()
    samples = []
    for _ in range(n):
        start = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - start) / 1000)
    return samples


def _atime(fn: Callable[[], Any], n: int) -> list[float]:
    async def run() -> list[float]:
        for _ in range(min(50, n)):
            await fn()
        samples = []
        for _ in range(n):
            start = time.perf_counter_ns()
            await fn()
            samples.append((time.perf_counter_ns() - start) / 1000)
        return samples

    return asyncio.run(run())


def _stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _import_init_ms() -> float:
    code = (
        "import openai, time; t=time.perf_counter(); import otel_tokens; otel_tokens.instrument(); "
        "print((time.perf_counter()-t)*1000)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OTEL_TOKENS_PROMETHEUS_PORT": "-1"},
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--quick", action="store_true", help="few calls: check the harness (CI)")
    args = parser.parse_args()
    n = 60 if args.quick else args.calls
    sync, aio = _clients()
    tracer_provider = TracerProvider()
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    floor = Floor(tracer_provider, meter_provider)

    def chat() -> Any:
        return sync.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    def stream() -> Any:
        for _ in sync.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True):
            pass

    def stream_usage() -> Any:
        # What otel-tokens asks for; the SDK's own parsing of the usage field is not our overhead.
        for _ in sync.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        ):
            pass

    async def achat() -> Any:
        return await aio.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    async def astream() -> Any:
        async for _ in await aio.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True):
            pass

    results: dict[str, dict[str, list[float]]] = {}
    results["uninstrumented"] = {
        "sync": _time(chat, n),
        "stream": _time(stream, n),
        "stream+usage": _time(stream_usage, n),
        "async": _atime(achat, n),
        "async stream": _atime(astream, n),
    }
    results["floor"] = {"sync": _time(lambda: floor.call(chat), n)}
    otel_tokens.instrument(tracer_provider, meter_provider)
    try:
        results["otel-tokens"] = {
            "sync": _time(chat, n),
            "stream": _time(stream, n),
            "stream+usage": _time(stream_usage, n),
            "async": _atime(achat, n),
            "async stream": _atime(astream, n),
        }
    finally:
        otel_tokens.uninstrument()

    base = {k: _stats(v)[0] for k, v in results["uninstrumented"].items()}
    floor_overhead = _stats(results["floor"]["sync"])[0] - base["sync"]
    print(
        f"cores: {os.cpu_count()}  calls per cell: {n}  python {sys.version.split()[0]}  openai {openai.__version__}"
    )
    print(f"{'variant':<16}{'surface':<14}{'median us':>11}{'p99 us':>10}{'overhead us':>13}{'x floor':>9}")
    for variant, cells in results.items():
        for surface, samples in cells.items():
            median, p99 = _stats(samples)
            overhead = median - base[surface]
            ratio = (
                f"{overhead / floor_overhead:.2f}"
                if floor_overhead > 0 and surface in ("sync", "async")
                else "-"
            )
            print(f"{variant:<16}{surface:<14}{median:>11.1f}{p99:>10.1f}{overhead:>13.1f}{ratio:>9}")
    ours = results["otel-tokens"]
    call_overhead = _stats(ours["sync"])[0] - base["sync"]
    per_chunk = ((_stats(ours["stream+usage"])[0] - base["stream+usage"]) - call_overhead) / CHUNKS
    injected = (_stats(ours["stream"])[0] - base["stream"] - call_overhead) / CHUNKS
    print(
        f"per-chunk stream overhead: {per_chunk:.2f} us (same request as uninstrumented, minus call overhead)"
    )
    print(f"per-chunk incl. the SDK parsing the usage field otel-tokens asks for: {injected:.2f} us")
    print(f"import + instrument: {_import_init_ms():.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
