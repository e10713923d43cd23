"""Cohere API v2 through the real ``cohere`` SDK over HTTP: span attributes, billed tokens, cost,
``chat`` / ``chat_stream`` / ``embed`` sync and async, the stream lifecycle, outcomes, uninstrument,
and no failure inside otel-tokens breaking any call.

Calls send ``x-fake-input-tokens: 20`` and 10 output tokens: the fake reports them as
``billed_units`` and adds its prompt-template tokens to ``tokens`` (80 input), so the tests tell
which of the two otel-tokens read: the billed ones.
"""

from __future__ import annotations

import gc
import inspect
import ssl
from typing import Any

import cohere
import httpx
import pytest
from genai_prices import Usage as PriceUsage
from genai_prices import calc_price
from helpers_faults import Fault, check_faults_never_break, on
from helpers_providers import ERROR_AFTER, check_patches_undone, leave, read_then_release, request_attributes

import otel_tokens
from otel_tokens import names
from otel_tokens.demo.fakes.cohere import TEMPLATE_TOKENS
from otel_tokens.instrumentation.cohere import (
    LIBRARY,
    STREAM_ENDPOINTS,
    CohereInstrumentor,
    lazy_streams,
    mapping,
)
from otel_tokens.recorder import Recorder

# The SDK's own union parsing still reads pydantic's deprecated ``__fields__``.
pytestmark = pytest.mark.filterwarnings("ignore:The `__fields__` attribute is deprecated")

MODEL = "command-a-03-2025"
HEADERS = {
    "x-fake-input-tokens": "20",
    "x-fake-output-tokens": "10",
    "x-fake-cached-tokens": "5",
    "x-fake-output": "one two three",
}
TOTAL = 30
MSGS = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def tls() -> ssl.SSLContext:
    return ssl.create_default_context()  # loading the CA bundle for every client is slow


@pytest.fixture
async def make_client(fake_llm, tls):
    """``make_client(aio=False)``: a new v2 client (the SDK binds ``chat`` and ``chat_stream`` to a
    client as it makes it: only one made after ``instrument()`` has them instrumented)."""
    http, ahttp = httpx.Client(verify=tls), httpx.AsyncClient(verify=tls)

    def make(aio: bool = False) -> Any:
        cls = cohere.AsyncClientV2 if aio else cohere.ClientV2
        return cls(api_key="test", base_url=fake_llm.url, max_retries=0, httpx_client=ahttp if aio else http)

    yield make
    http.close()
    await ahttp.aclose()


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture
def aclient(make_client):
    return make_client(aio=True)


def args(model=MODEL, **headers):
    return {
        "model": model,
        "messages": MSGS,
        "request_options": {"additional_headers": {**HEADERS, **headers}},
    }


def expected_cost(model=MODEL, input_tokens=20, output=10):
    usage = PriceUsage(input_tokens=input_tokens, output_tokens=output)
    return float(calc_price(usage, model, provider_id="cohere").total_price)


def check_call_span(tel, span, *, stream=False):
    attrs = dict(span.attributes or {})
    assert span.name == f"chat {MODEL}"
    assert span.kind.name == "CLIENT"
    assert attrs.pop(names.GEN_AI_RESPONSE_ID).startswith("cohere-fake-")
    assert attrs.pop(names.SERVER_PORT) > 0
    if stream:
        assert attrs.pop(names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK) > 0
    assert attrs.pop(names.ATTR_COST_USD) == pytest.approx(expected_cost())
    assert attrs == {
        names.GEN_AI_OPERATION_NAME: "chat",
        names.GEN_AI_PROVIDER_NAME: "cohere",
        names.GEN_AI_REQUEST_MODEL: MODEL,
        names.GEN_AI_OUTPUT_TYPE: "text",
        names.GEN_AI_RESPONSE_FINISH_REASONS: ("COMPLETE",),
        names.GEN_AI_USAGE_INPUT_TOKENS: 20,  # billed units, not the 80 processed tokens
        names.GEN_AI_USAGE_OUTPUT_TOKENS: 10,
        names.SERVER_ADDRESS: "127.0.0.1",
        names.ATTR_TASK: "unlabeled",
        names.ATTR_USAGE_SOURCE: "provider",
        names.ATTR_COST_PRICED: True,
    }
    labels = {"provider": "cohere", "model": MODEL, "operation": "chat"}  # responses name no model
    by_type = {t: tel.total(names.TOKENS.name, token_type=t, **labels) for t in names.TOKEN_TYPES}
    assert by_type == {"input": 20, "cache_read": 0, "cache_write": 0, "output": 10, "reasoning": 0}
    assert tel.total(names.CALLS.name, status="ok", **labels) == 1
    assert tel.total(names.COST_USD.name, **labels) == pytest.approx(expected_cost())


