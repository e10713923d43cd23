"""Faults outside otel-tokens' control never break the user's call, never block it, and show.

For each fault the call returns (or raises) exactly what it would without otel-tokens, nothing on
the call path waits for an exporter, and the failure is visible: counted in
``otel_tokens_internal_errors_total{stage}`` with one log line, or, for a gap in what the
provider sent, on the call's span (``otel_tokens.usage.source = missing``,
``otel_tokens.cost.priced = false``).

Covered elsewhere: a failure at every internal stage of every OpenAI method
(test_never_breaks_calls.py) and Anthropic call (test_anthropic_streams.py::
test_failures_inside_never_break_the_call), one log line per stage
(test_never_breaks_calls.py::test_each_stage_is_logged_once_and_counted_every_time), the
Prometheus port already taken (test_metrics_endpoint.py::
test_port_already_taken_logs_one_error_and_calls_still_work), an unknown OpenAI model
(test_openai.py::test_unknown_model_is_counted_unpriced).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from genai_prices import Usage as PriceUsage
from genai_prices import calc_price
from helpers_openai import MESSAGES, MODEL, normalized
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

import otel_tokens
from otel_tokens import exporters
from otel_tokens import names as n
from otel_tokens.demo.fakes.hostile import hostile_url
from otel_tokens.pricing import PricesFileError, load_overrides
from otel_tokens.sdk import Handle

CLAUDE = "claude-sonnet-4-6"
CLAUDE_MSGS = [{"role": "user", "content": "hello"}]
RESOURCE = Resource.create({"service.name": "faults"})


@pytest.fixture
def oai(make_openai_client: Any) -> Any:
    return make_openai_client()


def _chat(client: Any, **kwargs: Any) -> Any:
    return client.chat.completions.create(model=MODEL, messages=MESSAGES, **kwargs)


def _message(client: Any, model: str = CLAUDE, **kwargs: Any) -> Any:
    return client.messages.create(model=model, max_tokens=64, messages=CLAUDE_MSGS, **kwargs)


def _stage_logs(caplog: pytest.LogCaptureFixture, stage: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "otel_tokens" and f"stage {stage!r}" in r.getMessage()]


# --- an OTLP collector that is down or never answers -------------------------------------------------


class HangingCollector:
    """A loopback OTLP/HTTP endpoint: it accepts connections and reads requests, and answers none
    of them until :attr:`release` is set (then it answers ``200`` to everything)."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.received = threading.Event()
        self.release = threading.Event()
        self.requests = 0
        self.answered = 0
        self._lock = threading.Lock()
        self._closing = False
        self._connections: list[socket.socket] = []
        threading.Thread(target=self._accept, name="hanging-collector", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def in_flight(self) -> int:
        with self._lock:
            return self.requests - self.answered

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError, ValueError), conn.makefile("rb") as reader:
            while _read_request(reader):
                with self._lock:
                    self.requests += 1
                self.received.set()
                self.release.wait()
                if self._closing:
                    return
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n"
                )
                with self._lock:
                    self.answered += 1

    def close(self) -> None:
        self._closing = True
        self.release.set()
        self._listener.close()
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()


def _read_request(reader: Any) -> bool:
    """Read one HTTP request (headers and body); False at end of stream."""
    if not reader.readline():
        return False
    length, chunked = 0, False
    while (line := reader.readline()) not in (b"\r\n", b"\n", b""):
        key, _, value = line.decode("latin-1").partition(":")
        if key.strip().lower() == "content-length":
            length = int(value)
        elif key.strip().lower() == "transfer-encoding":
            chunked = "chunked" in value.lower()
    if chunked:
        while size := int(reader.readline().split(b";")[0].strip() or b"0", 16):
            reader.read(size + 2)
        reader.readline()
    else:
        reader.read(length)
    return True


@pytest.fixture
def collector() -> Iterator[HangingCollector]:
    hanging = HangingCollector()
    yield hanging
    hanging.close()


