"""The span processor: otel-tokens' metrics and outcomes from other instrumentations' spans.

The real peer in this environment is the ``anthropic`` SDK's built-in OpenTelemetry tracing over
HTTP to the fake server (the official OpenAI instrumentation and OpenLLMetry run in their own
environments: tests/test_processor_peers.py). Every attribute alias of ``span_usage.ALIASES`` is
exercised with spans a plain OTel tracer makes, shaped as each peer shapes them.

Anthropic calls send ``x-fake-input-tokens: 20`` (Anthropic's *uncached* input), 5 cache-read,
7 cache-write and 10 output tokens: GenAI input is 32, the billed total 42.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import pytest
from conftest import Telemetry, instrumenting, make_telemetry
from genai_prices import Usage as PriceUsage
from genai_prices import calc_price
from helpers_faults import boom
from helpers_providers import CACHE_HEADERS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import _logs, baggage, context, metrics, trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

import otel_tokens
from otel_tokens import config, names, runtime, span_usage
from otel_tokens.processor import TokenMetricsSpanProcessor

MODEL = "claude-sonnet-4-6"
RESPONSE_MODEL = f"{MODEL}-2026-01-01"
HEADERS = CACHE_HEADERS
SPLIT = {"input": 20, "cache_read": 5, "cache_write": 7, "output": 10, "reasoning": 0}
TOTAL = 42
MSGS = [{"role": "user", "content": "hello"}]
CALL_METRICS = (names.TOKENS.name, names.COST_USD.name, names.CALLS.name, names.UNPRICED_CALLS.name)


def args(**headers: str) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 64, "messages": MSGS, "extra_headers": {**HEADERS, **headers}}


def anthropic_cost(input_tokens=32, cache_read=5, cache_write=7, output=10, model=MODEL) -> float:
    usage = PriceUsage(
        input_tokens=input_tokens,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        output_tokens=output,
    )
    return float(calc_price(usage, model, provider_id="anthropic").total_price)


def split_of(tel: Telemetry, **labels: str) -> dict[str, float]:
    return {t: tel.total(names.TOKENS.name, token_type=t, **labels) for t in names.TOKEN_TYPES}


def call_metrics(tel: Telemetry) -> dict[tuple[str, frozenset[tuple[str, Any]]], float]:
    """Every data point of the call metrics, by metric and labels (for whole-pipeline comparisons)."""
    return {(m, frozenset(attrs.items())): value for m in CALL_METRICS for attrs, value in tel.points(m)}


@contextlib.contextmanager
def running(mode: str, **settings: Any) -> Iterator[Telemetry]:
    """otel-tokens in ``mode`` with fresh in-memory providers; internal errors re-raise by default."""
    tel = make_telemetry()
    with instrumenting(tel, raise_internal_errors=settings.pop("raise_internal_errors", True)) as start:
        yield start(mode=mode, **settings)


@pytest.fixture
def processor_mode() -> Iterator[Telemetry]:
    with running("processor") as tel:
        yield tel


def traced_client(fake_llm, tel: Telemetry, *, aio: bool = False) -> Any:
    """An anthropic client whose built-in tracing exports to ``tel`` (the SDK's own option)."""
    cls = anthropic.AsyncAnthropic if aio else anthropic.Anthropic
    return cls(
        base_url=fake_llm.anthropic_base_url,
        api_key="test",
        max_retries=0,
        open_telemetry={"tracer_provider": tel.tracer_provider},
    )


def sdk_spans(tel: Telemetry) -> list[ReadableSpan]:
    return [s for s in tel.finished_spans() if s.name == "anthropic.messages.create"]


# --- the anthropic SDK's built-in tracing, through the processor ---------------------------------


async def _every_surface(sync_client: Any, async_client: Any) -> None:
    sync_client.messages.create(**args())
    await async_client.messages.create(**args())
    for _event in sync_client.messages.create(**args(), stream=True):
        pass
    with sync_client.messages.stream(**args()) as stream:
        stream.until_done()
    async with async_client.messages.stream(**args()) as astream:
        await astream.until_done()
    sync_client.messages.create(**args(**{"x-fake-reasoning-tokens": "3"}))


async def test_sdk_tracing_gives_the_same_metrics_as_our_instrumentation(fake_llm) -> None:
    """The same six calls (create, async create, raw stream, stream helpers, thinking tokens)
    instrumented by otel-tokens, then only traced by the SDK and read by the processor: every
    call metric point is equal, and the cost is genai-prices' for the token split."""
    plain = anthropic.Anthropic(base_url=fake_llm.anthropic_base_url, api_key="test", max_retries=0)
    aplain = anthropic.AsyncAnthropic(base_url=fake_llm.anthropic_base_url, api_key="test", max_retries=0)
    with running("instrument") as own:
        with otel_tokens.task("triage", team="support"):
            await _every_surface(plain, aplain)
        assert sdk_spans(own) == []  # conftest turns the SDK's tracing off by default
        ours = call_metrics(own)
    with running("processor") as derived:
        with otel_tokens.task("triage", team="support"):
            await _every_surface(traced_client(fake_llm, derived), traced_client(fake_llm, derived, aio=True))
        assert len(sdk_spans(derived)) == 6
        assert {s.instrumentation_scope.name for s in derived.finished_spans()} == {
            "com.anthropic.sdk.python"
        }
        theirs = call_metrics(derived)
        labels = {"provider": "anthropic", "model": RESPONSE_MODEL, "operation": "chat", "task": "triage"}
        assert split_of(derived, team="support", **labels) == {
            "input": 6 * 20,
            "cache_read": 6 * 5,
            "cache_write": 6 * 7,
            "output": 6 * 10 - 3,
            "reasoning": 3,
        }
        assert derived.total(names.CALLS.name, status="ok", team="support", **labels) == 6
        assert derived.total(names.COST_USD.name, **labels) == pytest.approx(6 * anthropic_cost())
    assert theirs.keys() == ours.keys()
    for key, value in ours.items():
        assert theirs[key] == pytest.approx(value), key


def test_failed_call_counts_as_an_error_outcome(processor_mode, fake_llm) -> None:
    client = traced_client(fake_llm, processor_mode)
    with pytest.raises(anthropic.InternalServerError):
        client.messages.create(**args(**{"x-fake-status": "500"}))
    [span] = sdk_spans(processor_mode)
    assert span.status.status_code is StatusCode.ERROR
    labels = {"provider": "anthropic", "model": MODEL, "operation": "chat", "task": "unlabeled", "team": ""}
    assert processor_mode.total(names.CALLS.name, status="error", **labels) == 1
    assert processor_mode.total(names.TOKENS.name) == 0
    assert processor_mode.total(names.OUTCOME_CALLS.name, outcome="error", **labels) == 1


def test_the_processor_adds_no_span_and_patches_nothing(processor_mode, fake_llm) -> None:
    from anthropic.resources.messages import Messages

    assert type(vars(Messages)["create"]).__name__ == "function"
    reply = traced_client(fake_llm, processor_mode).messages.create(**args())
    assert type(reply) is anthropic.types.Message  # the SDK's own object, no proxy
    assert [s.name for s in processor_mode.finished_spans()] == ["anthropic.messages.create"]


# --- outcomes by response id, response object, ref and run ---------------------------------------


def outcome_of(tel: Telemetry, outcome: str, **labels: str) -> tuple[float, float, float]:
    """(calls, tokens, cost) under ``outcome``."""
    return (
        tel.total(names.OUTCOME_CALLS.name, outcome=outcome, **labels),
        tel.total(names.OUTCOME_TOKENS.name, outcome=outcome, **labels),
        tel.total(names.OUTCOME_COST_USD.name, outcome=outcome, **labels),
    )


def check_resolved(tel: Telemetry, outcome: str, *, task: str = "unlabeled") -> None:
    """The one SDK span's call resolved once as ``outcome``, with the call's tokens and cost, and
    its outcome event is parented to the SDK's span and carries its response id."""
    [span] = sdk_spans(tel)
    labels = {"provider": "anthropic", "model": RESPONSE_MODEL, "operation": "chat", "task": task}
    calls, tokens, cost = outcome_of(tel, outcome, **labels)
    assert (calls, tokens) == (1, TOTAL)
    assert cost == pytest.approx(anthropic_cost())
    [event] = [e.log_record for e in tel.outcome_events()]
    assert (event.trace_id, event.span_id) == (span.context.trace_id, span.context.span_id)
    assert event.attributes[names.GEN_AI_EVALUATION_SCORE_LABEL] == outcome
    assert event.attributes[names.GEN_AI_RESPONSE_ID] == span.attributes[names.GEN_AI_RESPONSE_ID]


@pytest.mark.parametrize(
    ("give", "outcome"),
    [
        (lambda reply: otel_tokens.record_outcome(outcome="used", response_id=reply.id), "used"),
        (lambda reply: otel_tokens.mark_discarded(reply), "discarded"),  # found by its .id
        (lambda reply: otel_tokens.record_outcome(otel_tokens.outcome_ref(reply), "used"), "used"),
    ],
    ids=["response_id", "response", "ref"],
)
def test_verdicts_reach_calls_another_instrumentation_traced(
    processor_mode, fake_llm, give: Callable[[Any], None], outcome: str
) -> None:
    reply = traced_client(fake_llm, processor_mode).messages.create(**args())
    assert processor_mode.total(names.PENDING_CALLS.name) == 1
    give(reply)
    check_resolved(processor_mode, outcome)
    assert processor_mode.total(names.PENDING_CALLS.name) == 0


def test_streamed_call_is_judged_by_its_response_id(processor_mode, fake_llm) -> None:
    with traced_client(fake_llm, processor_mode).messages.stream(**args()) as stream:
        message = stream.get_final_message()
    otel_tokens.record_outcome(outcome="used", response_id=message.id)
    check_resolved(processor_mode, "used")


def test_run_verdict_applies_and_unjudged_calls_are_unmarked_not_unread(processor_mode, fake_llm) -> None:
    client = traced_client(fake_llm, processor_mode)
    with otel_tokens.task("agent") as run:
        client.messages.create(**args())
        run.mark_used()
    check_resolved(processor_mode, "used", task="agent")
    # Without patching nothing tracks reads: an unjudged call cannot be called "unread".
    client.messages.create(**args())
    rt = runtime.get()
    assert rt is not None
    rt.tracker.sweep(now=time.monotonic() + 10 * rt.settings.outcome_ttl_s)
    assert outcome_of(processor_mode, "unmarked")[0] == 1
    assert outcome_of(processor_mode, "unread")[0] == 0


# --- every alias of the table, as each peer shapes its spans ---------------------------------------

OPENAI = "gpt-4o-mini"
# 100 input of which 30 cached, 40 output of which 10 reasoning.
OPENAI_SPLIT = {"input": 70, "cache_read": 30, "cache_write": 0, "output": 30, "reasoning": 10}
OPENAI_SHAPES = {
    "semconv": {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": OPENAI,
        "gen_ai.usage.input_tokens": 100,
        "gen_ai.usage.output_tokens": 40,
        "gen_ai.usage.cache_read.input_tokens": 30,
        "gen_ai.usage.reasoning.output_tokens": 10,
    },
    "semconv deprecated + openllmetry": {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "openai",
        "gen_ai.request.model": OPENAI,
        "gen_ai.usage.prompt_tokens": 100,
        "gen_ai.usage.completion_tokens": 40,
        "gen_ai.usage.cache_read_input_tokens": 30,
        "gen_ai.usage.reasoning_tokens": 10,
    },
    "openllmetry early": {
        "llm.request.type": "chat",
        "gen_ai.system": "OpenAI",
        "gen_ai.request.model": OPENAI,
        "llm.usage.prompt_tokens": 100,
        "llm.usage.completion_tokens": 40,
        "llm.usage.reasoning_tokens": 10,
        "gen_ai.usage.cache_read.input_tokens": 30,
    },
    "openinference": {
        "openinference.span.kind": "LLM",
        "llm.provider": "openai",
        "llm.model_name": OPENAI,
        "llm.token_count.prompt": 100,
        "llm.token_count.completion": 40,
        "llm.token_count.prompt_details.cache_read": 30,
        "llm.token_count.completion_details.reasoning": 10,
    },
}
# 32 input of which 5 cache reads and 7 cache writes, 10 output.
ANTHROPIC_SHAPES = {
    "anthropic sdk / util-genai": {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": MODEL,
        "gen_ai.usage.input_tokens": 32,
        "gen_ai.usage.output_tokens": 10,
        "gen_ai.usage.cache_read.input_tokens": 5,
        "gen_ai.usage.cache_write.input_tokens": 7,
    },
    "semconv package": {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": MODEL,
        "gen_ai.usage.input_tokens": 32,
        "gen_ai.usage.output_tokens": 10,
        "gen_ai.usage.cache_read.input_tokens": 5,
        "gen_ai.usage.cache_creation.input_tokens": 7,
    },
    "openllmetry old cache names": {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "Anthropic",
        "gen_ai.request.model": MODEL,
        "gen_ai.usage.input_tokens": 32,
        "gen_ai.usage.output_tokens": 10,
        "gen_ai.usage.cache_read_input_tokens": 5,
        "gen_ai.usage.cache_creation_input_tokens": 7,
    },
    "openinference": {
        "openinference.span.kind": "LLM",
        "llm.system": "anthropic",
        "llm.model_name": MODEL,
        "llm.token_count.prompt": 32,
        "llm.token_count.completion": 10,
        "llm.token_count.prompt_details.cache_read": 5,
        "llm.token_count.prompt_details.cache_write": 7,
    },
    "uncached input only (anthropic's raw field)": {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": MODEL,
        "gen_ai.usage.input_tokens": 4,  # below its parts: the parts are added back
        "gen_ai.usage.output_tokens": 10,
        "gen_ai.usage.cache_read.input_tokens": 21,
        "gen_ai.usage.cache_write.input_tokens": 7,
    },
}


def emit(
    tel: Telemetry, attributes: dict[str, Any], *, scope: str = "peer.instrumentation", **kw: Any
) -> Any:
    tracer = tel.tracer_provider.get_tracer(scope)
    with tracer.start_as_current_span("peer call", kind=SpanKind.CLIENT, attributes=attributes, **kw) as span:
        return span


@pytest.mark.parametrize("shape", OPENAI_SHAPES)
def test_openai_shaped_spans(processor_mode, shape: str) -> None:
    emit(processor_mode, OPENAI_SHAPES[shape])
    labels = {"provider": "openai", "model": OPENAI, "operation": "chat"}
    assert split_of(processor_mode, **labels) == OPENAI_SPLIT
    usage = PriceUsage(input_tokens=100, cache_read_tokens=30, output_tokens=40)
    expected = float(calc_price(usage, OPENAI, provider_id="openai").total_price)
    assert processor_mode.total(names.COST_USD.name, **labels) == pytest.approx(expected)
    assert processor_mode.total(names.CALLS.name, status="ok", **labels) == 1


@pytest.mark.parametrize("shape", ANTHROPIC_SHAPES)
def test_anthropic_shaped_spans(processor_mode, shape: str) -> None:
    emit(processor_mode, ANTHROPIC_SHAPES[shape])
    labels = {"provider": "anthropic", "model": MODEL, "operation": "chat"}
    if shape.startswith("uncached"):
        assert split_of(processor_mode, **labels) == {**SPLIT, "input": 4, "cache_read": 21}
        cost = anthropic_cost(input_tokens=32, cache_read=21)
    else:
        assert split_of(processor_mode, **labels) == SPLIT
        cost = anthropic_cost()
    assert processor_mode.total(names.COST_USD.name, **labels) == pytest.approx(cost)


def test_embeddings_and_unpriced_models(processor_mode) -> None:
    emit(
        processor_mode,
        {
            "gen_ai.operation.name": "embeddings",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "text-embedding-3-small",
            "gen_ai.usage.input_tokens": 12,
        },
    )
    emit(
        processor_mode,
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "my-lab",
            "gen_ai.request.model": "private-model",
            "gen_ai.usage.input_tokens": 5,
            "gen_ai.usage.output_tokens": 5,
        },
    )
    embedding = {"provider": "openai", "model": "text-embedding-3-small", "operation": "embeddings"}
    assert split_of(processor_mode, **embedding)["input"] == 12
    price = calc_price(PriceUsage(input_tokens=12), "text-embedding-3-small", provider_id="openai")
    assert processor_mode.total(names.COST_USD.name, **embedding) == pytest.approx(float(price.total_price))
    private = {"provider": "my-lab", "model": "private-model"}
    assert processor_mode.total(names.UNPRICED_CALLS.name, **private) == 1
    assert processor_mode.total(names.COST_USD.name, **private) == 0