def text_of(events):
    return "".join(e.delta.message.content.text for e in events if e.type == "content-delta")


# --- chat, chat_stream, embed ------------------------------------------------------------------------


def test_chat(instrumented, client) -> None:
    reply = client.chat(**args())
    assert isinstance(reply, cohere.V2ChatResponse)
    assert reply.message.content[0].text == "one two three"
    assert reply.usage.tokens.input_tokens == 20 + TEMPLATE_TOKENS
    check_call_span(instrumented, instrumented.only_span())


async def test_chat_async(instrumented, aclient) -> None:
    reply = await aclient.chat(**args())
    assert reply.message.content[0].text == "one two three"
    check_call_span(instrumented, instrumented.only_span())


def test_chat_stream(instrumented, client) -> None:
    stream = client.chat_stream(**args())
    assert inspect.isgenerator(stream)
    assert text_of(stream) == "one two three"
    check_call_span(instrumented, instrumented.only_span(), stream=True)


async def test_chat_stream_async(instrumented, aclient) -> None:
    stream = aclient.chat_stream(**args())
    assert inspect.isasyncgen(stream)
    assert text_of([event async for event in stream]) == "one two three"
    check_call_span(instrumented, instrumented.only_span(), stream=True)


def test_v1_client_reaches_v2_through_its_property(instrumented, fake_llm) -> None:
    legacy = cohere.Client(api_key="test", base_url=fake_llm.url, max_retries=0)
    assert legacy.v2.chat(**args()).finish_reason == "COMPLETE"
    check_call_span(instrumented, instrumented.only_span())


def test_request_attributes_and_tool_call(instrumented, client) -> None:
    client.chat(
        **args(**{"x-fake-tool-call": "lookup"}),
        max_tokens=64,
        temperature=0.2,
        p=0.9,
        stop_sequences=["END"],
        seed=7,
        frequency_penalty=0.3,
        presence_penalty=0.1,
        response_format={"type": "json_object"},
    )
    span = instrumented.only_span()
    assert span.attributes[names.GEN_AI_RESPONSE_FINISH_REASONS] == ("TOOL_CALL",)
    assert request_attributes(span) == {
        names.GEN_AI_REQUEST_MODEL: MODEL,
        names.GEN_AI_REQUEST_MAX_TOKENS: 64,
        names.GEN_AI_REQUEST_TEMPERATURE: 0.2,
        names.GEN_AI_REQUEST_TOP_P: 0.9,
        names.GEN_AI_REQUEST_STOP_SEQUENCES: ("END",),
        names.GEN_AI_REQUEST_SEED: 7,
        names.GEN_AI_REQUEST_FREQUENCY_PENALTY: 0.3,
        names.GEN_AI_REQUEST_PRESENCE_PENALTY: 0.1,
        names.GEN_AI_OUTPUT_TYPE: "json",
    }


async def test_embed(instrumented, client, aclient) -> None:
    embed = {
        "model": "embed-v4.0",
        "input_type": "search_document",
        "texts": ["a b", "c"],
        "request_options": {"additional_headers": {"x-fake-input-tokens": "7"}},
    }
    reply = client.embed(**embed, embedding_types=["float", "int8"])
    assert len(reply.embeddings.float_) == 2
    assert len((await aclient.embed(**embed)).embeddings.float_) == 2
    first, second = instrumented.finished_spans()
    attrs = dict(first.attributes)
    assert first.name == "embeddings embed-v4.0"
    assert attrs[names.GEN_AI_OPERATION_NAME] == "embeddings"
    assert attrs[names.GEN_AI_REQUEST_ENCODING_FORMATS] == ("float", "int8")
    assert attrs[names.GEN_AI_RESPONSE_ID].startswith("cohere-embed-fake-")
    assert attrs[names.GEN_AI_USAGE_INPUT_TOKENS] == 7
    assert names.GEN_AI_USAGE_OUTPUT_TOKENS not in attrs
    assert attrs[names.ATTR_COST_USD] == pytest.approx(expected_cost("embed-v4.0", input_tokens=7, output=0))
    assert second.attributes[names.GEN_AI_USAGE_INPUT_TOKENS] == 7
    assert instrumented.total(names.TOKENS.name, operation="embeddings", token_type="input") == 14


# --- token semantics, prices, errors -------------------------------------------------------------------


def test_processed_tokens_are_the_fallback_without_billed_units() -> None:
    """Billed units win; a usage with only ``tokens`` (processed) counts those, and its cache hits."""
    billed = cohere.Usage(
        billed_units=cohere.UsageBilledUnits(input_tokens=20.0, output_tokens=10.0),
        tokens=cohere.UsageTokens(input_tokens=80.0, output_tokens=10.0),
        cached_tokens=5.0,
    )
    processed = cohere.Usage(
        tokens=cohere.UsageTokens(input_tokens=80.0, output_tokens=10.0), cached_tokens=5.0
    )
    assert mapping.usage_of(billed).counts() == (20, 0, 0, 10, 0)
    assert mapping.usage_of(processed).counts() == (75, 5, 0, 10, 0)
    assert mapping.usage_of(cohere.Usage()) is None


