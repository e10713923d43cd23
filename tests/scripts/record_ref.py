"""Record outcome refs in a fresh process and print, as JSON, what otel-tokens emitted.

Used by tests/test_refs.py to show refs crossing processes. The process instruments
otel-tokens with in-memory exporters; the key comes from ``OTEL_TOKENS_OUTCOME_KEY`` (and the
ref lifetime from ``OTEL_TOKENS_REF_TTL``), as in any app.

Usage::

    OTEL_TOKENS_OUTCOME_KEY=k python tests/scripts/record_ref.py used REF [REF ...]

Prints one JSON object:

- ``results``: per ref, ``{"ok": true}`` or ``{"ok": false, "error": ..., "reason": ..., "message": ...}``
- ``points``: per metric (outcome calls/tokens/cost, rejected refs), ``[[labels, value], ...]``
- ``events``: the ``gen_ai.evaluation.result`` events: trace id, span id, attributes
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

import otel_tokens
from otel_tokens import names
from otel_tokens.instrumentation import INSTRUMENTORS

METRICS = (names.OUTCOME_CALLS, names.OUTCOME_TOKENS, names.OUTCOME_COST_USD, names.REJECTED_REFS)


def record(outcome: str, ref: str) -> dict[str, Any]:
    try:
        otel_tokens.record_outcome(ref, outcome)
    except otel_tokens.InvalidRef as exc:
        return {"ok": False, "error": type(exc).__name__, "reason": exc.reason, "message": str(exc)}
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__, "reason": None, "message": str(exc)}
    return {"ok": True}


def points(reader: InMemoryMetricReader) -> dict[str, list[list[Any]]]:
    wanted = {spec.name for spec in METRICS}
    found: dict[str, list[list[Any]]] = {name: [] for name in wanted}
    data = reader.get_metrics_data()
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name in wanted:
                    for point in metric.data.data_points:
                        found[metric.name].append([dict(point.attributes or {}), point.value])
    return found


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    outcome, refs = argv[0], argv[1:]
    # This process only records refs and makes no LLM call: no library needs patching (fast start).
    os.environ.setdefault("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", ",".join(INSTRUMENTORS))
    reader = InMemoryMetricReader()
    logs = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    otel_tokens.instrument(TracerProvider(), MeterProvider(metric_readers=[reader]), logger_provider)
    try:
        results = [record(outcome, ref) for ref in refs]
    finally:
        otel_tokens.uninstrument()
    events = [
        {
            "trace_id": r.log_record.trace_id,
            "span_id": r.log_record.span_id,
            "attributes": dict(r.log_record.attributes or {}),
        }
        for r in logs.get_finished_logs()
        if r.log_record.event_name == names.GEN_AI_EVALUATION_RESULT_EVENT
    ]
    print(json.dumps({"results": results, "points": points(reader), "events": events}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
