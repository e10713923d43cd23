"""Shared fixtures: OTel providers with in-memory exporters, instrumentation, a loopback fake LLM."""

from __future__ import annotations

import gc
import logging
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
from otel_tokens import errors, names
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

    def only_span(self) -> ReadableSpan:
        """The one finished span (fails when there are none or several)."""
        [span] = self.finished_spans()
        return span

    def outcome_label(self) -> Any:
        """The outcome of the one outcome event (fails when there are none or several)."""
        [event] = self.outcome_events()
        return (event.log_record.attributes or {})[names.GEN_AI_EVALUATION_SCORE_LABEL]

    def outcome_events(self) -> list[Any]:
        return [
            r for r in self.logs.get_finished_logs() if r.log_record.event_name == "gen_ai.evaluation.result"
        ]


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
def telemetry() -> Telemetry:
    return make_telemetry()


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


# --- outcome fixtures (appended for the outcome tests) -------------------------------------------


@pytest.fixture
def instrument_with(telemetry: Telemetry) -> Iterator[Any]:
    """Like ``instrumented``, with settings: ``tel = instrument_with(outcome_ttl_s=0.2)``."""
    started = False

    def start(**settings: Any) -> Telemetry:
        nonlocal started
        otel_tokens.instrument(
            telemetry.tracer_provider,
            telemetry.meter_provider,
            telemetry.logger_provider,
            raise_internal_errors=True,
            **settings,
        )
        started = True
        return telemetry

    try:
        yield start
    finally:
        if started:
            gc.collect()
            otel_tokens.uninstrument()
            errors.configure(None, False)
            errors.reset_logged()


def _call_labels(span: ReadableSpan) -> dict[str, str]:
    attrs = span.attributes or {}
    return {
        "provider": str(attrs["gen_ai.provider.name"]),
        "model": str(attrs.get("gen_ai.response.model") or attrs["gen_ai.request.model"]),
        "operation": str(attrs["gen_ai.operation.name"]),
        "task": str(attrs["otel_tokens.task"]),
        "team": str(attrs.get("otel_tokens.team", "")),
    }


@pytest.fixture
def check_outcome() -> Any:
    """``check_outcome(tel, span, "used", tokens=120)``: the call behind ``span`` resolved exactly
    once as ``outcome``: one outcome event parented to the span (evaluation name, score label and
    value, response id) and, under the call's labels, one ``outcome_calls``, ``tokens`` outcome
    tokens and the call's cost. Assumes no other call of the test shares labels and outcome."""

    def check(tel: Telemetry, span: ReadableSpan, outcome: str, *, tokens: int) -> None:
        ctx = span.context
        assert ctx is not None
        events = [e.log_record for e in tel.outcome_events() if e.log_record.span_id == ctx.span_id]
        assert len(events) == 1, f"{len(events)} outcome events for span {span.name}"
        event = events[0]
        assert event.trace_id == ctx.trace_id
        attrs = dict(event.attributes or {})
        span_attrs = span.attributes or {}
        assert attrs[names.GEN_AI_EVALUATION_NAME] == names.EVALUATION_NAME
        assert attrs[names.GEN_AI_EVALUATION_SCORE_LABEL] == outcome
        assert attrs[names.GEN_AI_EVALUATION_SCORE_VALUE] == (1.0 if outcome == "used" else 0.0)
        assert attrs.get(names.GEN_AI_RESPONSE_ID) == span_attrs.get(names.GEN_AI_RESPONSE_ID)
        labels = {**_call_labels(span), "outcome": outcome}
        assert tel.total(names.OUTCOME_CALLS.name, **labels) == 1
        assert tel.total(names.OUTCOME_TOKENS.name, **labels) == tokens
        cost = float(span_attrs.get(names.ATTR_COST_USD, 0.0))  # type: ignore[arg-type]
        assert tel.total(names.OUTCOME_COST_USD.name, **labels) == pytest.approx(cost)
        assert (cost > 0) == (tokens > 0 and span_attrs.get(names.ATTR_COST_PRICED) is True)

    return check


