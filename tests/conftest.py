"""Shared fixtures: OTel providers with in-memory exporters, otel-tokens instrumented (raising or
production-tolerant), the loopback fake LLM and SDK clients of it, and the checks tests share."""

from __future__ import annotations

import contextlib
import functools
import gc
import importlib
import logging
import os
from collections.abc import Callable, Iterator
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
from otel_tokens.pricing import PriceBook
from otel_tokens.records import Usage

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
        """The one finished span, once released objects are collected (fails when there are none or
        several)."""
        gc.collect()
        [span] = self.finished_spans()
        return span

    def outcome_label(self) -> Any:
        """The outcome of the one outcome event, once released objects are collected (fails when
        there are none or several)."""
        gc.collect()
        [event] = self.outcome_events()
        return (event.log_record.attributes or {})[names.GEN_AI_EVALUATION_SCORE_LABEL]

    def outcome_events(self) -> list[Any]:
        return [
            r for r in self.logs.get_finished_logs() if r.log_record.event_name == "gen_ai.evaluation.result"
        ]


def make_telemetry() -> Telemetry:
    # Not shut down at exit: the SDK's atexit hook would keep every test's providers (and all the
    # instruments, spans and calls they reach) alive to the end of the session.
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    logs = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider(shutdown_on_exit=False)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    return Telemetry(spans, reader, logs, tracer_provider, meter_provider, logger_provider)


@pytest.fixture
def telemetry() -> Telemetry:
    return make_telemetry()


# --- instrumenting: in production mode or with internal errors re-raised ---------------------------


@contextlib.contextmanager
def instrumenting(
    telemetry: Telemetry, *, raise_internal_errors: bool = True
) -> Iterator[Callable[..., Telemetry]]:
    """Yields ``start(**settings)``, which instruments otel-tokens with ``telemetry``'s providers (or
    the ``tracer_provider`` / ``meter_provider`` / ``logger_provider`` given) and returns
    ``telemetry``; at exit, released objects are collected and everything is uninstrumented."""
    started = False
    errors.reset_logged()

    def start(
        tracer_provider: Any = None, meter_provider: Any = None, logger_provider: Any = None, **settings: Any
    ) -> Telemetry:
        nonlocal started
        started = True  # uninstrumented at exit even when instrument() raised half-way
        otel_tokens.instrument(
            tracer_provider or telemetry.tracer_provider,
            meter_provider or telemetry.meter_provider,
            logger_provider or telemetry.logger_provider,
            raise_internal_errors=raise_internal_errors,
            **settings,
        )
        return telemetry

    try:
        yield start
    finally:
        if started:
            gc.collect()
            otel_tokens.uninstrument()
        errors.configure(None, False)
        errors.reset_logged()


@pytest.fixture
def instrumented(telemetry: Telemetry) -> Iterator[Telemetry]:
    """otel-tokens instrumented with in-memory providers; internal errors re-raise (bugs surface)."""
    with instrumenting(telemetry) as start:
        yield start()


@pytest.fixture
def instrument_with(telemetry: Telemetry) -> Iterator[Callable[..., Telemetry]]:
    """Like ``instrumented``, with settings: ``tel = instrument_with(outcome_ttl_s=0.2)``."""
    with instrumenting(telemetry) as start:
        yield start


@pytest.fixture
def tolerant(telemetry: Telemetry) -> Iterator[Callable[..., Telemetry]]:
    """``tolerant(**settings)``: instrumented with internal errors counted, never raised (the
    production setting, for the never-break-the-call tests)."""
    with instrumenting(telemetry, raise_internal_errors=False) as start:
        yield start


# --- the fake LLM server and clients of it -----------------------------------------------------------


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


_SHARED_SSL: list[Any] = []


# The SDKs built alike (by Stainless): module -> (client class, async client class).
_STAINLESS = {
    "openai": ("OpenAI", "AsyncOpenAI"),
    "anthropic": ("Anthropic", "AsyncAnthropic"),
    "groq": ("Groq", "AsyncGroq"),
}


