"""Serves every metric of ``otel_tokens.names.METRICS`` on http://127.0.0.1:PORT/metrics until killed.

Usage: ``python tests/promql_emitter.py PORT``. It records through the OTel SDK and the
Prometheus exporter, exactly the path the SDK takes, with realistic label sets: a few teams
(one unset), tasks, models, every outcome, token type and status. The dashboards and rules
are queried against it by ``test_prometheus_queries.py``; a process making real instrumented
LLM calls can replace it as long as it keeps this command line.
"""

from __future__ import annotations

import itertools
import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import start_http_server

from otel_tokens import names
from otel_tokens.names import MetricSpec

# (team, task) pairs; team "" is a call outside any team, as the SDK records it.
TASKS = (
    ("support", "email-triage"),
    ("support", "summarize"),
    ("growth", "auto-summarize"),
    ("", "unlabeled"),
)
MODELS = (("openai", "gpt-4o-mini", "api.openai.com"), ("anthropic", "claude-sonnet-4", "api.anthropic.com"))
OPERATION = "chat"
# Every value a label with a closed set of values can take.
CHOICES: dict[str, tuple[str, ...]] = {
    names.LABEL_TOKEN_TYPE: names.TOKEN_TYPES,
    names.LABEL_STATUS: tuple(s.value for s in names.CallStatus),
    names.LABEL_OUTCOME: names.OUTCOMES,
    names.LABEL_STAGE: names.STAGES[:3],
    names.LABEL_LABEL: names.CAPPED_LABELS,
    names.GEN_AI_TOKEN_TYPE: ("input", "output"),
    names.ERROR_TYPE: ("", "timeout"),
}
BUCKETS = {names.TOKEN_USAGE.name: names.TOKEN_BUCKETS}


def _call_values(team: str, task: str, provider: str, model: str, server: str) -> dict[str, str | int]:
    return {
        names.LABEL_TEAM: team,
        names.LABEL_TASK: task,
        names.LABEL_PROVIDER: provider,
        names.LABEL_MODEL: model,
        names.LABEL_OPERATION: OPERATION,
        names.GEN_AI_OPERATION_NAME: OPERATION,
        names.GEN_AI_PROVIDER_NAME: provider,
        names.GEN_AI_REQUEST_MODEL: model,
        names.GEN_AI_RESPONSE_MODEL: model,
        names.SERVER_ADDRESS: server,
        names.SERVER_PORT: 443,
    }


def label_sets(spec: MetricSpec) -> Iterator[dict[str, str | int]]:
    """Every attribute set recorded for ``spec``: each call combination times each closed-set value."""
    calls = [_call_values(*pair, *model) for pair, model in itertools.product(TASKS, MODELS)]
    closed = [label for label in spec.labels if label in CHOICES]
    seen: set[tuple[tuple[str, str | int], ...]] = set()
    for call, values in itertools.product(calls, itertools.product(*(CHOICES[label] for label in closed))):
        attrs = {label: call.get(label, "example") for label in spec.labels if label not in closed}
        attrs.update(dict(zip(closed, values, strict=True)))
        if attrs.get(names.ERROR_TYPE) == "":  # successful calls carry no error.type
            del attrs[names.ERROR_TYPE]
        key = tuple(sorted(attrs.items()))
        if key not in seen:
            seen.add(key)
            yield attrs


def _pending(rng: random.Random) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def observe(options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(rng.randint(0, 40))]

    return observe


def main(port: int) -> None:
    reader = PrometheusMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter(names.INSTRUMENTATION_NAME)
    rng = random.Random(7)
    recorders = []
    for spec in names.METRICS:
        sets = list(label_sets(spec))
        if spec.kind == "counter":
            counter = meter.create_counter(spec.name, spec.unit, spec.description)
            recorders.append((counter.add, sets, "cost" in spec.name))
        elif spec.kind == "histogram":
            buckets = BUCKETS.get(spec.name, names.DURATION_BUCKETS)
            histogram = meter.create_histogram(
                spec.name, spec.unit, spec.description, explicit_bucket_boundaries_advisory=list(buckets)
            )
            recorders.append((histogram.record, sets, spec.unit == "s"))
        elif spec.kind in ("gauge", "updowncounter"):
            meter.create_observable_gauge(spec.name, [_pending(rng)], spec.unit, spec.description)
        else:
            raise ValueError(f"unknown metric kind {spec.kind!r} of {spec.name}")
    start_http_server(port, addr="127.0.0.1")
    while True:
        for record, sets, fractional in recorders:
            for attrs in sets:
                record(rng.uniform(0.001, 2.5) if fractional else rng.randint(1, 400), attrs)
        time.sleep(0.25)


if __name__ == "__main__":
    main(int(sys.argv[1]))