def test_cloud_clients_name_their_platform() -> None:
    """The Bedrock client inherits the patched methods; it signs and sends to AWS, so only its
    request is read here (no call is made)."""
    bedrock = cohere.BedrockClientV2(aws_region="us-east-1", aws_access_key="x", aws_secret_key="y")
    request, _ = mapping.read_chat_request(bedrock, (), {"model": MODEL, "messages": MSGS})
    assert (request.provider, request.server_address, request.server_port) == ("aws.bedrock", None, None)


def test_unpriced_model_is_counted(instrumented, client) -> None:
    client.chat(**args("my-cohere-finetune"))
    attrs = instrumented.only_span().attributes
    assert attrs[names.ATTR_COST_PRICED] is False
    assert instrumented.total(names.UNPRICED_CALLS.name, provider="cohere") == 1
    assert instrumented.total(names.TOKENS.name) == TOTAL


def test_http_errors_are_failed_calls(instrumented, client) -> None:
    with pytest.raises(cohere.TooManyRequestsError) as caught:
        client.chat(**args(**{"x-fake-status": "429"}))
    assert caught.value.status_code == 429
    stream = client.chat_stream(**args(**{"x-fake-status": "500"}))  # sent on the first next()
    with pytest.raises(cohere.InternalServerError):
        next(stream)
    spans = instrumented.finished_spans()
    assert [s.attributes[names.ERROR_TYPE] for s in spans] == ["429", "500"]
    assert instrumented.total(names.CALLS.name, status="error") == 2
    assert instrumented.total(names.OUTCOME_CALLS.name, outcome="error") == 2


async def test_missing_usage(instrumented, client, aclient) -> None:
    client.chat(**args(**{"x-fake-no-usage": "1"}))
    assert text_of(client.chat_stream(**args(**{"x-fake-no-usage": "1"}))) == "one two three"
    await aclient.embed(
        model="embed-v4.0",
        input_type="search_query",
        texts=["a"],
        request_options={"additional_headers": {"x-fake-no-usage": "1"}},
    )
    spans = instrumented.finished_spans()
    assert [s.attributes[names.ATTR_USAGE_SOURCE] for s in spans] == ["missing"] * 3
    assert instrumented.total(names.TOKENS.name) == 0


# --- outcomes ----------------------------------------------------------------------------------------


def test_mark_used_on_a_response(instrumented, client, check_outcome) -> None:
    reply = client.chat(**args())
    otel_tokens.mark_used(reply)
    check_outcome(instrumented, instrumented.only_span(), "used", tokens=TOTAL)


@pytest.mark.parametrize(("read", "outcome"), [(None, "unread"), ("message", "unmarked")])
def test_dropped_response_is_inferred(instrumented, client, check_outcome, read, outcome) -> None:
    read_then_release(client.chat(**args()), metadata=("id", "usage", "finish_reason"), content=read)
    check_outcome(instrumented, instrumented.only_span(), outcome, tokens=TOTAL)


async def test_embeddings_read_and_verdict(instrumented, aclient, check_outcome) -> None:
    reply = await aclient.embed(
        model="embed-v4.0",
        input_type="search_query",
        texts=["a"],
        request_options={"additional_headers": {"x-fake-input-tokens": "3"}},
    )
    _ = reply.embeddings
    otel_tokens.mark_discarded(reply)
    check_outcome(instrumented, instrumented.only_span(), "discarded", tokens=3)


def test_stream_verdict(instrumented, client, check_outcome) -> None:
    stream = client.chat_stream(**args())
    assert text_of(stream) == "one two three"
    otel_tokens.mark_used(stream)
    check_outcome(instrumented, instrumented.only_span(), "used", tokens=TOTAL)


# --- the stream lifecycle: one span, ended once ------------------------------------------------------


# How the caller leaves the stream -> (outcome, usage source). Generators have no ``with``.
ENDS = {
    "exhaust": ("unmarked", "provider"),
    "break_and_drop": ("unmarked", "missing"),
    "close": ("unmarked", "missing"),
    "abandoned": ("unmarked", "missing"),  # started, then left to the garbage collector
    "error": ("error", None),
}


@pytest.mark.parametrize("end", ENDS)
async def test_stream_ends_once_on_every_path(instrumented, client, fake_llm, one_call, end) -> None:
    sent = len(fake_llm.requests)
    stream = client.chat_stream(**args(**(ERROR_AFTER if end == "error" else {})))
    read = await leave(instrumented, stream, end, error=httpx.RemoteProtocolError)
    if end == "exhaust":
        assert text_of(read) == "one two three"
    elif end in ("close", "abandoned"):
        assert read[0].type == "message-start"
    del stream
    outcome, source = ENDS[end]
    one_call(instrumented, outcome=outcome, usage_source=source)
    assert len(fake_llm.requests) - sent == 1


