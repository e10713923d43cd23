"""Concurrency at scale: threads and asyncio tasks making instrumented calls at once, every call
checked for exactly one span and exactly one outcome, and every metric total against the sum.

Real ``openai`` and ``anthropic`` clients talk HTTP to the loopback fake server; each call runs
inside nested task runs and gets a verdict of its own, its run's, a ref recorded later, or
inference. Prints one table (expected, observed, mismatches, wall time); exits 1 on any
mismatch. ``tests/test_concurrency.py`` runs a small load of the same kind in the test suite.

    python benchmarks/bench_concurrency.py                    # 16 threads x 200, 2000 tasks x 2
    python benchmarks/bench_concurrency.py --quick            # CI: checks the harness, small load
    python benchmarks/bench_concurrency.py --threads 32 --tasks 5000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from collections import Counter

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import otel_tokens
from otel_tokens import names
from otel_tokens.demo import concurrent_load as load
from otel_tokens.demo.fake_llm import FakeLLMServer


async def _load(server: FakeLLMServer, args: argparse.Namespace, refs: list[str]) -> list[load.Plan]:
    sync_clients = load.clients(server, aio=False, connections=args.threads)
    async_clients = load.clients(server, aio=True, connections=64)
    threads = asyncio.get_running_loop().run_in_executor(
        None, load.run_threads, sync_clients, args.threads, args.calls_per_thread, refs
    )
    async_plans = await load.run_tasks(async_clients, args.tasks, args.calls_per_task, refs)
    for client in async_clients.values():
        await client.close()
    return await threads + async_plans


def _total(reader: InMemoryMetricReader, metric: str, **labels: str) -> float:
    data = reader.get_metrics_data()
    found = 0.0
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                if m.name != metric:
                    continue
                for point in m.data.data_points:
                    attrs = dict(point.attributes or {})
                    if all(attrs.get(k) == v for k, v in labels.items()):
                        found += point.value
    return found


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--calls-per-thread", type=int, default=200)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--calls-per-task", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="a small load (CI: checks the harness)")
    args = parser.parse_args()
    if args.quick:
        args.threads, args.calls_per_thread, args.tasks, args.calls_per_task = 4, 6, 60, 1

    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    logs = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider(shutdown_on_exit=False)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    otel_tokens.instrument(tracer_provider, meter_provider, logger_provider)

    refs: list[str] = []
    with FakeLLMServer() as server:
        started = time.perf_counter()
        plans = asyncio.run(_load(server, args, refs))
        for ref in refs:
            otel_tokens.record_outcome(ref, "discarded")
        wall = time.perf_counter() - started
    otel_tokens.uninstrument()
    gc.collect()

    finished = spans.get_finished_spans()
    events = Counter(
        r.log_record.span_id
        for r in logs.get_finished_logs()
        if r.log_record.event_name == names.GEN_AI_EVALUATION_RESULT_EVENT
    )
    span_ids = {s.context.span_id for s in finished if s.context is not None}
    tokens = sum(plan.input_tokens + plan.output_tokens for plan in plans)
    outcomes = Counter(plan.outcome for plan in plans)
    rows: list[tuple[str, float, float]] = [
        ("calls", len(plans), _total(reader, names.CALLS.name, status="ok")),
        ("spans", len(plans), len(span_ids)),
        ("outcome events", len(plans), sum(events.values())),
        ("calls with one outcome", len(plans), sum(1 for s in span_ids if events.get(s) == 1)),
        ("tokens", tokens, _total(reader, names.TOKENS.name)),
        ("outcome tokens", tokens, _total(reader, names.OUTCOME_TOKENS.name)),
        *(
            (f"outcome {o}", outcomes[o], _total(reader, names.OUTCOME_CALLS.name, outcome=o))
            for o in sorted(outcomes)
        ),
        ("pending at end", 0, _total(reader, names.PENDING_CALLS.name)),
        ("internal errors", 0, _total(reader, names.INTERNAL_ERRORS.name)),
    ]
    mismatches = sum(1 for _, expected, observed in rows if expected != observed)
    print(f"{'':<24} {'expected':>10} {'observed':>10}")
    for label, expected, observed in rows:
        flag = "" if expected == observed else "  MISMATCH"
        print(f"{label:<24} {expected:>10,.0f} {observed:>10,.0f}{flag}")
    print(f"{'mismatches':<24} {mismatches:>10}")
    print(f"{'wall time s':<24} {wall:>10.2f}")
    print(f"{'calls per second':<24} {len(plans) / wall:>10,.0f}")
    print(
        f"load: {args.threads} threads x {args.calls_per_thread} calls, {args.tasks} asyncio tasks x {args.calls_per_task} calls"
    )
    return 1 if mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
