"""Groq through the real SDK over HTTP: chat completions (streamed or not) and embeddings, sync
and async: span attributes, token types, cost, raw responses, outcomes, the stream lifecycle,
and never breaking the call.

Every call sends 30 prompt tokens (8 of them cached) and 12 completion tokens (5 of them
reasoning); streams get their usage from the final chunk's ``x_groq.usage``.
"""

from __future__ import annotations

import functools
from typing import Any

import groq
import httpx
import pytest
from genai_prices import Usage as PriceUsage
from genai_prices import calc_price
from groq._base_client import AsyncAPIClient, SyncAPIClient
from helpers_faults import (
    check_error_unchanged,
    check_result_unchanged,
    reaching,
    record_raised,
    wrapper_faults,
)
from helpers_providers import (
    ERROR_AFTER,
    check_patches_undone,
    drain,
    entry_point,
    leave,
    maybe_await,
    read_then_release,
    request_attributes,
)

import otel_tokens
from otel_tokens import names as n
from otel_tokens.instrumentation.groq import LIBRARY, GroqInstrumentor
from otel_tokens.instrumentation.groq import mapping as m

MODEL = "openai/gpt-oss-120b"  # priced by genai-prices for groq, with a cache-read price
EMBED_MODEL = "nomic-embed-text-v1_5"  # no price: counted as unpriced
HEADERS = {
    "x-fake-input-tokens": "30",
    "x-fake-cached-tokens": "8",
    "x-fake-output-tokens": "12",
    "x-fake-reasoning-tokens": "5",
    "x-fake-output": "one two three",
}
TOTAL = 42
MSGS = [{"role": "user", "content": "hello"}]


def expected_cost() -> float:
    usage = PriceUsage(input_tokens=30, cache_read_tokens=8, output_tokens=12)
    return float(calc_price(usage, MODEL, provider_id="groq").total_price)


@pytest.fixture
def make_client(make_sdk_client):
    """``make_client(aio=False)``: a new Groq client for the fake server."""
    return functools.partial(make_sdk_client, "groq")


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture
def aclient(make_client):
    return make_client(aio=True)


def chat(**headers: str) -> dict[str, Any]:
    return {"model": MODEL, "messages": MSGS, "extra_headers": {**HEADERS, **headers}}


def check_chat_span(tel: Any, span: Any, fake_llm: Any, *, stream: bool = False) -> None:
    attrs = dict(span.attributes or {})
    assert span.name == f"chat {MODEL}"
    assert span.kind.name == "CLIENT"
    assert attrs.pop(n.GEN_AI_RESPONSE_ID).startswith("chatcmpl-fake-")
    if stream:
        assert attrs.pop(n.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK) > 0
    assert attrs.pop(n.ATTR_COST_USD) == pytest.approx(expected_cost())
    assert attrs == {
        n.GEN_AI_OPERATION_NAME: "chat",
        n.GEN_AI_PROVIDER_NAME: "groq",
        n.GEN_AI_REQUEST_MODEL: MODEL,
        n.GEN_AI_OUTPUT_TYPE: "text",
        n.GEN_AI_RESPONSE_MODEL: f"{MODEL}-2026-01-01",
        n.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
        n.GEN_AI_USAGE_INPUT_TOKENS: 30,
        n.GEN_AI_USAGE_OUTPUT_TOKENS: 12,
        n.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 8,
        n.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 5,
        n.SERVER_ADDRESS: "127.0.0.1",
        n.SERVER_PORT: fake_llm.port,
        n.ATTR_TASK: "unlabeled",
        n.ATTR_USAGE_SOURCE: "provider",
        n.ATTR_COST_PRICED: True,
    }
    labels = {"provider": "groq", "model": f"{MODEL}-2026-01-01", "operation": "chat"}
    by_type = {t: tel.total(n.TOKENS.name, token_type=t, **labels) for t in n.TOKEN_TYPES}
    assert by_type == {"input": 22, "cache_read": 8, "cache_write": 0, "output": 7, "reasoning": 5}
    assert tel.total(n.CALLS.name, status="ok", **labels) == 1
    assert tel.total(n.COST_USD.name, **labels) == pytest.approx(expected_cost())
    assert tel.points(n.UNPRICED_CALLS.name) == []


# --- what each call records ------------------------------------------------------------------------


def test_create(instrumented, client, fake_llm) -> None:
    reply = client.chat.completions.create(**chat())
    assert isinstance(reply, groq.types.chat.ChatCompletion)
    assert reply.choices[0].message.content == "one two three"
    check_chat_span(instrumented, instrumented.only_span(), fake_llm)


async def test_async_create(instrumented, aclient, fake_llm) -> None:
    reply = await aclient.chat.completions.create(**chat())
    assert reply.choices[0].message.content == "one two three"
    check_chat_span(instrumented, instrumented.only_span(), fake_llm)


