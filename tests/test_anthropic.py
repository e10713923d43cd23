"""Anthropic messages through the real SDK over HTTP: span attributes, token types, cost, raw
responses, beta, count_tokens, outcomes, the SDK's own tracing, and uninstrument.

Every call sends ``x-fake-input-tokens: 20`` (Anthropic's *uncached* input), 5 cache-read,
7 cache-write, 10 output tokens: GenAI input is 20 + 5 + 7 = 32.
"""

from __future__ import annotations

import inspect
import warnings

import anthropic
import pytest
from genai_prices import Usage as PriceUsage
from genai_prices import calc_price
from helpers_providers import CACHE_HEADERS, check_patches_undone, read_then_release, request_attributes

import otel_tokens
from otel_tokens import names
from otel_tokens.instrumentation.anthropic import LIBRARY, STREAM_HELPERS, AnthropicInstrumentor

# Features of newer anthropic releases, so the same tests run against the oldest supported one too.
HAS_PARSE = hasattr(anthropic.resources.messages.Messages, "parse")
HAS_OUTPUT_CONFIG = (
    "output_config" in inspect.signature(anthropic.resources.messages.Messages.create).parameters
)

MODEL = "claude-sonnet-4-6"
HEADERS = CACHE_HEADERS
TOTAL = 42  # 32 input + 10 output
MSGS = [{"role": "user", "content": "hello"}]


def args(model=MODEL, **headers):
    return {"model": model, "max_tokens": 64, "messages": MSGS, "extra_headers": {**HEADERS, **headers}}


def expected_cost(model=MODEL, output=10):
    usage = PriceUsage(input_tokens=32, cache_read_tokens=5, cache_write_tokens=7, output_tokens=output)
    return float(calc_price(usage, model, provider_id="anthropic").total_price)


def check_call_span(tel, span, *, model=MODEL, stream=False, finish="end_turn"):
    attrs = dict(span.attributes or {})
    assert span.name == f"chat {model}"
    assert span.kind.name == "CLIENT"
    assert attrs.pop(names.GEN_AI_RESPONSE_ID).startswith("msg_fake")
    assert attrs.pop(names.SERVER_PORT) > 0
    if stream:
        assert attrs.pop(names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK) > 0
    assert attrs.pop(names.ATTR_COST_USD) == pytest.approx(expected_cost(model))
    assert attrs == {
        names.GEN_AI_OPERATION_NAME: "chat",
        names.GEN_AI_PROVIDER_NAME: "anthropic",
        names.GEN_AI_REQUEST_MODEL: model,
        names.GEN_AI_REQUEST_MAX_TOKENS: 64,
        names.GEN_AI_OUTPUT_TYPE: "text",
        names.GEN_AI_RESPONSE_MODEL: f"{model}-2026-01-01",
        names.GEN_AI_RESPONSE_FINISH_REASONS: (finish,),
        names.GEN_AI_USAGE_INPUT_TOKENS: 32,
        names.GEN_AI_USAGE_OUTPUT_TOKENS: 10,
        names.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 5,
        names.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 7,
        names.SERVER_ADDRESS: "127.0.0.1",
        names.ATTR_TASK: "unlabeled",
        names.ATTR_USAGE_SOURCE: "provider",
        names.ATTR_COST_PRICED: True,
    }
    labels = {"provider": "anthropic", "model": f"{model}-2026-01-01"}
    by_type = {t: tel.total(names.TOKENS.name, token_type=t, **labels) for t in names.TOKEN_TYPES}
    assert by_type == {"input": 20, "cache_read": 5, "cache_write": 7, "output": 10, "reasoning": 0}
    assert tel.total(names.CALLS.name, status="ok", **labels) == 1
    assert tel.total(names.COST_USD.name, **labels) == pytest.approx(expected_cost(model))


def test_create(instrumented, anthropic_client) -> None:
    reply = anthropic_client.messages.create(**args())
    assert reply.content[0].text == "one two three"
    assert isinstance(reply, anthropic.types.Message)
    check_call_span(instrumented, instrumented.only_span())


async def test_async_create(instrumented, async_anthropic_client) -> None:
    reply = await async_anthropic_client.messages.create(**args())
    assert reply.content[0].text == "one two three"
    check_call_span(instrumented, instrumented.only_span())