@pytest.mark.parametrize(
    "attributes",
    [
        {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.provider.name": "openai",
            "gen_ai.usage.input_tokens": 9,
        },
        {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"},
        {"openinference.span.kind": "CHAIN", "llm.token_count.prompt": 9},
        {"gen_ai.provider.name": "anthropic", "gen_ai.request.model": MODEL},  # count_tokens: no operation
        {"http.request.method": "POST", "gen_ai.usage.input_tokens": 9},
    ],
    ids=["agent", "tool", "chain", "no-operation", "http"],
)
def test_spans_that_are_no_model_call_are_ignored(processor_mode, attributes) -> None:
    emit(processor_mode, attributes)
    assert processor_mode.total(names.CALLS.name) == 0
    assert processor_mode.total(names.PENDING_CALLS.name) == 0


def test_missing_usage_counts_the_call_without_tokens(processor_mode) -> None:
    emit(
        processor_mode,
        {"gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": OPENAI},
    )
    assert processor_mode.total(names.CALLS.name, status="ok", model=OPENAI) == 1
    assert processor_mode.total(names.TOKENS.name) == 0
    assert processor_mode.total(names.UNPRICED_CALLS.name) == 0  # no usage is not "no price"


# --- one call, one count -----------------------------------------------------------------------


OUR_SPAN = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": OPENAI}


def test_spans_in_our_scope_and_their_foreign_children_are_not_counted(processor_mode) -> None:
    ours = processor_mode.tracer_provider.get_tracer(names.INSTRUMENTATION_NAME)
    with ours.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=OUR_SPAN):
        emit(processor_mode, OPENAI_SHAPES["semconv"])  # e.g. the SDK's own span inside our call
    assert processor_mode.total(names.CALLS.name) == 0