@pytest.mark.parametrize("aio", [False, True], ids=["sync", "async"])
async def test_stream_usage_comes_from_x_groq(instrumented, make_client, fake_llm, aio) -> None:
    stream = await maybe_await(make_client(aio).chat.completions.create(**chat(), stream=True))
    assert isinstance(stream, groq.AsyncStream if aio else groq.Stream)
    chunks = await drain(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "one two three"
    assert chunks[-1].x_groq.usage.prompt_tokens == 30  # the caller sees every chunk, usage one too
    assert fake_llm.requests[-1].body.get("stream_options") is None  # nothing asked on the caller's behalf
    check_chat_span(instrumented, instrumented.only_span(), fake_llm, stream=True)


def test_request_attributes_and_tool_call(instrumented, client) -> None:
    reply = client.chat.completions.create(
        **chat(**{"x-fake-tool-call": "lookup"}),
        temperature=0.3,
        top_p=0.8,
        max_completion_tokens=100,
        stop=["END"],
        seed=3,
        user="u-1",
        response_format={"type": "json_object"},
    )
    assert reply.choices[0].message.tool_calls[0].function.name == "lookup"
    span = instrumented.only_span()
    assert request_attributes(span) == {
        n.GEN_AI_REQUEST_MODEL: MODEL,
        n.GEN_AI_REQUEST_TEMPERATURE: 0.3,
        n.GEN_AI_REQUEST_TOP_P: 0.8,
        n.GEN_AI_REQUEST_MAX_TOKENS: 100,
        n.GEN_AI_REQUEST_STOP_SEQUENCES: ("END",),
        n.GEN_AI_REQUEST_SEED: 3,
        n.GEN_AI_OUTPUT_TYPE: "json",
    }
    assert span.attributes[n.ENDUSER_ID] == "u-1"
    assert span.attributes[n.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)


@pytest.mark.parametrize("aio", [False, True], ids=["sync", "async"])
async def test_embeddings_are_unpriced(instrumented, make_client, aio) -> None:
    reply = await maybe_await(
        make_client(aio).embeddings.create(
            model=EMBED_MODEL, input="hello", encoding_format="float", extra_headers=HEADERS
        )
    )
    assert len(reply.data[0].embedding) == 8
    attrs = instrumented.only_span().attributes
    assert attrs[n.GEN_AI_OPERATION_NAME] == "embeddings"
    assert attrs[n.GEN_AI_PROVIDER_NAME] == "groq"
    assert attrs[n.GEN_AI_USAGE_INPUT_TOKENS] == 30
    assert attrs[n.GEN_AI_REQUEST_ENCODING_FORMATS] == ("float",)
    assert attrs[n.ATTR_COST_PRICED] is False
    labels = {"provider": "groq", "model": f"{EMBED_MODEL}-2026-01-01", "operation": "embeddings"}
    assert instrumented.total(n.UNPRICED_CALLS.name, **labels) == 1
    assert instrumented.total(n.TOKENS.name, token_type="input", **labels) == 30


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("surface", ["with_raw_response", "with_streaming_response"])
def test_raw_responses(instrumented, client, fake_llm, surface, stream) -> None:
    def read(raw: Any) -> str:
        parsed = raw.parse()
        if stream:
            return "".join(c.choices[0].delta.content or "" for c in parsed)
        return parsed.choices[0].message.content

    if surface == "with_raw_response":
        raw = client.chat.completions.with_raw_response.create(**chat(), stream=stream)
        text = read(raw)
    else:
        with client.chat.completions.with_streaming_response.create(**chat(), stream=stream) as raw:
            text = read(raw)
    assert text == "one two three"
    otel_tokens.mark_used(raw)
    check_chat_span(instrumented, instrumented.only_span(), fake_llm, stream=stream)
    assert instrumented.total(n.OUTCOME_CALLS.name, outcome="used") == 1


def test_http_error_is_one_failed_call(instrumented, client) -> None:
    with pytest.raises(groq.InternalServerError) as caught:
        client.chat.completions.create(**chat(**{"x-fake-status": "500"}))
    assert caught.value.status_code == 500
    span = instrumented.only_span()
    assert span.attributes[n.ERROR_TYPE] == "500"
    assert instrumented.total(n.CALLS.name, status="error") == 1
    assert instrumented.total(n.OUTCOME_CALLS.name, outcome="error") == 1


# --- outcomes --------------------------------------------------------------------------------------


def test_mark_used_on_a_response(instrumented, client, check_outcome) -> None:
    reply = client.chat.completions.create(**chat())
    otel_tokens.mark_used(reply)
    check_outcome(instrumented, instrumented.only_span(), "used", tokens=TOTAL)


@pytest.mark.parametrize(("read", "outcome"), [(None, "unread"), ("choices", "unmarked")])
def test_dropped_response_is_inferred(instrumented, client, check_outcome, read, outcome) -> None:
    read_then_release(
        client.chat.completions.create(**chat()), metadata=("id", "usage", "model", "x_groq"), content=read
    )
    check_outcome(instrumented, instrumented.only_span(), outcome, tokens=TOTAL)


async def test_stream_verdict(instrumented, aclient, check_outcome) -> None:
    stream = await aclient.chat.completions.create(**chat(), stream=True)
    await drain(stream)
    otel_tokens.mark_discarded(stream)
    check_outcome(instrumented, instrumented.only_span(), "discarded", tokens=TOTAL)


# --- the stream lifecycle --------------------------------------------------------------------------

ENDS = {  # how the caller leaves the stream -> (outcome, usage source)
    "exhaust": ("unmarked", "provider"),
    "error": ("error", None),
    "break_and_drop": ("unmarked", "missing"),
    "close": ("unmarked", "missing"),
    "with": ("unmarked", "missing"),
    "gc": ("unread", "missing"),
}


@pytest.mark.parametrize("end", ENDS)
@pytest.mark.parametrize("aio", [False, True], ids=["sync", "async"])
async def test_stream_ends_once(instrumented, make_client, one_call, aio, end) -> None:
    headers = ERROR_AFTER if end == "error" else {}
    stream = await maybe_await(make_client(aio).chat.completions.create(**chat(**headers), stream=True))
    await leave(instrumented, stream, end, aio=aio, error=httpx.RemoteProtocolError)
    del stream  # break_and_drop and gc end when the stream is released
    outcome, source = ENDS[end]
    one_call(instrumented, outcome=outcome, usage_source=source)


# --- never break the call --------------------------------------------------------------------------

FAULTS = wrapper_faults(LIBRARY.endpoints, m.ChatStreamState)


def _chat_create(client: Any, headers: dict[str, str], stream: bool) -> Any:
    return client.chat.completions.create(**chat(**headers), **({"stream": True} if stream else {}))


def _embeddings_create(client: Any, headers: dict[str, str], stream: bool) -> Any:
    return client.embeddings.create(model=EMBED_MODEL, input="hello", extra_headers={**HEADERS, **headers})


# method -> (how to call it, can it stream); every instrumented endpoint
INVOKE = {
    "chat.completions": (_chat_create, True),
    "embeddings": (_embeddings_create, False),
}
CASES = [(method, aio) for method in INVOKE for aio in (False, True)]
STREAM_CASES = [(method, aio) for method, aio in CASES if INVOKE[method][1]]


def case_id(case: tuple[str, bool]) -> str:
    return f"{case[0]}-{'async' if case[1] else 'sync'}"


def invoke(make_client: Any, case: tuple[str, bool], headers: dict[str, str], stream: bool) -> Any:
    """``call()``: the caller's view of one call on a new client (the response, or a stream's chunks)."""

    async def call() -> Any:
        method, aio = case
        result = await maybe_await(INVOKE[method][0](make_client(aio), headers, stream))
        return await drain(result) if stream else result

    return call


def normalized(value: Any) -> Any:
    """Dumps of the SDK's objects without the server's ids and clocks."""
    if isinstance(value, list):
        return [normalized(v) for v in value]
    volatile = {"id", "created", "x_groq"}
    return {k: v for k, v in value.model_dump().items() if k not in volatile}


def test_every_endpoint_is_covered() -> None:
    assert {(e.module, e.qualname, e.is_async) for e in LIBRARY.endpoints} == {
        (f"groq.resources.{method}", f"{'Async' if aio else ''}{method.split('.')[-1].title()}.create", aio)
        for method, aio in CASES
    }


@pytest.mark.parametrize("fault", reaching("response", FAULTS))
@pytest.mark.parametrize("case", CASES, ids=case_id)
async def test_internal_failure_leaves_the_response_unchanged(
    tolerant, make_client, monkeypatch, case, fault
) -> None:
    call = invoke(make_client, case, {}, False)
    await check_result_unchanged(tolerant, monkeypatch, call, FAULTS[fault], "response", normalized)


@pytest.mark.parametrize("fault", reaching("stream", FAULTS))
@pytest.mark.parametrize("case", STREAM_CASES, ids=case_id)
async def test_internal_failure_leaves_the_stream_unchanged(
    tolerant, make_client, monkeypatch, case, fault
) -> None:
    call = invoke(make_client, case, {}, True)
    await check_result_unchanged(tolerant, monkeypatch, call, FAULTS[fault], "stream", normalized)


ERROR_CASES = [(case, False) for case in CASES] + [(case, True) for case in STREAM_CASES]


@pytest.mark.parametrize("fault", ["none", *reaching("error", FAULTS)])
@pytest.mark.parametrize(
    ("case", "stream"),
    ERROR_CASES,
    ids=[f"{case_id(c)}-{'stream' if s else 'plain'}" for c, s in ERROR_CASES],
)
async def test_provider_error_is_the_same_exception_object(
    tolerant, make_client, monkeypatch, case, stream, fault
) -> None:
    await check_error_unchanged(
        tolerant,
        monkeypatch,
        invoke(make_client, case, {"x-fake-status": "500"}, stream),
        FAULTS.get(fault),
        "error",
        groq.InternalServerError,
        record=lambda mp: record_raised(mp, (SyncAPIClient, "request"), (AsyncAPIClient, "request")),
    )


# --- instrumentor ----------------------------------------------------------------------------------


def test_uninstrument_restores_every_original(instrument_with) -> None:
    owners = check_patches_undone(instrument_with, GroqInstrumentor())
    assert len(owners) == len(LIBRARY.endpoints) == 4


def test_entry_point() -> None:
    assert entry_point("otel_tokens_groq") is GroqInstrumentor