@pytest.fixture
async def make_sdk_client(fake_llm: FakeLLMServer) -> Any:
    """``make_sdk_client(sdk, aio=False, base_url=None, transport=None)``: a new client of ``sdk``
    (``openai``, ``anthropic`` or ``groq``; async when ``aio``) for the fake server, or for
    ``base_url`` through an httpx ``transport``. Clients share one SSL context (a default client
    loads the CA bundle, ~40 ms) and are closed at teardown."""
    import ssl

    if not _SHARED_SSL:
        _SHARED_SSL.append(ssl.create_default_context())
    bases = {
        "openai": fake_llm.openai_base_url,
        "anthropic": fake_llm.anthropic_base_url,
        "groq": fake_llm.url,
    }
    made: list[Any] = []

    def make(sdk: str, aio: bool = False, base_url: str | None = None, transport: Any = None) -> Any:
        module = importlib.import_module(sdk)
        cls = getattr(module, _STAINLESS[sdk][aio])
        http = getattr(module, "DefaultAsyncHttpxClient" if aio else "DefaultHttpxClient")
        client = cls(
            base_url=base_url or bases[sdk],
            api_key="test",
            max_retries=0,
            http_client=http(transport=transport) if transport else http(verify=_SHARED_SSL[0]),
        )
        made.append(client)
        return client

    yield make
    for client in made:
        closed = client.close()
        if closed is not None:
            await closed


@pytest.fixture
def make_openai_client(make_sdk_client: Any) -> Any:
    """``make_openai_client(aio=False, base_url=None, transport=None)``: see ``make_sdk_client``."""
    return functools.partial(make_sdk_client, "openai")


@pytest.fixture
def openai_client(make_openai_client: Any) -> Any:
    return make_openai_client()


@pytest.fixture
def async_openai_client(make_openai_client: Any) -> Any:
    return make_openai_client(aio=True)


@pytest.fixture
def anthropic_client(make_sdk_client: Any) -> Any:
    return make_sdk_client("anthropic")


@pytest.fixture
def async_anthropic_client(make_sdk_client: Any) -> Any:
    return make_sdk_client("anthropic", aio=True)


@pytest.fixture(scope="session")
def genai_client(fake_llm: FakeLLMServer) -> Iterator[Any]:
    """A ``google-genai`` client of the Gemini API on the fake server."""
    from google import genai
    from google.genai import types

    client = genai.Client(api_key="test", http_options=types.HttpOptions(base_url=fake_llm.url))
    yield client
    client.close()


@pytest.fixture
async def genai_aio(genai_client: Any) -> Any:
    """``genai_client.aio`` on this test's event loop; its aiohttp session is closed at teardown."""
    yield genai_client.aio
    await genai_client.aio.aclose()


@pytest.fixture(scope="session")
def _shared_bedrock(fake_llm: FakeLLMServer) -> Any:
    from helpers_bedrock import Bedrock

    return Bedrock(fake_llm.url)


@pytest.fixture
def bedrock(_shared_bedrock: Any) -> Any:
    """A boto3 ``bedrock-runtime`` client on the fake server (``helpers_bedrock.Bedrock``), sending
    the default ``x-fake-*`` headers only."""
    return _shared_bedrock.reset()


# --- checks the tests share ---------------------------------------------------------------------


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


_UNCHECKED: Any = object()


@pytest.fixture
def one_call(caplog: pytest.LogCaptureFixture) -> Any:
    """``one_call(tel, status=None, *, outcome=None, usage_source=...)``: exactly one span, ended
    once, with the span status of one call counted with ``status`` (``error`` when ``outcome`` is,
    else ``ok``); when given, the call's one ``outcome`` and its ``otel_tokens.usage.source``
    (``None``: not set). The stream-lifecycle check every provider's tests share."""
    caplog.set_level(logging.WARNING, logger="opentelemetry.sdk.trace")

    def check(
        tel: Telemetry,
        status: str | None = None,
        *,
        outcome: str | None = None,
        usage_source: Any = _UNCHECKED,
    ) -> ReadableSpan:
        status = status or ("error" if outcome == "error" else "ok")
        span = tel.only_span()
        assert "ended span" not in caplog.text  # the SDK warns when end() is called twice
        assert span.status.status_code.name == ("ERROR" if status == "error" else "UNSET")
        assert tel.total(names.CALLS.name) == 1
        assert tel.total(names.CALLS.name, status=status) == 1
        if outcome is not None:
            assert tel.outcome_label() == outcome
        if usage_source is not _UNCHECKED:
            assert (span.attributes or {}).get(names.ATTR_USAGE_SOURCE) == usage_source
        return span

    return check


# --- speed ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _frozen_import_heap() -> Iterator[None]:
    """Instrument once (importing every supported LLM SDK and what patching needs) and price a
    call (genai-prices loads its price data on first use), then move everything loaded out of the
    collector's view (``gc.freeze``): the ``gc.collect()`` that fixtures run per test then scans
    only what the test created (about 1 ms instead of 70+ ms). Objects made by tests are
    collected as usual."""
    warm = make_telemetry()
    otel_tokens.instrument(warm.tracer_provider, warm.meter_provider, warm.logger_provider)
    PriceBook().cost("openai", "gpt-4o-mini", Usage(input_tokens=1, output_tokens=1))
    otel_tokens.uninstrument()
    errors.configure(None, False)
    errors.reset_logged()
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


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