def test_a_foreign_span_around_ours_is_not_counted(processor_mode) -> None:
    """A peer whose wrapper runs outside ours: our call span starts inside its span."""
    tracer = processor_mode.tracer_provider.get_tracer("peer.instrumentation")
    ours = processor_mode.tracer_provider.get_tracer(names.INSTRUMENTATION_NAME)
    with (
        tracer.start_as_current_span("peer", attributes=OPENAI_SHAPES["semconv"]),
        ours.start_as_current_span("chat gpt-4o-mini", attributes=OUR_SPAN),
    ):
        pass
    assert processor_mode.total(names.CALLS.name) == 0


def test_nested_foreign_call_spans_count_once_as_the_outermost(processor_mode) -> None:
    """A framework's LLM span around a router's around the SDK's: one call, the usage from inside."""
    framework = {"openinference.span.kind": "LLM", "llm.provider": "openai", "llm.model_name": OPENAI}
    tracer = processor_mode.tracer_provider.get_tracer("framework")
    with (
        tracer.start_as_current_span("framework llm", attributes=framework) as outer,
        tracer.start_as_current_span("router llm", attributes=framework),
    ):
        inner = emit(processor_mode, {**OPENAI_SHAPES["semconv"], "gen_ai.response.id": "chatcmpl-1"})
    assert processor_mode.total(names.CALLS.name) == 1
    assert split_of(processor_mode, model=OPENAI) == OPENAI_SPLIT  # usage taken from the inner span
    otel_tokens.mark_used(_Replied("chatcmpl-1"))
    [event] = [e.log_record for e in processor_mode.outcome_events()]
    assert event.span_id == outer.get_span_context().span_id != inner.get_span_context().span_id


