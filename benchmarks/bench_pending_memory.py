"""Pending outcomes stay bounded: N calls whose responses are dropped, memory and gauge measured.

Two ways to make a call:

- ``core`` (default): the real code path below HTTP. ``runtime.begin()`` opens the span,
  ``runtime.complete()`` ends it, records the metrics and registers the call with the
  outcome tracker, and the result is wrapped in the real read-tracking proxy, then dropped.
  About 90 us per call, most of it the OTel SDK recording a span, three histogram records
  and the outcome event: 1,000,000 calls take about 90 s.
- ``sdk``: the real ``openai`` client over an in-process ``httpx2.MockTransport`` (no socket).
  Roughly 1 ms per call, so keep ``--calls`` small (20,000 is about 30 s).

``--in-run`` makes every call inside one long ``otel_tokens.task()`` run: dropped responses
then wait for the run (or the TTL, or the ``max_pending`` bound) instead of resolving at
release, the worst case for memory. Every other response is read before it is dropped.

Usage::

    python benchmarks/bench_pending_memory.py                     # 1,000,000 calls, core
    python benchmarks/bench_pending_memory.py --calls 20000       # CI short mode
    python benchmarks/bench_pending_memory.py --calls 20000 --mode sdk --in-run --tracemalloc
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

import otel_tokens
from otel_tokens import names, runtime
from otel_tokens.instrumentation._proxies import response_proxy_class
from otel_tokens.instrumentation.openai.mapping import CONTENT_ATTRIBUTES
from otel_tokens.records import Request, Response, Usage

MIB = 1024 * 1024
BODY = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 0,
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
}


def rss_mib() -> float:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize() / MIB
    except OSError:  # not Linux: peak RSS is the best we have
        return peak_rss_mib()


def peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MIB if sys.platform == "darwin" else peak / 1024


def core_caller() -> Callable[[int], Any]:
    """One call through runtime.begin/complete, returned behind the real proxy."""
    from openai.types.chat import ChatCompletion

    rt = runtime.get()
    assert rt is not None
    proxy_cls = response_proxy_class(CONTENT_ATTRIBUTES)
    sdk_object = ChatCompletion.model_validate(BODY)

    def call(i: int) -> Any:
        handle = rt.begin(Request(provider="openai", operation="chat", model="gpt-4o-mini"))
        usage = Usage(input_tokens=100, output_tokens=20)
        pending = rt.complete(handle, Response(response_id=f"chatcmpl-{i}", model="gpt-4o-mini", usage=usage))
        assert pending is not None
        return proxy_cls(sdk_object, pending, rt.tracker)

    return call


def sdk_caller() -> Callable[[int], Any]:
    """One call with the real openai client over an in-process mock transport."""
    import httpx2
    import openai

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json={**BODY, "id": f"chatcmpl-{id(request)}"})

    client = openai.OpenAI(
        api_key="bench",
        base_url="http://bench.invalid/v1",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )
    messages = [{"role": "user", "content": "hello"}]

    def call(i: int) -> Any:
        return client.chat.completions.create(model="gpt-4o-mini", messages=messages)

    return call


def run(calls: int, mode: str, in_run: bool, trace_memory: bool) -> dict[str, Any]:
    reader = InMemoryMetricReader()
    otel_tokens.instrument(TracerProvider(), MeterProvider(metric_readers=[reader]), LoggerProvider())
    rt = runtime.get()
    assert rt is not None

    def gauge() -> float:
        data = reader.get_metrics_data()
        return sum(
            p.value
            for rm in (data.resource_metrics if data else ())
            for sm in rm.scope_metrics
            for m in sm.metrics
            if m.name == names.PENDING_CALLS.name
            for p in m.data.data_points
        )

    call = core_caller() if mode == "core" else sdk_caller()
    for i in range(min(calls, 1000)):  # warm up caches, label sets and the sweeper thread
        call(-i)
    rt.tracker.flush()
    gc.collect()
    if trace_memory:
        tracemalloc.start()
    rss_before = rss_mib()
    traced_before = tracemalloc.get_traced_memory()[0] if trace_memory else 0
    peak_pending = 0
    peak_gauge = 0.0
    sample_every = max(calls // 50, 1)
    run_cm = otel_tokens.task("bench-long-run") if in_run else contextlib.nullcontext()
    started = time.perf_counter()
    with run_cm:
        for i in range(calls):
            reply = call(i)
            if i % 2:
                reply.choices  # noqa: B018 - a read: every other output is looked at
            peak_pending = max(peak_pending, rt.tracker.pending_count())
            del reply  # dropped: outside a run it resolves now, inside it waits
            if i % sample_every == 0:
                peak_gauge = max(peak_gauge, gauge())
        elapsed = time.perf_counter() - started
        rss_end_of_loop = rss_mib()
        pending_end_of_loop = rt.tracker.pending_count()
    gc.collect()
    traced_after, traced_peak = tracemalloc.get_traced_memory() if trace_memory else (0, 0)
    tracemalloc.stop()
    rss_after = rss_mib()
    otel_tokens.uninstrument()
    data = reader.get_metrics_data()
    resolved = sum(
        p.value
        for rm in (data.resource_metrics if data else ())
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == names.OUTCOME_CALLS.name
        for p in m.data.data_points
    )
    return {
        "mode": mode,
        "in_run": in_run,
        "calls": calls,
        "max_pending": rt.settings.max_pending,
        "peak_pending": peak_pending,
        "peak_gauge": peak_gauge,
        "pending_end_of_loop": pending_end_of_loop,
        "final_gauge": gauge(),
        "resolved": resolved - min(calls, 1000),
        "rss_before_mib": round(rss_before, 1),
        "rss_end_of_loop_mib": round(rss_end_of_loop, 1),
        "rss_after_mib": round(rss_after, 1),
        "peak_rss_mib": round(max(peak_rss_mib(), rss_end_of_loop), 1),
        "traced_before_mib": round(traced_before / MIB, 2),
        "traced_after_mib": round(traced_after / MIB, 2),
        "traced_peak_mib": round(traced_peak / MIB, 2),
        "us_per_call": round(elapsed / calls * 1e6, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1_000_000, help="calls to make (default 1,000,000)")
    parser.add_argument("--mode", choices=("core", "sdk"), default="core")
    parser.add_argument("--in-run", action="store_true", help="make every call inside one long task run")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations (slower)")
    parser.add_argument("--max-rss-growth-mib", type=float, default=None, help="fail above this RSS growth")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    result = run(args.calls, args.mode, args.in_run, args.tracemalloc)
    if args.json:
        print(json.dumps(result))
    else:
        width = max(map(len, result))
        for key, value in result.items():
            print(
                f"{key:<{width}}  {value:>14,}"
                if isinstance(value, (int, float))
                else f"{key:<{width}}  {value!s:>14}"
            )
    growth = result["rss_after_mib"] - result["rss_before_mib"]
    failures = []
    if result["resolved"] != args.calls:
        failures.append(f"{result['resolved']} outcomes for {args.calls} calls")
    if result["peak_pending"] > result["max_pending"]:
        failures.append(f"peak pending {result['peak_pending']} over max_pending")
    if result["final_gauge"] != 0:
        failures.append(f"pending gauge ends at {result['final_gauge']}")
    if args.max_rss_growth_mib is not None and growth > args.max_rss_growth_mib:
        failures.append(f"RSS grew {growth:.1f} MiB")
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
