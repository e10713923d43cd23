"""Counters summed in process (``otel_tokens.counters``) read back through real OTel readers."""

from __future__ import annotations

import gc
import math
import threading
from typing import Any

import pytest
from conftest import Telemetry
from opentelemetry.sdk.metrics import MeterProvider, ObservableCounter
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader, Sum
from opentelemetry.sdk.metrics.view import View

import otel_tokens
from otel_tokens import errors, names
from otel_tokens.counters import summed_counter

LABELS = {"provider": "openai", "model": "m", "operation": "chat", "task": "t", "team": ""}


def _points(reader: InMemoryMetricReader, name: str) -> list[tuple[dict[str, Any], float, Any]]:
    found = []
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    assert isinstance(metric.data, Sum)
                    assert metric.data.is_monotonic
                    for point in metric.data.data_points:
                        found.append((dict(point.attributes or {}), point.value, metric.data))
    return found


def test_sums_per_label_set_as_a_monotonic_cumulative_counter() -> None:
    reader = InMemoryMetricReader()
    counter = summed_counter(MeterProvider(metric_readers=[reader]).get_meter("t"), names.CALLS)
    counter.add(1, {**LABELS, "status": "ok"})
    counter.add(2, {**LABELS, "status": "ok"})
    counter.add(1, {**LABELS, "status": "error"})
    first = {p[0]["status"]: p[1] for p in _points(reader, names.CALLS.name)}
    assert first == {"ok": 3, "error": 1}
    counter.add(4, {**LABELS, "status": "ok"})
    [(attributes, value, data)] = [p for p in _points(reader, names.CALLS.name) if p[0]["status"] == "ok"]
    assert value == 7
    assert data.aggregation_temporality is AggregationTemporality.CUMULATIVE
    assert attributes == {**LABELS, "status": "ok"}


def test_delta_reader_gets_the_increments() -> None:
    reader = InMemoryMetricReader(preferred_temporality={ObservableCounter: AggregationTemporality.DELTA})
    counter = summed_counter(MeterProvider(metric_readers=[reader]).get_meter("t"), names.COST_USD)
    counter.add(0.5, LABELS)
    assert [p[1] for p in _points(reader, names.COST_USD.name)] == [0.5]
    counter.add(0.25, LABELS)
    counter.add(0.25, LABELS)
    assert [p[1] for p in _points(reader, names.COST_USD.name)] == [pytest.approx(0.5)]


def test_view_dropping_a_label_sums_the_merged_series() -> None:
    reader = InMemoryMetricReader()
    view = View(instrument_name=names.CALLS.name, attribute_keys={"provider", "status"})
    counter = summed_counter(MeterProvider(metric_readers=[reader], views=[view]).get_meter("t"), names.CALLS)
    for task in ("a", "b", "c"):
        counter.add(2, {**LABELS, "task": task, "status": "ok"})
    assert [(p[0], p[1]) for p in _points(reader, names.CALLS.name)] == [
        ({"provider": "openai", "status": "ok"}, 6)
    ]


@pytest.mark.parametrize("amount", [-1, -0.5, math.nan, math.inf])
def test_refuses_amounts_a_counter_cannot_take(amount: float) -> None:
    reader = InMemoryMetricReader()
    counter = summed_counter(MeterProvider(metric_readers=[reader]).get_meter("t"), names.COST_USD)
    counter.add(1.5, LABELS)
    counter.add(amount, LABELS)
    assert [p[1] for p in _points(reader, names.COST_USD.name)] == [1.5]


def test_missing_label_reports_empty_and_extra_keys_are_not_labels() -> None:
    reader = InMemoryMetricReader()
    counter = summed_counter(MeterProvider(metric_readers=[reader]).get_meter("t"), names.COST_USD)
    counter.add(1, {"provider": "openai", "model": "m", "operation": "chat", "task": "t", "extra": "x"})
    [(attributes, value, _)] = _points(reader, names.COST_USD.name)
    assert attributes == {"provider": "openai", "model": "m", "operation": "chat", "task": "t", "team": ""}
    assert value == 1


def test_threads_lose_no_increment() -> None:
    reader = InMemoryMetricReader()
    counter = summed_counter(MeterProvider(metric_readers=[reader]).get_meter("t"), names.TOKENS)

    def work() -> None:
        for _ in range(5000):
            counter.add(1, {**LABELS, "token_type": "input"})

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        _points(reader, names.TOKENS.name)  # collections racing the adds
    for thread in threads:
        thread.join()
    assert [p[1] for p in _points(reader, names.TOKENS.name)] == [40_000]


def test_same_meter_gets_the_same_counter_and_its_sums() -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("t")
    first = summed_counter(meter, names.CALLS)
    first.add(2, {**LABELS, "status": "ok"})
    second = summed_counter(meter, names.CALLS)
    second.add(3, {**LABELS, "status": "ok"})
    assert second is first
    assert [p[1] for p in _points(reader, names.CALLS.name)] == [5]  # one series, not two instruments


def test_reinstrumenting_on_the_same_provider_keeps_counting(telemetry: Telemetry) -> None:
    """uninstrument() then instrument() on the same providers: totals go on from where they were
    (as the SDK's own counters would), and the pending gauge follows the new instrumentation."""
    import openai

    from otel_tokens.demo.fake_llm import FakeLLMServer

    with FakeLLMServer() as server:
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="x", max_retries=0)
        kept = []
        for round_ in range(2):
            otel_tokens.instrument(
                telemetry.tracer_provider,
                telemetry.meter_provider,
                telemetry.logger_provider,
                raise_internal_errors=True,
            )
            try:
                kept.append(
                    client.chat.completions.create(
                        model="gpt-4o-mini", messages=[{"role": "user", "content": str(round_)}]
                    )
                )
                assert telemetry.total(names.CALLS.name) == round_ + 1
                assert telemetry.total(names.PENDING_CALLS.name) == 1  # this round's call only
            finally:
                kept.clear()
                gc.collect()
                otel_tokens.uninstrument()
                errors.configure(None, False)
    assert telemetry.total(names.OUTCOME_CALLS.name) == 2