# --- speed (appended by the OpenAI/streams tests) ---------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _frozen_import_heap() -> Iterator[None]:
    """Instrument once (importing every supported LLM SDK and what patching needs), then move
    everything imported out of the collector's view (``gc.freeze``): the ``gc.collect()`` that
    fixtures run per test then scans only what the test created (about 1 ms instead of 70+ ms).
    Objects made by tests are collected as usual."""
    warm = make_telemetry()
    otel_tokens.instrument(warm.tracer_provider, warm.meter_provider, warm.logger_provider)
    otel_tokens.uninstrument()
    errors.configure(None, False)
    errors.reset_logged()
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


_SHARED_SSL: list[Any] = []


@pytest.fixture
async def make_openai_client(fake_llm: FakeLLMServer) -> Any:
    """``make_openai_client(aio=False)``: an OpenAI client (``AsyncOpenAI`` when ``aio``) for the
    fake server. Clients share one SSL context (a default client loads the CA bundle, ~40 ms) and
    are closed at teardown."""
    import ssl

    import openai

    if not _SHARED_SSL:
        _SHARED_SSL.append(ssl.create_default_context())
    made: list[Any] = []

    def make(aio: bool = False) -> Any:
        cls, http = (
            (openai.AsyncOpenAI, openai.DefaultAsyncHttpxClient)
            if aio
            else (openai.OpenAI, openai.DefaultHttpxClient)
        )
        client = cls(
            base_url=fake_llm.openai_base_url,
            api_key="test",
            max_retries=0,
            http_client=http(verify=_SHARED_SSL[0]),
        )
        made.append(client)
        return client

    yield make
    for client in made:
        closed = client.close()
        if closed is not None:
            await closed


# --- test environments (tests/envs/<name>.txt, run by scripts/test-env) ------------------------

TEST_ENV = os.environ.get("OTEL_TOKENS_TEST_ENV", "main")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "env(name): runs only in the test environment `name` (tests/envs/<name>.txt, built and run by "
        "scripts/test-env); deselected, not skipped, everywhere else",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def wanted(item: pytest.Item) -> bool:
        marker = item.get_closest_marker("env")
        return (marker.args[0] if marker is not None else "main") == TEST_ENV or (
            marker is None and TEST_ENV != "main"  # other environments rerun plain tests they name
        )

    selected = [item for item in items if wanted(item)]
    if len(selected) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if not wanted(item)])
        items[:] = selected


@pytest.fixture
def tolerant(telemetry: Telemetry) -> Iterator[Any]:
    """``tolerant(**settings)``: instrumented with internal errors counted, never raised (the
    production setting, for the never-break-the-call tests)."""
    started = False
    errors.reset_logged()

    def start(**settings: Any) -> Telemetry:
        nonlocal started
        otel_tokens.instrument(
            telemetry.tracer_provider,
            telemetry.meter_provider,
            telemetry.logger_provider,
            raise_internal_errors=False,
            **settings,
        )
        started = True
        return telemetry

    yield start
    if started:
        gc.collect()
        otel_tokens.uninstrument()
    errors.configure(None, False)
    errors.reset_logged()


@pytest.fixture
def one_call(caplog: pytest.LogCaptureFixture) -> Any:
    """``one_call(tel, status)``: exactly one span, ended once, one call counted with ``status``
    (the stream-lifecycle check every provider's tests share)."""
    caplog.set_level(logging.WARNING, logger="opentelemetry.sdk.trace")

    def check(tel: Telemetry, status: str = "ok") -> ReadableSpan:
        gc.collect()
        span = tel.only_span()
        assert "ended span" not in caplog.text  # the SDK warns when end() is called twice
        assert tel.total(names.CALLS.name) == 1
        assert tel.total(names.CALLS.name, status=status) == 1
        return span

    return check