def test_calls_inside_an_agent_span_count_each(processor_mode) -> None:
    tracer = processor_mode.tracer_provider.get_tracer("agents")
    with tracer.start_as_current_span("invoke_agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
        emit(processor_mode, OPENAI_SHAPES["semconv"])
        emit(processor_mode, OPENAI_SHAPES["openinference"])
    assert processor_mode.total(names.CALLS.name) == 2
    assert processor_mode.total(names.TOKENS.name) == 2 * 140


class _Replied:
    """Stands for an SDK response: verdicts find a call by the response's ``id``."""

    def __init__(self, response_id: str) -> None:
        self.id = response_id


# --- task and team come from the context the span started in -------------------------------------


def test_labels_come_from_the_start_context_even_when_the_span_ends_elsewhere(processor_mode) -> None:
    tracer = processor_mode.tracer_provider.get_tracer("peer.instrumentation")
    with otel_tokens.task("summarize", team="docs"):
        span = tracer.start_span("peer call", attributes=OPENAI_SHAPES["semconv"])
    ender = threading.Thread(target=span.end)  # a stream finalizer or a worker thread ends it
    ender.start()
    ender.join()
    assert processor_mode.total(names.CALLS.name, task="summarize", team="docs") == 1


def test_labels_from_upstream_baggage(processor_mode) -> None:
    ctx = baggage.set_baggage(names.BAGGAGE_TASK, "upstream-task")
    ctx = baggage.set_baggage(names.BAGGAGE_TEAM, "platform", ctx)
    token = context.attach(ctx)
    try:
        emit(processor_mode, OPENAI_SHAPES["semconv"])
    finally:
        context.detach(token)
    assert processor_mode.total(names.CALLS.name, task="upstream-task", team="platform") == 1


def test_a_span_the_processor_did_not_see_start_takes_the_ending_context(processor_mode) -> None:
    tracer = processor_mode.tracer_provider.get_tracer("late")
    span = tracer.start_span("peer call")  # no GenAI attributes yet at start
    span.set_attributes(OPENAI_SHAPES["semconv"])
    with otel_tokens.task("late-labels"):
        span.end()
    assert processor_mode.total(names.CALLS.name, task="late-labels") == 1


# --- hostile attribute values: ignored, never an exception ----------------------------------------

_KEYS = sorted(
    {attribute for _, attribute, _ in span_usage.ALIASES}
    | {names.ERROR_TYPE, names.SERVER_PORT, names.SERVER_ADDRESS}
)
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=300),
    st.sampled_from(["chat", "LLM", "embeddings", "invoke_agent", "openai", "anthropic", "x" * 600]),
    st.binary(max_size=20),
    st.lists(st.one_of(st.integers(), st.text(max_size=5)), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
_IDS = iter(range(1, 10**9))


def _readable(attributes: dict[str, Any], *, failed: bool) -> ReadableSpan:
    # Built directly, so values the OTel SDK would drop or coerce reach the processor as they are.
    span_id = next(_IDS)
    ctx = SpanContext(0xABC, span_id, is_remote=False, trace_flags=TraceFlags(1))
    status = Status(StatusCode.ERROR) if failed else Status(StatusCode.UNSET)
    return ReadableSpan("hostile", ctx, attributes=attributes, status=status, kind=SpanKind.CLIENT)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(attributes=st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=12), failed=st.booleans())
