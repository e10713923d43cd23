"""Shared fixtures: OTel providers with in-memory exporters, instrumentation, a loopback fake LLM."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import otel_tokens
from otel_tokens import errors
from otel_tokens.demo.fake_llm import FakeLLMServer

os.environ.setdefault("ANTHROPIC_OPEN_TELEMETRY", "false")


@dataclass
class Telemetry:
    """In-memory OTel pipeline; helpers read back spans, metric points and outcome events."""

    spans: InMemorySpanExporter
    reader: InMemoryMetricReader
    logs: InMemoryLogRecordExporter
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    logger_provider: LoggerProvider

    def finished_spans(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def points(self, metric: str) -> list[tuple[dict[str, Any], float]]:
        """(attributes, value) of every data point of ``metric`` (OTel name); histograms give sums."""
        found: list[tuple[dict[str, Any], float]] = []
        data = self.reader.get_metrics_data()
        if data is None:
            return found
        for resource_metrics in data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for m in scope_metrics.metrics:
                    if m.name != metric:
                        continue
                    for point in m.data.data_points:
                        value = getattr(point, "value", None)
                        if value is None:
                            value = point.sum
                        found.append((dict(point.attributes or {}), value))
        return found

    def total(self, metric: str, **labels: Any) -> float:
        return sum(v for attrs, v in self.points(metric) if all(attrs.get(k) == w for k, w in labels.items()))

    def outcome_events(self) -> list[Any]:
        return [r for r in self.logs.get_finished_logs() if r.log_record.event_name == "gen_ai.evaluation.result"]


def make_telemetry() -> Telemetry:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    logs = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    return Telemetry(spans, reader, logs, tracer_provider, meter_provider, logger_provider)


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    yield make_telemetry()


@pytest.fixture
def instrumented(telemetry: Telemetry) -> Iterator[Telemetry]:
    """otel-tokens instrumented with in-memory providers; internal errors re-raise (bugs surface)."""
    otel_tokens.instrument(
        telemetry.tracer_provider,
        telemetry.meter_provider,
        telemetry.logger_provider,
        raise_internal_errors=True,
    )
    try:
        yield telemetry
    finally:
        gc.collect()
        otel_tokens.uninstrument()
        errors.configure(None, False)
        errors.reset_logged()


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def openai_client(fake_llm: FakeLLMServer) -> Any:
    import openai

    return openai.OpenAI(base_url=fake_llm.openai_base_url, api_key="test", max_retries=0)


@pytest.fixture
def async_openai_client(fake_llm: FakeLLMServer) -> Any:
    import openai

    return openai.AsyncOpenAI(base_url=fake_llm.openai_base_url, api_key="test", max_retries=0)