def _otlp_env(monkeypatch: pytest.MonkeyPatch, endpoint: str, timeout_s: float) -> None:
    """init()'s OTLP environment, exporting at once (batch delays of 10 ms)."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", str(timeout_s))
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "10")
    monkeypatch.setenv("OTEL_BLRP_SCHEDULE_DELAY", "10")


async def test_calls_return_while_the_otlp_export_is_stuck(
    collector: HangingCollector,
    monkeypatch: pytest.MonkeyPatch,
    tolerant: Any,
    make_openai_client: Any,
    anthropic_client: Any,
) -> None:
    # The providers init() builds for OTEL_EXPORTER_OTLP_ENDPOINT, with a collector that takes the
    # export request and never answers (the exporter would wait a minute for it).
    _otlp_env(monkeypatch, collector.url, timeout_s=60)
    tracer_provider = exporters._tracer_provider(RESOURCE)
    logger_provider = exporters._logger_provider(RESOURCE)
    tel = tolerant(tracer_provider=tracer_provider, logger_provider=logger_provider)
    client, aclient = make_openai_client(), make_openai_client(aio=True)

    handle = Handle([], owned=[tracer_provider, logger_provider])
    try:
        otel_tokens.mark_used(_chat(client))  # a span and an outcome event for the batch processors
        assert collector.received.wait(10), "the exporter never sent its batch"
        assert collector.in_flight() >= 1  # an export is now stuck waiting for the collector

        replies = [
            _chat(client).choices[0].message.content,
            (await _chat(aclient)).choices[0].message.content,
            "".join(c.choices[0].delta.content or "" for c in _chat(client, stream=True) if c.choices),
            _message(anthropic_client).content[0].text,
            "".join(
                e.delta.text
                for e in _message(anthropic_client, stream=True)
                if e.type == "content_block_delta"
            ),
        ]
        for _ in range(3):
            otel_tokens.mark_used(_chat(client))

        # Every call returned while the export is still stuck: nothing on the call path waits for it.
        assert collector.answered == 0
        assert collector.in_flight() >= 1
        assert replies == ["Hello from the fake model."] * 5
        assert tel.total(n.CALLS.name, status="ok") == 9
        assert tel.total(n.INTERNAL_ERRORS.name) == 0
    finally:
        collector.release.set()  # the collector recovers: the queued spans and events go out
        started = time.monotonic()
        handle.shutdown()
    assert time.monotonic() - started < 30
    assert collector.answered >= 1


@pytest.mark.parametrize("collector_state", ["hanging", "refused"])
def test_shutdown_with_the_collector_down_is_bounded_and_counted(
    collector: HangingCollector,
    monkeypatch: pytest.MonkeyPatch,
    tolerant: Any,
    oai: Any,
    caplog: pytest.LogCaptureFixture,
    collector_state: str,
) -> None:
    if collector_state == "refused":
        with socket.create_server(("127.0.0.1", 0)) as closed:
            endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}"  # nothing listens there any more
    else:
        endpoint = collector.url
    _otlp_env(monkeypatch, endpoint, timeout_s=0.5)
    caplog.set_level(logging.WARNING, logger="otel_tokens")
    tracer_provider = exporters._tracer_provider(RESOURCE)
    logger_provider = exporters._logger_provider(RESOURCE)
    otlp_meters, _, _ = exporters._meter_provider(RESOURCE, "127.0.0.1", -1, [])
    otlp_meters.get_meter("app").create_counter("app.requests").add(1)  # something to export at shutdown
    tel = tolerant(tracer_provider=tracer_provider, logger_provider=logger_provider)

    contents = [_chat(oai).choices[0].message.content for _ in range(3)]

    started = time.monotonic()
    Handle([], owned=[tracer_provider, otlp_meters, logger_provider]).shutdown()
    assert contents == ["Hello from the fake model."] * 3
    # Bounded by OTEL_EXPORTER_OTLP_TIMEOUT per export, never by the collector.
    assert time.monotonic() - started < 20
    assert tel.total(n.INTERNAL_ERRORS.name, stage="export") >= 3  # traces, metrics and logs failed
    assert len(_stage_logs(caplog, "export")) == 1


# --- exporters and processors that raise -----------------------------------------------------------


class RaisingSpanExporter(SpanExporter):
    def export(self, spans: Any) -> SpanExportResult:
        raise RuntimeError("span exporter down")


class RaisingSpanProcessor(SpanProcessor):
    def on_end(self, span: Any) -> None:
        raise RuntimeError("span processor down")


class RaisingLogProcessor(LogRecordProcessor):
    def on_emit(self, log_record: Any) -> None:
        raise RuntimeError("log processor down")

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


class RaisingMetricExporter(MetricExporter):
    def __init__(self) -> None:
        super().__init__()
        self.called = threading.Event()

    def export(self, metrics_data: Any, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        self.called.set()
        raise RuntimeError("metric exporter down")

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        return None


def test_a_raising_span_exporter_leaves_calls_and_metrics_intact(
    tolerant: Any, telemetry: Any, oai: Any, caplog: pytest.LogCaptureFixture
) -> None:
    baseline = normalized(_chat(oai))
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    tracer_provider.add_span_processor(SimpleSpanProcessor(RaisingSpanExporter()))
    tracer_provider.add_span_processor(SimpleSpanProcessor(telemetry.spans))
    tel = tolerant(tracer_provider=tracer_provider)

    reply = _chat(oai)

    assert normalized(reply) == baseline
    otel_tokens.mark_used(reply)
    assert tel.only_span().attributes[n.ATTR_USAGE_SOURCE] == "provider"
    assert tel.total(n.CALLS.name, status="ok") == 1
    assert tel.total(n.OUTCOME_CALLS.name, outcome="used") == 1
    # The OTel SDK's span processor isolates its exporter (and logs it); nothing of ours failed.
    assert "span exporter down" in caplog.text
    assert tel.total(n.INTERNAL_ERRORS.name) == 0


def test_a_raising_span_processor_is_counted_and_the_call_unchanged(
    tolerant: Any, telemetry: Any, oai: Any, anthropic_client: Any
) -> None:
    baseline = normalized(_chat(oai)), _message(anthropic_client).content[0].text
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    tracer_provider.add_span_processor(SimpleSpanProcessor(telemetry.spans))
    tracer_provider.add_span_processor(RaisingSpanProcessor())
    tel = tolerant(tracer_provider=tracer_provider)

    assert (normalized(_chat(oai)), _message(anthropic_client).content[0].text) == baseline
    stream_text = "".join(c.choices[0].delta.content or "" for c in _chat(oai, stream=True) if c.choices)

    assert stream_text == "Hello from the fake model."
    assert tel.total(n.INTERNAL_ERRORS.name, stage="export") == 3  # ending each span
    assert tel.total(n.CALLS.name, status="ok") == 3  # recorded before the span's end failed
    assert len(tel.finished_spans()) == 3


def test_a_raising_span_processor_still_gives_every_call_one_outcome(
    tolerant: Any, telemetry: Any, oai: Any
) -> None:
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    tracer_provider.add_span_processor(SimpleSpanProcessor(telemetry.spans))
    tracer_provider.add_span_processor(RaisingSpanProcessor())
    tel = tolerant(tracer_provider=tracer_provider)
    reply = _chat(oai)
    otel_tokens.mark_used(reply)
    assert tel.total(n.OUTCOME_CALLS.name, outcome="used") == 1


def test_a_raising_log_processor_loses_only_the_outcome_event(
    tolerant: Any, oai: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="otel_tokens")
    logger_provider = LoggerProvider(shutdown_on_exit=False)
    logger_provider.add_log_record_processor(RaisingLogProcessor())
    tel = tolerant(logger_provider=logger_provider)

    replies = [_chat(oai) for _ in range(2)]
    for reply in replies:
        otel_tokens.mark_used(reply)

    assert [r.choices[0].message.content for r in replies] == ["Hello from the fake model."] * 2
    assert tel.total(n.OUTCOME_CALLS.name, outcome="used") == 2  # the metrics were recorded first
    assert tel.total(n.INTERNAL_ERRORS.name, stage="outcome") == 2
    assert len(_stage_logs(caplog, "outcome")) == 1


def test_a_raising_metric_exporter_leaves_calls_intact(tolerant: Any, oai: Any) -> None:
    raising = RaisingMetricExporter()
    memory = InMemoryMetricReader()
    meter_provider = MeterProvider(
        metric_readers=[PeriodicExportingMetricReader(raising, export_interval_millis=10), memory],
        shutdown_on_exit=False,
    )
    tolerant(meter_provider=meter_provider)
    try:
        contents = [_chat(oai).choices[0].message.content for _ in range(3)]
        assert raising.called.wait(10)
        contents.append(_chat(oai).choices[0].message.content)  # after an export failed
    finally:
        otel_tokens.uninstrument()
        meter_provider.shutdown()
    assert contents == ["Hello from the fake model."] * 4
    calls = [
        point.value
        for rm in memory.get_metrics_data().resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == n.CALLS.name
        for point in metric.data.data_points
    ]
    assert calls == [4]


# --- the prices override file ------------------------------------------------------------------------


def test_an_endless_prices_file_is_refused_at_once() -> None:
    # /dev/zero never ends: the file is read up to a bound, never whole.
    started = time.monotonic()
    with pytest.raises(PricesFileError, match="larger than"):
        load_overrides("/dev/zero")
    assert time.monotonic() - started < 5


def test_a_prices_file_cut_short_is_a_clear_error(tmp_path: Any) -> None:
    # What a full disk leaves behind: the writer died after part of the file.
    full = "models:\n  my-finetune:\n    input: 0.30\n    output: 1.20\n"
    path = tmp_path / "prices.yaml"
    path.write_text(full[: full.index("output")])
    with pytest.raises(PricesFileError, match="needs at least 'input' and 'output'"):
        load_overrides(path)
    path.write_bytes(full.encode()[:-1] + b"\xff")  # a torn multi-byte write
    with pytest.raises(PricesFileError, match="cannot read"):
        load_overrides(path)


def test_a_prices_file_cut_short_does_not_stop_the_app(
    tmp_path: Any, tolerant: Any, telemetry: Any, oai: Any, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text("models:\n  my-finetune:\n    input: 0.30\n    out")
    caplog.set_level(logging.WARNING, logger="otel_tokens")
    tolerant(prices_file=str(path))
    assert _chat(oai).choices[0].message.content == "Hello from the fake model."
    assert telemetry.total(n.INTERNAL_ERRORS.name, stage="pricing") == 1
    assert len(_stage_logs(caplog, "pricing")) == 1
    assert telemetry.only_span().attributes[n.ATTR_COST_PRICED] is True  # bundled prices still apply


# --- what the provider sends: malformed, missing, negative, renamed ---------------------------------


def _openai_stream(client: Any, headers: dict[str, str]) -> list[Any]:
    return [normalized(chunk) for chunk in _chat(client, stream=True, extra_headers=headers)]


def _anthropic_events(client: Any, headers: dict[str, str]) -> list[Any]:
    return [
        e.model_dump(exclude={"message": {"id"}})
        for e in _message(client, stream=True, extra_headers=headers)
    ]


def _anthropic_message(client: Any, headers: dict[str, str]) -> Any:
    return _message(client, extra_headers=headers).model_dump(exclude={"id"})


def _anthropic_helper(client: Any, headers: dict[str, str]) -> Any:
    with client.messages.stream(
        model=CLAUDE, max_tokens=64, messages=CLAUDE_MSGS, extra_headers=headers
    ) as stream:
        return stream.get_final_message().model_dump(exclude={"id"})


# name -> (provider, call(client, headers) -> a comparable result)
CALLS: dict[str, tuple[str, Callable[[Any, dict[str, str]], Any]]] = {
    "openai.chat": ("openai", lambda c, h: normalized(_chat(c, extra_headers=h))),
    "openai.chat.stream": ("openai", _openai_stream),
    "openai.responses": (
        "openai",
        lambda c, h: normalized(c.responses.create(model=MODEL, input="summarize", extra_headers=h)),
    ),
    "openai.embeddings": (
        "openai",
        lambda c, h: normalized(
            c.embeddings.create(model="text-embedding-3-small", input="x", extra_headers=h)
        ),
    ),
    "anthropic.messages": ("anthropic", _anthropic_message),
    "anthropic.messages.stream": ("anthropic", _anthropic_events),
    "anthropic.helper": ("anthropic", _anthropic_helper),
}


def _outcome(result: Callable[[], Any]) -> tuple[str, Any]:
    """("ok", value) or ("raised", exception type) of calling ``result``."""
    try:
        return "ok", result()
    except Exception as exc:
        return "raised", type(exc)


@pytest.fixture
def client_for(make_sdk_client: Any, fake_llm: Any) -> Callable[..., Any]:
    """``client_for(provider, spec=None)``: a client of the fake server, hostile as ``spec`` says."""

    def make(provider: str, spec: dict[str, Any] | None = None) -> Any:
        base = hostile_url(fake_llm.url, spec) if spec else fake_llm.url
        return make_sdk_client(provider, base_url=f"{base}/v1" if provider == "openai" else base)

    return make


@pytest.mark.parametrize("name", [c for c in CALLS if c not in ("openai.embeddings", "openai.responses")])
def test_malformed_json_raises_the_sdks_own_error(tolerant: Any, client_for: Any, name: str) -> None:
    provider, call = CALLS[name]
    client = client_for(provider)
    headers = {"x-fake-malformed": "1"}
    expected = _outcome(lambda: call(client, headers))
    tel = tolerant()

    assert _outcome(lambda: call(client, headers)) == expected
    assert expected[0] == "raised"
    span = tel.only_span()
    assert span.status.status_code.name == "ERROR"
    assert span.attributes[n.ERROR_TYPE] == expected[1].__qualname__
    assert tel.total(n.CALLS.name, status="error") == 1
    assert tel.total(n.OUTCOME_CALLS.name, outcome="error") == 1
    assert tel.total(n.INTERNAL_ERRORS.name) == 0


@pytest.mark.parametrize("name", CALLS)
def test_missing_usage_is_marked_missing(tolerant: Any, client_for: Any, name: str) -> None:
    provider, call = CALLS[name]
    client = client_for(provider)
    headers = {"x-fake-no-usage": "1"}
    # Anthropic's own stream accumulator needs usage: it raises with or without otel-tokens.
    expected = _outcome(lambda: call(client, headers))
    tel = tolerant()

    assert _outcome(lambda: call(client, headers)) == expected
    attrs = tel.only_span().attributes
    assert attrs[n.ATTR_USAGE_SOURCE] == "missing"
    assert not [key for key in attrs if key.startswith("gen_ai.usage.")]
    # The HTTP exchange itself succeeded, also when the SDK's helper then failed on its own.
    assert tel.total(n.CALLS.name, status="ok") == 1
    assert tel.points(n.TOKENS.name) == []
    assert tel.total(n.INTERNAL_ERRORS.name) == 0


NEGATIVE = {  # provider -> (hostile spec, the usage otel-tokens must record: negatives count as 0)
    "openai": (
        {
            "set": {
                "usage.prompt_tokens": 20,
                "usage.completion_tokens": -3,
                "usage.prompt_tokens_details.cached_tokens": -2,
                "usage.completion_tokens_details.reasoning_tokens": -1,
            }
        },
        PriceUsage(input_tokens=20, output_tokens=0),
    ),
    "anthropic": (
        {
            "set": {
                "usage.input_tokens": -5,
                "usage.cache_read_input_tokens": 4,
                "usage.cache_creation_input_tokens": -7,
                "usage.output_tokens": 10,
                "message.usage.input_tokens": -5,
                "message.usage.cache_read_input_tokens": 4,
                "message.usage.cache_creation_input_tokens": -7,
            }
        },
        PriceUsage(input_tokens=4, cache_read_tokens=4, output_tokens=10),
    ),
}


@pytest.mark.parametrize(
    "name", ["openai.chat", "openai.chat.stream", "anthropic.messages", "anthropic.messages.stream"]
)
def test_negative_usage_never_subtracts(tolerant: Any, client_for: Any, name: str) -> None:
    provider, call = CALLS[name]
    spec, usage = NEGATIVE[provider]
    client = client_for(provider, spec)
    expected = call(client, {})
    tel = tolerant()

    assert call(client, {}) == expected
    attrs = tel.only_span().attributes
    assert attrs[n.GEN_AI_USAGE_INPUT_TOKENS] == usage.input_tokens
    assert attrs[n.GEN_AI_USAGE_OUTPUT_TOKENS] == usage.output_tokens
    assert attrs.get(n.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, 0) == usage.cache_read_tokens
    assert all(value >= 0 for _, value in tel.points(n.TOKENS.name))
    assert tel.total(n.TOKENS.name) == usage.input_tokens + usage.output_tokens
    model = MODEL if provider == "openai" else CLAUDE
    price = float(calc_price(usage, model, provider_id=provider).total_price)
    assert attrs[n.ATTR_COST_USD] == pytest.approx(price)
    assert tel.total(n.INTERNAL_ERRORS.name) == 0


def test_unknown_anthropic_model_is_counted_unpriced(tolerant: Any, anthropic_client: Any) -> None:
    tel = tolerant()
    reply = _message(
        anthropic_client, model="acme-claude-private", extra_headers={"x-fake-output-tokens": "7"}
    )
    assert reply.content[0].text == "Hello from the fake model."
    attrs = tel.only_span().attributes
    assert attrs[n.ATTR_COST_PRICED] is False
    assert attrs[n.ATTR_COST_USD] == 0.0
    assert tel.total(n.UNPRICED_CALLS.name, model="acme-claude-private-2026-01-01") == 1
    assert tel.points(n.COST_USD.name) == []
    assert tel.total(n.TOKENS.name, token_type="output") == 7


# An SDK upgrade that renames a response field looks, to otel-tokens, like the field is gone.
RENAMED = {
    "openai.chat": {"rename": {"usage": "usage_v2"}},
    "openai.responses": {"rename": {"usage": "token_usage"}},
    "openai.embeddings": {"rename": {"usage": "usage_v2"}},
    "anthropic.messages": {"rename": {"usage": "usage_v2"}},
    "anthropic.messages.stream": {"rename": {"usage": "usage_v2"}},
}


@pytest.mark.parametrize("name", RENAMED)
def test_a_renamed_usage_field_is_a_missing_usage(tolerant: Any, client_for: Any, name: str) -> None:
    provider, call = CALLS[name]
    client = client_for(provider, RENAMED[name])
    expected = call(client, {})
    tel = tolerant()

    assert call(client, {}) == expected
    span = tel.only_span()
    assert span.attributes[n.ATTR_USAGE_SOURCE] == "missing"
    assert span.attributes[n.GEN_AI_RESPONSE_MODEL]  # the rest of the response is still read
    assert tel.total(n.CALLS.name, status="ok") == 1
    assert tel.points(n.TOKENS.name) == []


def test_renamed_model_and_choices_fall_back_to_the_request(tolerant: Any, client_for: Any) -> None:
    client = client_for("openai", {"rename": {"model": "model_name", "choices": "outputs"}})
    expected = normalized(_chat(client))
    tel = tolerant()

    reply = _chat(client)

    assert normalized(reply) == expected
    attrs = tel.only_span().attributes
    assert n.GEN_AI_RESPONSE_MODEL not in attrs
    assert n.GEN_AI_RESPONSE_FINISH_REASONS not in attrs
    assert attrs[n.ATTR_USAGE_SOURCE] == "provider"
    assert tel.total(n.CALLS.name, model=MODEL, status="ok") == 1  # labelled with the request's model
    assert attrs[n.ATTR_COST_PRICED] is True


def test_a_renamed_usage_field_does_not_show_the_hidden_usage_chunk(tolerant: Any, client_for: Any) -> None:
    client = client_for("openai", {"rename": {"usage": "usage_v2"}})

    def choices() -> list[Any]:
        return [normalized(chunk.choices) for chunk in _chat(client, stream=True)]

    expected = choices()
    tolerant()
    assert choices() == expected  # no extra usage-only chunk, without choices, at the end
