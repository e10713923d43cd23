"""LiteLLM through the real package over HTTP: ``openai/...`` models go through the openai SDK,
``anthropic/...`` through LiteLLM's own HTTP client, both against the loopback fake server.

Span attributes, token types, cost, the real provider's name, one span per logical call with
the openai instrumentation active underneath (threads included), read tracking through
``ModelResponse`` and ``CustomStreamWrapper``, the stream lifecycle matrix, never breaking
the call, and the instrumentor itself (deferred patching, uninstrument).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import gc
import inspect
import json
import os
import subprocess
import sys
import textwrap
import types
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no remote price map at import

import litellm
import litellm.main
import pytest
import wrapt
from genai_prices import Usage as PriceUsage
from genai_prices import calc_price
from helpers_faults import boom, check_error_unchanged, check_result_unchanged, reaching, wrapper_faults
from helpers_providers import ERROR_AFTER, entry_point, leave, maybe_await, request_attributes
from litellm.exceptions import MidStreamFallbackError

import otel_tokens
from otel_tokens import names as n
from otel_tokens.instrumentation import litellm as instrumentation
from otel_tokens.instrumentation.litellm import LIBRARY, LiteLLMInstrumentor, mapping
from otel_tokens.instrumentation.openai import OpenAIInstrumentor

litellm.suppress_debug_info = True  # LiteLLM prints hints to stdout on errors
pytestmark = [  # LiteLLM's own noise, with or without otel-tokens
    pytest.mark.filterwarnings("ignore:coroutine 'Logging.async_success_handler' was never awaited"),
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince211"),
]
MSGS = [{"role": "user", "content": "hello there"}]
TEXT = "one two three"


@dataclass(frozen=True)
class Route:
    """One way through LiteLLM to the fake server, and what the call must record."""

    provider: str  # gen_ai.provider.name
    model: str  # as the caller names it
    sent_model: str  # gen_ai.request.model: what LiteLLM sends the provider
    response_model: str
    stream_model: str  # LiteLLM names stream chunks after the request model
    headers: dict[str, str]
    usage: dict[str, int]  # gen_ai.usage.* span attributes
    split: dict[str, int]  # token_type -> tokens

    def price(self, model: str) -> float:
        u = self.usage
        usage = PriceUsage(
            input_tokens=u[n.GEN_AI_USAGE_INPUT_TOKENS],
            cache_read_tokens=u.get(n.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, 0),
            cache_write_tokens=u.get(n.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS, 0),
            output_tokens=u[n.GEN_AI_USAGE_OUTPUT_TOKENS],
        )
        return float(calc_price(usage, model, provider_id=self.provider).total_price)

    @property
    def total(self) -> int:
        return sum(self.split.values())


ROUTES = {
    # OpenAI totals include cached and reasoning tokens.
    "openai": Route(
        provider="openai",
        model="openai/gpt-4o-mini",
        sent_model="gpt-4o-mini",
        response_model="gpt-4o-mini-2024-07-18",
        stream_model="gpt-4o-mini",
        headers={
            "x-fake-input-tokens": "20",
            "x-fake-cached-tokens": "5",
            "x-fake-output-tokens": "10",
            "x-fake-reasoning-tokens": "2",
            "x-fake-output": TEXT,
            "x-fake-response-model": "gpt-4o-mini-2024-07-18",
        },
        usage={
            n.GEN_AI_USAGE_INPUT_TOKENS: 20,
            n.GEN_AI_USAGE_OUTPUT_TOKENS: 10,
            n.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 5,
            n.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 2,
        },
        split={"input": 15, "cache_read": 5, "cache_write": 0, "output": 8, "reasoning": 2},
    ),
    # Anthropic's input_tokens exclude cache reads and writes; LiteLLM (and GenAI) add them.
    "anthropic": Route(
        provider="anthropic",
        model="anthropic/claude-sonnet-4-6",
        sent_model="claude-sonnet-4-6",
        response_model="claude-sonnet-4-6-2026-01-01",
        stream_model="claude-sonnet-4-6",
        headers={
            "x-fake-input-tokens": "20",
            "x-fake-cached-tokens": "5",
            "x-fake-cache-write-tokens": "7",
            "x-fake-output-tokens": "10",
            "x-fake-output": TEXT,
        },
        usage={
            n.GEN_AI_USAGE_INPUT_TOKENS: 32,
            n.GEN_AI_USAGE_OUTPUT_TOKENS: 10,
            n.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 5,
            n.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 7,
        },
        split={"input": 20, "cache_read": 5, "cache_write": 7, "output": 10, "reasoning": 0},
    ),
}
EMBEDDING_MODEL = "text-embedding-3-small"
EMBEDDING_HEADERS = {"x-fake-input-tokens": "7", "x-fake-response-model": EMBEDDING_MODEL}
FAILING = {"x-fake-status": "400"}


@pytest.fixture(scope="module")
def bases(fake_llm: Any) -> dict[str, str]:
    return {"openai": fake_llm.openai_base_url, "anthropic": fake_llm.anthropic_base_url}


@pytest.fixture
def call(bases: dict[str, str]) -> Any:
    """``call(route, aio=False, stream=False, **headers)``: ``(a)completion`` for ``route``; a
    coroutine when ``aio``."""

    def make(route: str, aio: bool = False, stream: bool = False, **extra: Any) -> Any:
        r = ROUTES[route]
        headers = {**r.headers, **extra.pop("headers", {})}
        kwargs = {"api_base": bases[route], "api_key": "test", "extra_headers": headers, **extra}
        if stream:
            kwargs["stream"] = True
        function = litellm.acompletion if aio else litellm.completion
        return function(model=r.model, messages=MSGS, **kwargs)

    return make


@pytest.fixture
def embed(bases: dict[str, str]) -> Any:
    def make(aio: bool = False, **headers: str) -> Any:
        function = litellm.aembedding if aio else litellm.embedding
        return function(
            model=f"openai/{EMBEDDING_MODEL}",
            input=["one two three"],
            api_base=bases["openai"],
            api_key="test",
            extra_headers={**EMBEDDING_HEADERS, **headers},
        )

    return make


async def drain(stream: Any, aio: bool) -> list[Any]:
    """Every chunk, read the way the caller of a sync or an async call does (LiteLLM's streams
    are both iterators and async iterators)."""
    return [chunk async for chunk in stream] if aio else list(stream)


def text_of(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def check_span(tel: Any, span: Any, route: Route, *, stream: bool) -> None:
    """The span, token metrics and cost of one successful chat call over ``route``."""
    attrs = dict(span.attributes or {})
    model = route.stream_model if stream else route.response_model
    assert span.name == f"chat {route.sent_model}"
    assert span.kind.name == "CLIENT"
    assert attrs.pop(n.GEN_AI_RESPONSE_ID).startswith("chatcmpl-")
    assert attrs.pop(n.SERVER_PORT) > 0
    if stream:
        assert attrs.pop(n.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK) > 0
    assert attrs.pop(n.ATTR_COST_USD) == pytest.approx(route.price(model))
    assert attrs == {
        n.GEN_AI_OPERATION_NAME: "chat",
        n.GEN_AI_PROVIDER_NAME: route.provider,
        n.GEN_AI_REQUEST_MODEL: route.sent_model,
        n.GEN_AI_OUTPUT_TYPE: "text",
        n.GEN_AI_RESPONSE_MODEL: model,
        n.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
        n.SERVER_ADDRESS: "127.0.0.1",
        n.ATTR_TASK: "unlabeled",
        n.ATTR_USAGE_SOURCE: "provider",
        n.ATTR_COST_PRICED: True,
        **route.usage,
    }
    labels = {"provider": route.provider, "model": model, "operation": "chat"}
    split = {t: tel.total(n.TOKENS.name, token_type=t, **labels) for t in n.TOKEN_TYPES}
    assert split == route.split
    assert tel.total(n.CALLS.name, status="ok", **labels) == 1
    assert tel.total(n.COST_USD.name, **labels) == pytest.approx(route.price(model))


# --- span attributes, tokens, cost -----------------------------------------------------------------


@pytest.mark.parametrize("aio", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("route", ROUTES)
async def test_completion(instrumented, call, route, aio) -> None:
    reply = await maybe_await(call(route, aio))
    assert isinstance(reply, litellm.ModelResponse)
    assert reply.choices[0].message.content == TEXT
    check_span(instrumented, instrumented.only_span(), ROUTES[route], stream=False)


@pytest.mark.parametrize("aio", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("route", ROUTES)
async def test_stream(instrumented, call, route, aio, fake_llm) -> None:
    stream = await maybe_await(call(route, aio, stream=True))
    assert isinstance(stream, litellm.CustomStreamWrapper)
    chunks = await drain(stream, aio)
    assert text_of(chunks) == TEXT
    # otel-tokens asked LiteLLM for the usage chunk; the caller did not, so it never sees it.
    assert not any(getattr(c, "usage", None) for c in chunks)
    if route == "openai":  # and LiteLLM asked the provider for it
        assert fake_llm.requests[-1].body["stream_options"] == {"include_usage": True}
    check_span(instrumented, instrumented.only_span(), ROUTES[route], stream=True)


@pytest.mark.parametrize("route", ROUTES)
def test_caller_stream_options_keep_the_usage_chunk(instrumented, call, route) -> None:
    chunks = list(call(route, stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].usage.total_tokens == ROUTES[route].total
    check_span(instrumented, instrumented.only_span(), ROUTES[route], stream=True)


@pytest.mark.parametrize("aio", [False, True], ids=["sync", "async"])
async def test_embedding(instrumented, embed, aio) -> None:
    reply = await maybe_await(embed(aio))
    assert len(reply.data[0]["embedding"]) > 0
    attrs = dict(instrumented.only_span().attributes or {})
    cost = float(calc_price(PriceUsage(input_tokens=7), EMBEDDING_MODEL, provider_id="openai").total_price)
    assert attrs.pop(n.ATTR_COST_USD) == pytest.approx(cost)
    assert attrs.pop(n.SERVER_PORT) > 0
    assert attrs == {
        n.GEN_AI_OPERATION_NAME: "embeddings",
        n.GEN_AI_PROVIDER_NAME: "openai",
        n.GEN_AI_REQUEST_MODEL: EMBEDDING_MODEL,
        n.GEN_AI_RESPONSE_MODEL: EMBEDDING_MODEL,
        n.GEN_AI_USAGE_INPUT_TOKENS: 7,
        n.SERVER_ADDRESS: "127.0.0.1",
        n.ATTR_TASK: "unlabeled",
        n.ATTR_USAGE_SOURCE: "provider",
        n.ATTR_COST_PRICED: True,
    }
    assert instrumented.total(n.TOKENS.name, token_type="input", operation="embeddings") == 7


def test_request_attributes_and_tool_calls(instrumented, call) -> None:
    call(
        "openai",
        headers={"x-fake-tool-call": "lookup"},
        temperature=0.5,
        max_tokens=64,
        stop=["END"],
        seed=7,
        user="u-1",
        response_format={"type": "json_object"},
    )
    span = instrumented.only_span()
    assert request_attributes(span) == {
        n.GEN_AI_REQUEST_MODEL: ROUTES["openai"].sent_model,
        n.GEN_AI_REQUEST_TEMPERATURE: 0.5,
        n.GEN_AI_REQUEST_MAX_TOKENS: 64,
        n.GEN_AI_REQUEST_STOP_SEQUENCES: ("END",),
        n.GEN_AI_REQUEST_SEED: 7,
        n.GEN_AI_OUTPUT_TYPE: "json",
    }
    assert span.attributes[n.ENDUSER_ID] == "u-1"
    assert span.attributes[n.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)


def test_content_is_recorded_only_when_opted_in(instrument_with, call) -> None:
    telemetry = instrument_with(capture_content=True)
    call("anthropic")
    attrs = telemetry.only_span().attributes
    assert json.loads(attrs[n.GEN_AI_INPUT_MESSAGES]) == MSGS
    assert json.loads(attrs[n.GEN_AI_OUTPUT_MESSAGES]) == [TEXT]


def test_content_is_not_recorded_by_default(instrumented, call) -> None:
    call("anthropic")
    attrs = instrumented.only_span().attributes
    assert n.GEN_AI_INPUT_MESSAGES not in attrs
    assert n.GEN_AI_OUTPUT_MESSAGES not in attrs


def test_positional_arguments_are_read(instrumented, bases) -> None:
    kwargs = {"api_base": bases["openai"], "api_key": "test", "extra_headers": ROUTES["openai"].headers}
    litellm.completion(ROUTES["openai"].model, MSGS, **kwargs)
    litellm.completion(ROUTES["openai"].model, [{"role": "user", "content": "another question"}], **kwargs)
    spans = instrumented.finished_spans()
    assert [s.name for s in spans] == ["chat gpt-4o-mini"] * 2
    # Two different prompts are not a repeated request.
    assert instrumented.total(n.REPEAT_CALLS.name) == 0


def test_unpriced_model_is_counted(instrumented, bases) -> None:
    litellm.completion(
        model="openai/my-private-finetune", messages=MSGS, api_base=bases["openai"], api_key="test"
    )
    attrs = instrumented.only_span().attributes
    assert attrs[n.ATTR_COST_PRICED] is False
    assert instrumented.total(n.UNPRICED_CALLS.name, provider="openai") == 1


def test_no_usage_from_the_provider_is_missing_not_zero(instrumented, call) -> None:
    call("openai", headers={"x-fake-no-usage": "1"})  # LiteLLM fills in an all-zero Usage
    attrs = instrumented.only_span().attributes
    assert attrs[n.ATTR_USAGE_SOURCE] == "missing"
    assert n.GEN_AI_USAGE_INPUT_TOKENS not in attrs


@pytest.mark.parametrize(
    ("model", "api_base", "provider", "sent_model"),
    [
        ("xai/grok-4", None, "x_ai", "grok-4"),
        ("gemini/gemini-2.5-flash", None, "gcp.gemini", "gemini-2.5-flash"),
        ("vertex_ai/gemini-2.5-pro", None, "gcp.vertex_ai", "gemini-2.5-pro"),
        ("bedrock/anthropic.claude-3-haiku", None, "aws.bedrock", "anthropic.claude-3-haiku"),
        ("azure/my-deployment", "https://x.openai.azure.com", "azure.ai.openai", "my-deployment"),
        ("mistral/mistral-large-latest", None, "mistral_ai", "mistral-large-latest"),
        ("together_ai/meta-llama/Llama-3-8b", None, "together_ai", "meta-llama/Llama-3-8b"),
        ("gpt-4o", None, "openai", "gpt-4o"),
        ("claude-sonnet-4-6", None, "anthropic", "claude-sonnet-4-6"),
        ("openai/llama-3", "https://api.groq.com/openai/v1", "groq", "llama-3"),
        ("no-such-model-anywhere", None, "litellm", "no-such-model-anywhere"),
    ],
)
def test_provider_is_litellms_resolution_in_semconv_names(model, api_base, provider, sent_model) -> None:
    request, _ = mapping.read_completion_request(None, (), {"model": model, "api_base": api_base})
    assert (request.provider, request.model) == (provider, sent_model)


def test_mock_responses_are_not_llm_calls(instrumented) -> None:
    reply = litellm.completion(model="openai/gpt-4o-mini", messages=MSGS, mock_response="canned")
    assert reply.choices[0].message.content == "canned"
    assert instrumented.finished_spans() == []
    assert instrumented.points(n.CALLS.name) == []


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("aio", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("route", ROUTES)
async def test_http_error_is_one_failed_call(instrumented, call, route, aio, stream) -> None:
    with pytest.raises(litellm.BadRequestError) as caught:
        await drain(await maybe_await(call(route, aio, stream=stream, headers=FAILING)), aio)
    assert caught.value.status_code == 400
    span = instrumented.only_span()
    assert span.attributes[n.ERROR_TYPE] == "400"
    assert span.attributes[n.GEN_AI_PROVIDER_NAME] == ROUTES[route].provider
    assert instrumented.total(n.CALLS.name, status="error") == 1
    assert instrumented.outcome_label() == "error"


# --- one span per logical call, whatever runs underneath ---------------------------------------


CALLS = {  # name -> invoke(call, embed, headers) -> result or coroutine
    "completion": lambda call, embed, h: call("openai", headers=h),
    "acompletion": lambda call, embed, h: call("openai", aio=True, headers=h),
    "completion_stream": lambda call, embed, h: call("openai", stream=True, headers=h),
    "acompletion_stream": lambda call, embed, h: call("openai", aio=True, stream=True, headers=h),
    "embedding": lambda call, embed, h: embed(**h),
    "aembedding": lambda call, embed, h: embed(aio=True, **h),
}


async def run(name: str, call: Any, embed: Any, headers: dict[str, str] | None = None) -> Any:
    """Make the call ``name`` and read all of it (a stream to its end): a comparable result."""
    result = await maybe_await(CALLS[name](call, embed, headers or {}))
    if isinstance(result, litellm.CustomStreamWrapper):
        chunks = await drain(result, aio=name.startswith("a"))
        return [(c.choices[0].delta.content, c.choices[0].finish_reason) for c in chunks]
    return result.model_dump(exclude={"id", "created"})


@pytest.mark.parametrize("name", CALLS)
async def test_litellm_over_openai_is_one_span(instrumented, call, embed, name, fake_llm) -> None:
    assert OpenAIInstrumentor().is_instrumented_by_opentelemetry  # the openai SDK is instrumented too
    await run(name, call, embed)
    assert "OpenAI/Python" in fake_llm.requests[-1].headers["user-agent"]  # it ran underneath
    span = instrumented.only_span()
    assert span.attributes[n.GEN_AI_PROVIDER_NAME] == "openai"
    operation = "embeddings" if "embedding" in name else "chat"
    assert instrumented.total(n.CALLS.name) == instrumented.total(n.CALLS.name, operation=operation) == 1
    expected = 7 if operation == "embeddings" else ROUTES["openai"].total
    assert instrumented.total(n.TOKENS.name) == expected
    assert len(instrumented.points(n.OPERATION_DURATION.name)) == 1


async def test_async_body_without_our_context_is_still_one_call(instrumented, call, monkeypatch) -> None:
    """``acompletion`` runs ``completion`` in a thread with a copy of the context; a LiteLLM that
    did not copy it would lose the in-call marker there. The sync body is still not a call."""
    monkeypatch.setattr(litellm.main, "contextvars", types.SimpleNamespace(copy_context=contextvars.Context))
    reply = await call("openai", aio=True)
    assert reply.choices[0].message.content == TEXT
    assert instrumented.total(n.CALLS.name) == 1
    assert len(instrumented.finished_spans()) == 1


def test_calls_from_threads_are_one_span_each_with_their_task(instrumented, call) -> None:
    def in_task(i: int) -> str:
        with otel_tokens.task(f"job-{i}", team="platform"):
            return str(call("openai").choices[0].message.content)

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(in_task, range(4))) == [TEXT] * 4
    spans = instrumented.finished_spans()
    assert sorted(s.attributes[n.ATTR_TASK] for s in spans) == [f"job-{i}" for i in range(4)]
    assert instrumented.total(n.CALLS.name, team="platform") == 4


async def test_async_calls_keep_their_task(instrumented, call) -> None:
    async with otel_tokens.task("async-job", team="growth"):
        results = await asyncio.gather(call("openai", aio=True), call("anthropic", aio=True))
    assert [r.choices[0].message.content for r in results] == [TEXT, TEXT]
    assert {s.attributes[n.ATTR_TASK] for s in instrumented.finished_spans()} == {"async-job"}
    assert instrumented.total(n.CALLS.name, team="growth") == 2


# --- outcomes and read tracking ----------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES)
def test_mark_used_on_a_model_response(instrumented, call, route, check_outcome) -> None:
    reply = call(route)
    assert reply.choices[0].message.content == TEXT
    otel_tokens.mark_used(reply)
    check_outcome(instrumented, instrumented.only_span(), "used", tokens=ROUTES[route].total)


READS = {
    "attribute": lambda r: r.choices[0].message.content,
    "subscript": lambda r: r["choices"][0]["message"]["content"],
    "get": lambda r: r.get("choices"),
    "model_dump": lambda r: r.model_dump(),
    "json": lambda r: r.json(),
    "str": str,
}
NOT_READS = {
    "metadata": lambda r: (r.id, r.model, r.usage.total_tokens, r.created),
    "isinstance": lambda r: isinstance(r, litellm.ModelResponse),
    "hidden_params": lambda r: r._hidden_params["custom_llm_provider"],
}


@pytest.mark.parametrize("case", READS)
def test_reading_a_model_response_counts(instrumented, call, case) -> None:
    reply = call("openai")
    assert READS[case](reply)
    del reply
    assert instrumented.outcome_label() == "unmarked"


@pytest.mark.parametrize("case", NOT_READS)
def test_metadata_of_a_model_response_is_not_a_read(instrumented, call, case) -> None:
    reply = call("openai")
    assert NOT_READS[case](reply)
    del reply
    assert instrumented.outcome_label() == "unread"


def test_embedding_data_is_a_read(instrumented, embed) -> None:
    reply = embed()
    assert reply.data
    del reply
    assert instrumented.outcome_label() == "unmarked"


@pytest.mark.parametrize("aio", [False, True], ids=["sync", "async"])
async def test_stream_verdict_and_response_id(instrumented, call, aio, check_outcome) -> None:
    stream = await maybe_await(call("anthropic", aio, stream=True))
    await drain(stream, aio)
    otel_tokens.mark_discarded(stream)
    check_outcome(instrumented, instrumented.only_span(), "discarded", tokens=ROUTES["anthropic"].total)
    reply = call("openai")
    otel_tokens.record_outcome(outcome="used", response_id=reply.id)
    assert instrumented.total(n.OUTCOME_CALLS.name, outcome="used") == 1


def test_stream_is_transparent(instrumented, call) -> None:
    stream = call("openai", stream=True)
    assert iter(stream) is stream
    assert repr(stream).startswith("<litellm.litellm_core_utils.streaming_handler.CustomStreamWrapper object")
    assert stream.model == "gpt-4o-mini"  # LiteLLM's own attributes
    assert text_of(list(stream)) == TEXT
    del stream
    assert instrumented.outcome_label() == "unmarked"


# --- the stream lifecycle: one span, ended once, on every path --------------------------------


SYNC_ENDS = {  # how the caller leaves the stream -> (outcome, usage source)
    "exhaust": ("unmarked", "provider"),
    "break_and_drop": ("unmarked", "missing"),
    "error": ("error", None),
    "gc": ("unread", "missing"),
    "with_unsupported": ("unread", "missing"),  # LiteLLM's stream is no context manager, with or without us
}


@pytest.mark.parametrize("end", SYNC_ENDS)
@pytest.mark.parametrize("route", ROUTES)
async def test_sync_stream_ends_once(instrumented, call, one_call, route, end) -> None:
    stream = call(route, stream=True, headers=ERROR_AFTER if end == "error" else {})
    if end == "with_unsupported":
        with pytest.raises((TypeError, AttributeError)), stream:
            pass
    else:
        read = await leave(instrumented, stream, end, error=MidStreamFallbackError)
        if end == "exhaust":
            assert text_of(read) == TEXT
    del stream
    outcome, source = SYNC_ENDS[end]
    one_call(instrumented, outcome=outcome, usage_source=source)


ASYNC_ENDS = {
    "exhaust": ("unmarked", "provider"),
    "break_and_drop": ("unmarked", "missing"),
    "aclose": ("unmarked", "missing"),
    "error": ("error", None),
    "gc": ("unread", "missing"),
    "async_with_unsupported": ("unread", "missing"),
    # LiteLLM's async streams end a dropped connection as a normal "stop" (and fill in a
    # token-counted usage estimate, which otel-tokens cannot tell from the provider's).
    "truncated": ("unmarked", "provider"),
}
# A malformed event makes LiteLLM's async stream raise for openai/ models only (it skips them
# in Anthropic streams), so the error path runs over the openai route.
ASYNC_CASES = [(route, end) for route in ROUTES for end in ASYNC_ENDS if end != "error" or route == "openai"]
ASYNC_HEADERS = {"error": {"x-fake-malformed": "1"}, "truncated": ERROR_AFTER}


@pytest.mark.parametrize(("route", "end"), ASYNC_CASES)
async def test_async_stream_ends_once(instrumented, call, one_call, route, end) -> None:
    stream = await call(route, aio=True, stream=True, headers=ASYNC_HEADERS.get(end, {}))
    if end == "aclose":  # LiteLLM's async stream has aclose() only
        await stream.__anext__()
        await stream.aclose()
        assert len(instrumented.finished_spans()) == 1  # ended by aclose(), before release
    elif end == "async_with_unsupported":
        with pytest.raises((TypeError, AttributeError)):
            async with stream:
                pass
    else:
        read = await leave(
            instrumented,
            stream,
            "exhaust" if end == "truncated" else end,
            aio=True,
            error=MidStreamFallbackError,
        )
        if end == "exhaust":
            assert text_of(read) == TEXT
    del stream
    outcome, source = ASYNC_ENDS[end]
    one_call(instrumented, outcome=outcome, usage_source=source)


# --- never break the call ------------------------------------------------------------------------


FAULTS = wrapper_faults(LIBRARY.endpoints, mapping.ChunkStreamState)
KINDS = {name: "stream" if name.endswith("_stream") else "response" for name in CALLS}


@pytest.mark.parametrize(
    ("name", "fault"), [(name, fault) for name, kind in KINDS.items() for fault in reaching(kind, FAULTS)]
)
async def test_internal_failure_leaves_the_result_unchanged(
    tolerant, monkeypatch, call, embed, name, fault
) -> None:
    result = functools.partial(run, name, call, embed)
    await check_result_unchanged(tolerant, monkeypatch, result, FAULTS[fault], KINDS[name], lambda r: r)


@pytest.mark.parametrize("fault", ["none", *reaching("error", FAULTS)])
@pytest.mark.parametrize("name", CALLS)
async def test_provider_errors_pass_through_unchanged(
    tolerant, monkeypatch, call, embed, name, fault
) -> None:
    result = functools.partial(run, name, call, embed, FAILING)
    await check_error_unchanged(
        tolerant, monkeypatch, result, FAULTS.get(fault), "error", litellm.BadRequestError
    )


def test_a_failing_patch_never_fails_the_import(tolerant, monkeypatch) -> None:
    monkeypatch.setattr(LiteLLMInstrumentor, "patches", lambda self: [(e, boom) for e in LIBRARY.endpoints])
    telemetry = tolerant()  # LiteLLM is imported: its import hook runs at once, as at its import
    assert telemetry.total(n.INTERNAL_ERRORS.name, stage="instrument") == 1
    assert not isinstance(litellm.completion, wrapt.FunctionWrapper)
    assert litellm.completion(model="openai/gpt-4o-mini", messages=MSGS, mock_response="still works")


# --- the instrumentor ------------------------------------------------------------------------------


def _functions() -> dict[tuple[Any, str], Any]:
    return {
        (module, name): inspect.getattr_static(module, name)
        for module, name in LiteLLMInstrumentor().patched()
    }


def test_uninstrument_restores_every_function(instrument_with, call) -> None:
    originals = _functions()
    assert set(originals) == {
        (module, name) for module in (litellm, litellm.main) for name in instrumentation._FUNCTIONS
    }
    telemetry = instrument_with()
    instrument_with()  # twice, and through the BaseInstrumentor entry point: patched once
    LiteLLMInstrumentor().instrument()
    for (module, name), original in originals.items():
        assert getattr(module, name).__wrapped__ is original, f"{module.__name__}.{name}"
    call("openai")
    assert len(telemetry.finished_spans()) == 1

    otel_tokens.uninstrument()

    for (module, name), original in originals.items():
        assert getattr(module, name) is original, f"{module.__name__}.{name} not restored"
    reply = call("openai")
    assert type(reply) is litellm.ModelResponse  # the SDK's object, no proxy any more
    gc.collect()
    assert len(telemetry.finished_spans()) == 1


def test_registered_as_opentelemetry_instrumentor_entry_point() -> None:
    assert entry_point("otel_tokens_litellm") is LiteLLMInstrumentor
    [requirement] = LiteLLMInstrumentor().instrumentation_dependencies()
    assert requirement.startswith("litellm")


_DEFERRED_PATCH = textwrap.dedent(
    """
    import sys

    import wrapt

    import otel_tokens

    assert "otel_tokens_litellm" in otel_tokens.instrument()
    assert "litellm" not in sys.modules  # instrument() neither imports LiteLLM nor fetches its price map
    from litellm import acompletion, completion
    import litellm.main

    for function in (completion, acompletion, litellm.main.completion, litellm.main.aembedding):
        # Wrapped once: litellm.main is copied into the package during its import.
        assert isinstance(function, wrapt.FunctionWrapper), function
        assert not isinstance(function.__wrapped__, wrapt.FunctionWrapper), function
    otel_tokens.uninstrument()
    for module in (litellm, litellm.main):
        assert not isinstance(module.completion, wrapt.FunctionWrapper)
    print("ok")
    """
)


def test_patching_waits_for_litellms_import() -> None:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    done = subprocess.run(
        [sys.executable, "-c", _DEFERRED_PATCH], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