def test_hostile_attribute_values_never_raise(processor_mode, attributes, failed) -> None:
    """Internal errors re-raise here, so anything short of clean handling fails the test; the call
    counts once exactly when the attributes describe one, with sane non-negative tokens."""
    proc = TokenMetricsSpanProcessor()
    before = processor_mode.total(names.CALLS.name)
    span = _readable(attributes, failed=failed)
    proc.on_start(span, None)  # type: ignore[arg-type]
    proc.on_end(span)
    counted = processor_mode.total(names.CALLS.name) - before
    call = span_usage.observed_call(attributes, failed=failed)
    assert counted == (0 if call is None else 1)
    if call is not None:
        usage = call.response.usage
        assert usage is None or all(0 <= n <= 3 * 10**12 for n in usage.counts())
        assert call.request.provider == span_usage.UNKNOWN_PROVIDER or len(call.request.provider) <= 64


# --- never break the app: a failing processor is counted, the span and the call go on --------------


@pytest.fixture
def tolerant() -> Iterator[Telemetry]:
    with running("processor", raise_internal_errors=False) as tel:
        yield tel


@pytest.mark.parametrize(
    ("target", "still_counted"),
    [
        ("otel_tokens.processor.may_be_call", 4),  # on_start fails: on_end still counts each call
        ("otel_tokens.processor.observed_call", 0),
        ("otel_tokens.runtime.Runtime.observe", 0),
    ],
)
async def test_processor_failures_never_reach_the_app(
    tolerant, fake_llm, monkeypatch, target: str, still_counted: int
) -> None:
    baseline = anthropic.Anthropic(base_url=fake_llm.anthropic_base_url, api_key="test", max_retries=0)
    expected = baseline.messages.create(**args()).content[0].text
    monkeypatch.setattr(target, boom)
    client = traced_client(fake_llm, tolerant)
    aclient = traced_client(fake_llm, tolerant, aio=True)
    assert client.messages.create(**args()).content[0].text == expected
    assert (await aclient.messages.create(**args())).content[0].text == expected
    with client.messages.stream(**args()) as stream:
        assert stream.get_final_message().content[0].text == expected
    with pytest.raises(anthropic.InternalServerError) as failed:
        client.messages.create(**args(**{"x-fake-status": "500"}))
    assert failed.value.status_code == 500
    assert len(sdk_spans(tolerant)) == 4  # the exporter after us still got every span
    assert tolerant.total(names.INTERNAL_ERRORS.name, stage="processor") >= 4
    assert tolerant.total(names.CALLS.name) == still_counted