def test_dated_and_tiered_model_is_priced(instrumented, anthropic_client) -> None:
    with warnings.catch_warnings():  # newer SDKs warn that claude-sonnet-4-5 nears end of life
        warnings.simplefilter("ignore", DeprecationWarning)
        anthropic_client.messages.create(**args("claude-sonnet-4-5"))
    check_call_span(instrumented, instrumented.only_span(), model="claude-sonnet-4-5")


def test_thinking_tokens_are_reasoning_within_output(instrumented, anthropic_client) -> None:
    anthropic_client.messages.create(**args(**{"x-fake-reasoning-tokens": "3"}))
    attrs = instrumented.only_span().attributes
    assert attrs[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 10
    assert attrs[names.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 3
    assert instrumented.total(names.TOKENS.name, token_type="output") == 7
    assert instrumented.total(names.TOKENS.name, token_type="reasoning") == 3


def test_tool_use_stop_reason_and_request_attributes(instrumented, anthropic_client) -> None:
    anthropic_client.messages.create(
        **args(**{"x-fake-tool-call": "lookup"}),
        stop_sequences=["END"],
        metadata={"user_id": "u-1"},
        **(
            {"output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}}}
            if HAS_OUTPUT_CONFIG
            else {}
        ),
    )
    span = instrumented.only_span()
    assert request_attributes(span) == {
        names.GEN_AI_REQUEST_MODEL: MODEL,
        names.GEN_AI_REQUEST_MAX_TOKENS: 64,
        names.GEN_AI_REQUEST_STOP_SEQUENCES: ("END",),
        names.GEN_AI_OUTPUT_TYPE: "json" if HAS_OUTPUT_CONFIG else "text",
    }
    assert span.attributes[names.ENDUSER_ID] == "u-1"
    assert span.attributes[names.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_use",)


def test_parse_and_beta_create_are_one_span_each(instrumented, anthropic_client) -> None:
    parse = anthropic_client.messages.parse if HAS_PARSE else anthropic_client.messages.create
    assert parse(**args()).content[0].text == "one two three"
    assert anthropic_client.beta.messages.create(**args()).content[0].text == "one two three"
    spans = instrumented.finished_spans()
    assert [s.name for s in spans] == [f"chat {MODEL}"] * 2
    assert instrumented.total(names.CALLS.name) == 2


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("surface", ["with_raw_response", "with_streaming_response"])
def test_raw_responses(instrumented, anthropic_client, surface, stream) -> None:
    def read(raw):
        parsed = raw.parse()
        return "".join(e.delta.text for e in parsed if e.type == "content_block_delta") if stream else parsed

    if surface == "with_raw_response":
        raw = anthropic_client.messages.with_raw_response.create(**args(), stream=stream)
        assert raw.headers["content-type"].startswith("text/event-stream" if stream else "application/json")
        reply = read(raw)
    else:
        with anthropic_client.messages.with_streaming_response.create(**args(), stream=stream) as raw:
            reply = read(raw)
    assert (reply if stream else reply.content[0].text) == "one two three"
    otel_tokens.mark_used(raw)
    check_call_span(instrumented, instrumented.only_span(), stream=stream)
    assert instrumented.total(names.OUTCOME_CALLS.name, outcome="used") == 1


async def test_async_raw_response(instrumented, async_anthropic_client) -> None:
    raw = await async_anthropic_client.messages.with_raw_response.create(**args())
    # Awaitable (AsyncAPIResponse), or already parsed (anthropic 0.x's LegacyAPIResponse).
    parsed = raw.parse()
    assert (await parsed if inspect.isawaitable(parsed) else parsed).content[0].text == "one two three"
    check_call_span(instrumented, instrumented.only_span())


async def test_count_tokens_is_not_a_billed_call(
    instrumented, anthropic_client, async_anthropic_client
) -> None:
    assert (
        anthropic_client.messages.count_tokens(model=MODEL, messages=MSGS, extra_headers=HEADERS).input_tokens
        == 20
    )
    assert (await async_anthropic_client.messages.count_tokens(model=MODEL, messages=MSGS)).input_tokens == 1
    assert anthropic_client.beta.messages.count_tokens(model=MODEL, messages=MSGS).input_tokens == 1
    assert instrumented.finished_spans() == []
    assert instrumented.points(names.CALLS.name) == []
    assert instrumented.points(names.TOKENS.name) == []


def test_http_error_is_one_failed_call(instrumented, anthropic_client) -> None:
    with pytest.raises(anthropic.APIStatusError) as caught:  # InternalServerError, OverloadedError in 0.x
        anthropic_client.messages.create(**args(**{"x-fake-status": "529"}))
    assert caught.value.status_code == 529
    span = instrumented.only_span()
    assert span.attributes[names.ERROR_TYPE] == "529"
    assert instrumented.total(names.CALLS.name, status="error") == 1
    assert instrumented.total(names.OUTCOME_CALLS.name, outcome="error") == 1


def test_platform_clients_name_their_provider(instrumented, fake_llm) -> None:
    vertex = anthropic.AnthropicVertex(
        region="us-east5",
        project_id="p",
        access_token="t",
        base_url=fake_llm.anthropic_base_url,
        max_retries=0,
    )
    with pytest.raises(anthropic.NotFoundError):  # the fake server speaks only Anthropic's own API
        vertex.messages.create(**args())
    assert instrumented.only_span().attributes[names.GEN_AI_PROVIDER_NAME] == "gcp.vertex_ai"


def test_mark_used_on_a_response(instrumented, anthropic_client, check_outcome) -> None:
    reply = anthropic_client.messages.create(**args())
    otel_tokens.mark_used(reply)
    check_outcome(instrumented, instrumented.only_span(), "used", tokens=TOTAL)


@pytest.mark.parametrize(("read", "outcome"), [(None, "unread"), ("content", "unmarked")])
def test_dropped_response_is_inferred(instrumented, anthropic_client, check_outcome, read, outcome) -> None:
    read_then_release(
        anthropic_client.messages.create(**args()), metadata=("id", "usage", "model"), content=read
    )
    check_outcome(instrumented, instrumented.only_span(), outcome, tokens=TOTAL)


@pytest.mark.env("main")  # the SDK's own tracing (open_telemetry=) is in the latest releases only
def test_sdk_builtin_tracing_on_counts_once(instrumented, fake_llm) -> None:
    """With the SDK's own tracing on, the SDK's ``anthropic.messages.create`` CLIENT span is a
    child of ours (our call span is current during the SDK call); metrics are recorded once."""
    traced = anthropic.Anthropic(
        base_url=fake_llm.anthropic_base_url,
        api_key="test",
        max_retries=0,
        open_telemetry={"tracer_provider": instrumented.tracer_provider},
    )
    app = instrumented.tracer_provider.get_tracer("app")
    with app.start_as_current_span("app") as parent:
        traced.messages.create(**args())
        for _event in traced.messages.create(**args(), stream=True):
            pass
        with traced.messages.stream(**args()) as stream:
            stream.until_done()
    spans = [s for s in instrumented.finished_spans() if s.name != "app"]
    assert sorted(s.name for s in spans) == ["anthropic.messages.create"] * 3 + [f"chat {MODEL}"] * 3
    ours = [s for s in spans if s.name == f"chat {MODEL}"]
    assert {s.parent.span_id for s in ours} == {parent.get_span_context().span_id}
    sdk_parents = sorted(s.parent.span_id for s in spans if s.name != f"chat {MODEL}")
    assert sdk_parents == sorted(s.context.span_id for s in ours)
    assert {s.kind.name for s in spans} == {"CLIENT"}
    assert instrumented.total(names.CALLS.name) == 3
    assert instrumented.total(names.TOKENS.name) == 3 * TOTAL
    assert instrumented.total(names.COST_USD.name) == pytest.approx(3 * expected_cost())


def test_uninstrument_restores_the_original_methods(instrument_with) -> None:
    owners = check_patches_undone(instrument_with, AnthropicInstrumentor())
    assert len(LIBRARY.endpoints) + len(STREAM_HELPERS) == 12
    assert len(owners) == (12 if HAS_PARSE else 8)  # messages.parse (plain and beta) came later
    assert "count_tokens" not in {method for _, method in owners}