@pytest.mark.parametrize("end", ["gc", "close"])
async def test_a_stream_never_iterated_is_no_call(instrumented, client, aclient, fake_llm, end) -> None:
    """The generator sends its request on the first ``next``: dropped or closed before, nothing was
    sent and nothing is counted."""
    sent = len(fake_llm.requests)
    stream, astream = client.chat_stream(**args()), aclient.chat_stream(**args())
    assert inspect.isgenerator(stream) and inspect.isasyncgen(astream)
    if end == "close":
        stream.close()
        await astream.aclose()
        with pytest.raises(StopIteration):
            next(stream)
    del stream, astream
    gc.collect()
    assert len(fake_llm.requests) == sent
    assert instrumented.finished_spans() == []
    assert instrumented.points(names.CALLS.name) == []


@pytest.mark.parametrize("end", ["exhaust", "close", "break_and_drop", "error"])
async def test_async_stream_ends_once(instrumented, aclient, one_call, end) -> None:
    stream = aclient.chat_stream(**args(**(ERROR_AFTER if end == "error" else {})))
    read = await leave(instrumented, stream, end, aio=True, error=httpx.RemoteProtocolError)
    if end == "exhaust":
        assert text_of(read) == "one two three"
    del stream
    one_call(instrumented, outcome="error" if end == "error" else "unmarked")


# --- uninstrument ------------------------------------------------------------------------------------


def test_uninstrument_restores_the_original_methods(instrument_with) -> None:
    owners = check_patches_undone(instrument_with, CohereInstrumentor())
    assert len(owners) == len(LIBRARY.endpoints) + len(STREAM_ENDPOINTS) == 6


# --- never break the call ----------------------------------------------------------------------------


def _dump(model: Any) -> Any:
    return model.model_dump(exclude={"id"})  # ids count up per call


async def _async_chat(c: Any, h: dict[str, str]) -> Any:
    return _dump(await c.chat(**args(**h)))


async def _async_stream(c: Any, h: dict[str, str]) -> Any:
    return [_dump(event) async for event in c.chat_stream(**args(**h))]


async def _async_embed(c: Any, h: dict[str, str]) -> Any:
    return _dump(await c.embed(**EMBED, request_options={"additional_headers": h}))


EMBED = {"model": "embed-v4.0", "input_type": "search_query", "texts": ["a b"]}
CALLS = {  # name -> (kind, call(client, headers) -> a comparable result)
    "chat": ("response", lambda c, h: _dump(c.chat(**args(**h)))),
    "chat_stream": ("stream", lambda c, h: [_dump(event) for event in c.chat_stream(**args(**h))]),
    "embed": ("response", lambda c, h: _dump(c.embed(**EMBED, request_options={"additional_headers": h}))),
    "chat_async": ("response", _async_chat),
    "chat_stream_async": ("stream", _async_stream),
    "embed_async": ("response", _async_embed),
}
BOTH = ("response", "stream")
FAULTS = {  # what breaks -> (how, {kind of call reached: stage counted})
    "request": Fault(on("_request", mapping), dict.fromkeys(BOTH, "request")),
    "usage": Fault(on("usage_of", mapping), {"response": "response", "stream": "stream_end"}),
    "stream_chunk": Fault(on("on_chunk", mapping.ChatStreamState), {"stream": "stream_chunk"}),
    "stream_state": Fault(on("__init__", mapping.ChatStreamState), {"stream": "stream_chunk"}),
    "recording": Fault(on("finish", Recorder), dict.fromkeys(BOTH, "recording")),
    "lazy_stream": Fault(on("_proxy", lazy_streams), {"stream": "request"}),
}


@pytest.mark.parametrize("name", CALLS)
async def test_failures_inside_never_break_the_call(tolerant, make_client, monkeypatch, name) -> None:
    """Each fault in turn leaves the result, and a provider error, as without otel-tokens; its
    failure is counted under its stage only when it is on this call's path."""
    kind, call = CALLS[name]

    def make_run() -> Any:
        client = make_client(aio=name.endswith("_async"))
        return lambda h: call(client, {"x-fake-input-tokens": "4", "x-fake-output-tokens": "2", **h})

    await check_faults_never_break(
        tolerant,
        monkeypatch,
        make_run,
        kind,
        FAULTS,
        failing=[{"x-fake-status": "500"}],
        errors=cohere.InternalServerError,
        same=lambda e: (type(e), e.status_code, e.body),  # its str() holds the response's headers
    )