# --- modes: OTEL_TOKENS_MODE, instrument(mode=...), init(mode=...) ----------------------------------


def test_mode_setting() -> None:
    assert config.load({}).mode == "instrument"
    assert config.load({"OTEL_TOKENS_MODE": " Processor "}).mode == "processor"
    assert config.load({"OTEL_TOKENS_MODE": "both"}).mode == "both"
    with pytest.raises(ValueError, match="OTEL_TOKENS_MODE"):
        config.load({"OTEL_TOKENS_MODE": "patch-everything"})
    with pytest.raises(ValueError, match="'instrument', 'processor', 'both'"):
        config.load({}, mode="sometimes")
    with pytest.raises(TypeError, match="mode must be a str"):
        config.load({}, mode=1)


def test_env_var_selects_processor_mode(telemetry, monkeypatch) -> None:
    from anthropic.resources.messages import Messages

    monkeypatch.setenv("OTEL_TOKENS_MODE", "processor")
    try:
        done = otel_tokens.instrument(
            telemetry.tracer_provider, telemetry.meter_provider, telemetry.logger_provider
        )
        assert done == ["processor"]
        assert type(vars(Messages)["create"]).__name__ == "function"
        emit(telemetry, OPENAI_SHAPES["semconv"])
        assert telemetry.total(names.CALLS.name) == 1
    finally:
        otel_tokens.uninstrument()
    emit(telemetry, OPENAI_SHAPES["semconv"])  # after uninstrument the processor stays, inert
    assert telemetry.total(names.CALLS.name) == 1


