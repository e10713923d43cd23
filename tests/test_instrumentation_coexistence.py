"""Another instrumentation of the same call: the ``anthropic`` SDK's built-in tracing next to
otel-tokens. What the user sees in each mode, that every call counts once, and the switches.

- ``instrument`` (default): two spans per call, ours and the SDK's ``anthropic.messages.create``
  as its child; metrics once (only otel-tokens records them).
- ``both``: the same two spans; the processor recognises the SDK's span as a duplicate of our
  call and does not count it again.
- Switches: ``ANTHROPIC_OPEN_TELEMETRY=false`` (read when the client is constructed) leaves our
  span only; ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=otel_tokens_anthropic`` with ``both`` or
  ``processor`` leaves the SDK's span only, still counted (by the processor).

The SDK traces itself through the *global* tracer provider once one exists; the tests point the
global provider at the in-memory one. Calls send Anthropic's uncached 20, cache-read 5,
cache-write 7 and output 10 tokens: 42 billed.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from conftest import Telemetry
from genai_prices import Usage as PriceUsage
from genai_prices import calc_price
from opentelemetry import trace
from opentelemetry.trace import SpanKind

import otel_tokens
from otel_tokens import errors, names

MODEL = "claude-sonnet-4-6"
OUR_SPAN = f"chat {MODEL}"
SDK_SPAN = "anthropic.messages.create"
HEADERS = {
    "x-fake-input-tokens": "20",
    "x-fake-cached-tokens": "5",
    "x-fake-cache-write-tokens": "7",
    "x-fake-output-tokens": "10",
}
TOTAL = 42
COST = float(
    calc_price(
        PriceUsage(input_tokens=32, cache_read_tokens=5, cache_write_tokens=7, output_tokens=10),
        MODEL,
        provider_id="anthropic",
    ).total_price
)
ARGS: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "hello"}],
    "extra_headers": HEADERS,
}


@pytest.fixture
def sdk_tracing_on(telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch) -> Telemetry:
    """The app's global tracer provider is the in-memory one and the SDK's tracing is on."""
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", telemetry.tracer_provider)
    monkeypatch.setenv("ANTHROPIC_OPEN_TELEMETRY", "true")
    return telemetry


@pytest.fixture
def start(telemetry: Telemetry) -> Iterator[Any]:
    """``start(mode)``: otel-tokens in ``mode`` on the in-memory providers (errors re-raise)."""

    def begin(mode: str) -> list[str]:
        return otel_tokens.instrument(
            telemetry.tracer_provider,
            telemetry.meter_provider,
            telemetry.logger_provider,
            mode=mode,
            raise_internal_errors=True,
        )

    yield begin
    gc.collect()
    otel_tokens.uninstrument()
    errors.configure(None, False)
    errors.reset_logged()


def client(fake_llm: Any, *, aio: bool = False) -> Any:
    cls = anthropic.AsyncAnthropic if aio else anthropic.Anthropic
    return cls(base_url=fake_llm.anthropic_base_url, api_key="test", max_retries=0)


async def four_calls(fake_llm: Any) -> list[Any]:
    """create, async create, a raw stream and the stream helper; returns the replies."""
    sync, aio = client(fake_llm), client(fake_llm, aio=True)
    replies = [sync.messages.create(**ARGS), await aio.messages.create(**ARGS)]
    for _event in sync.messages.create(**ARGS, stream=True):
        pass
    with sync.messages.stream(**ARGS) as stream:
        replies.append(stream.get_final_message())
    return replies


def names_of(tel: Telemetry) -> list[str]:
    return sorted(s.name for s in tel.finished_spans())


def check_counted_once(tel: Telemetry, calls: int) -> None:
    labels = {"provider": "anthropic", "operation": "chat"}
    assert tel.total(names.CALLS.name, status="ok", **labels) == calls
    assert tel.total(names.TOKENS.name, **labels) == calls * TOTAL
    assert tel.total(names.COST_USD.name, **labels) == pytest.approx(calls * COST)


def check_sdk_spans_are_children_of_ours(tel: Telemetry) -> None:
    spans = tel.finished_spans()
    ours = {s.context.span_id for s in spans if s.name == OUR_SPAN}
    sdk_parents = {s.parent.span_id for s in spans if s.name == SDK_SPAN and s.parent is not None}
    assert ours and sdk_parents == ours


async def test_default_mode_two_spans_one_count(sdk_tracing_on, start, fake_llm) -> None:
    assert "otel_tokens_anthropic" in start("instrument")
    await four_calls(fake_llm)
    assert names_of(sdk_tracing_on) == [SDK_SPAN] * 4 + [OUR_SPAN] * 4
    check_sdk_spans_are_children_of_ours(sdk_tracing_on)
    check_counted_once(sdk_tracing_on, 4)


async def test_both_mode_skips_the_sdks_duplicate_span(sdk_tracing_on, start, fake_llm, caplog) -> None:
    done = start("both")
    assert "otel_tokens_anthropic" in done and "processor" in done
    with caplog.at_level(logging.INFO, logger="otel_tokens"):
        replies = await four_calls(fake_llm)
    assert names_of(sdk_tracing_on) == [SDK_SPAN] * 4 + [OUR_SPAN] * 4
    check_sdk_spans_are_children_of_ours(sdk_tracing_on)
    check_counted_once(sdk_tracing_on, 4)
    # Detected and said once, naming the other instrumentation.
    notes = [r.getMessage() for r in caplog.records if "also traces LLM calls" in r.getMessage()]
    assert len(notes) == 1
    assert "com.anthropic.sdk.python" in notes[0]
    # The call's outcome is ours (one per call), parented to our span, not the SDK's.
    for reply in replies[:2]:
        otel_tokens.mark_used(reply)
    gc.collect()  # the streams, read and dropped, are resolved by inference at release
    ours = {s.context.span_id for s in sdk_tracing_on.finished_spans() if s.name == OUR_SPAN}
    events = sdk_tracing_on.outcome_events()
    assert {e.log_record.span_id for e in events} == ours
    labels = sorted(e.log_record.attributes[names.GEN_AI_EVALUATION_SCORE_LABEL] for e in events)
    assert labels == ["unmarked", "unmarked", "used", "used"]
    assert sdk_tracing_on.total(names.PENDING_CALLS.name) == 0


async def test_both_mode_counts_calls_we_do_not_patch(sdk_tracing_on, start) -> None:
    """The point of ``both``: a library otel-tokens does not patch, traced by someone else."""
    start("both")
    tracer = sdk_tracing_on.tracer_provider.get_tracer("opentelemetry.instrumentation.botocore")
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "aws.bedrock",
        "gen_ai.request.model": "amazon.nova-micro-v1:0",
        "gen_ai.usage.input_tokens": 11,
        "gen_ai.usage.output_tokens": 4,
    }
    with tracer.start_as_current_span(
        "chat amazon.nova-micro-v1:0", kind=SpanKind.CLIENT, attributes=attributes
    ):
        pass
    assert sdk_tracing_on.total(names.CALLS.name, provider="aws.bedrock") == 1
    assert sdk_tracing_on.total(names.TOKENS.name, provider="aws.bedrock") == 15


async def test_switch_off_the_sdks_tracing(sdk_tracing_on, start, fake_llm, monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_OPEN_TELEMETRY", "false")  # read when the client is constructed
    start("both")
    await four_calls(fake_llm)
    assert names_of(sdk_tracing_on) == [OUR_SPAN] * 4
    check_counted_once(sdk_tracing_on, 4)


@pytest.mark.parametrize("mode", ["both", "processor"])
async def test_switch_off_ours_keeps_the_count(sdk_tracing_on, start, fake_llm, monkeypatch, mode) -> None:
    monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "otel_tokens_anthropic")
    assert "otel_tokens_anthropic" not in start(mode)
    replies = await four_calls(fake_llm)
    assert names_of(sdk_tracing_on) == [SDK_SPAN] * 4
    check_counted_once(sdk_tracing_on, 4)
    otel_tokens.record_outcome(outcome="used", response_id=replies[0].id)
    assert sdk_tracing_on.total(names.OUTCOME_CALLS.name, outcome="used") == 1