def test_bad_mode_is_refused_before_anything_happens(telemetry) -> None:
    with pytest.raises(ValueError, match="mode must be one of"):
        otel_tokens.instrument(telemetry.tracer_provider, mode="bogus")
    assert runtime.get() is None


def test_init_in_processor_mode_uses_the_apps_providers(telemetry, fake_llm, monkeypatch) -> None:
    """An app with its own global providers: init adds the processor to its tracer provider and
    patches nothing; the SDK's tracing (on by default, via the global provider) feeds it."""
    from opentelemetry._logs import _internal as logs_internal
    from opentelemetry.metrics import _internal as metrics_internal

    monkeypatch.setattr(trace, "_TRACER_PROVIDER", telemetry.tracer_provider)
    monkeypatch.setattr(metrics_internal, "_METER_PROVIDER", telemetry.meter_provider)
    monkeypatch.setattr(logs_internal, "_LOGGER_PROVIDER", telemetry.logger_provider)
    assert trace.get_tracer_provider() is telemetry.tracer_provider
    assert metrics.get_meter_provider() is telemetry.meter_provider
    assert _logs.get_logger_provider() is telemetry.logger_provider
    handle = otel_tokens.init(prometheus_port=-1, mode="processor")
    try:
        assert handle.instrumented == ["processor"]
        assert handle.owned == []
        monkeypatch.delenv("ANTHROPIC_OPEN_TELEMETRY")  # the SDK's default: trace when a provider exists
        client = anthropic.Anthropic(base_url=fake_llm.anthropic_base_url, api_key="test", max_retries=0)
        reply = client.messages.create(**args())
        otel_tokens.mark_used(reply)
        assert telemetry.total(names.TOKENS.name) == TOTAL
        assert telemetry.total(names.OUTCOME_CALLS.name, outcome="used") == 1
    finally:
        handle.shutdown()
    assert runtime.get() is None
