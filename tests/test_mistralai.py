"""Mistral through the real ``mistralai`` SDK over HTTP (the fake server's ``/mistral`` routes):
span attributes, token types, cost, every instrumented surface sync and async, the stream
lifecycle, outcomes, uninstrument, and no failure inside otel-tokens breaking any call.

Calls send ``x-fake-input-tokens: 20`` (Mistral's ``prompt_tokens``, a total that includes the
5 cached tokens) and 10 output tokens: token types are input 15, cache_read 5, output 10.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx2
import pydantic
import pytest
from genai_prices import Usage as PriceUsage
from genai_prices import calc_price
from helpers_faults import Fault, check_faults_never_break, on
from helpers_providers import ERROR_AFTER, check_patches_undone, leave, read_then_release, request_attributes
from mistralai.client import Mistral, errors, models
from mistralai.client.utils.eventstreaming import EventStream, EventStreamAsync

import otel_tokens
from otel_tokens import names
from otel_tokens.instrumentation.mistralai import LIBRARY, MistralAIInstrumentor, mapping
from otel_tokens.recorder import Recorder

MODEL = "mistral-small-2603"  # fixed prices, cache reads priced apart
HEADERS = {
    "x-fake-input-tokens": "20",
    "x-fake-cached-tokens": "5",
    "x-fake-output-tokens": "10",
    "x-fake-output": "one two three",
}
TOTAL = 30
MSGS = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def tls() -> ssl.SSLContext:
    return ssl.create_default_context()  # loading the CA bundle for every client costs ~50 ms


@pytest.fixture
async def client(fake_llm, tls):
    http, ahttp = httpx2.Client(verify=tls), httpx2.AsyncClient(verify=tls)
    yield Mistral(api_key="test", server_url=fake_llm.url + "/mistral", client=http, async_client=ahttp)
    http.close()
    await ahttp.aclose()


def args(model=MODEL, **headers):
    return {"model": model, "messages": MSGS, "http_headers": {**HEADERS, **headers}}


def expected_cost(model=MODEL, input_tokens=20, cached=5, output=10):
    usage = PriceUsage(input_tokens=input_tokens, cache_read_tokens=cached, output_tokens=output)
    return float(calc_price(usage, model, provider_id="mistral").total_price)


def check_call_span(
    tel, span, *, operation="chat", model=MODEL, stream=False, finish="stop", output_type="text"
):
    attrs = dict(span.attributes or {})
    assert span.name == f"{operation} {model}"
    assert span.kind.name == "CLIENT"
    assert attrs.pop(names.GEN_AI_RESPONSE_ID).startswith("cmpl-mistral-fake")
    assert attrs.pop(names.SERVER_PORT) > 0
    if stream:
        assert attrs.pop(names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK) > 0
    assert attrs.pop(names.ATTR_COST_USD) == pytest.approx(expected_cost(model))
    assert attrs == {
        names.GEN_AI_OPERATION_NAME: operation,
        names.GEN_AI_PROVIDER_NAME: "mistral_ai",
        names.GEN_AI_REQUEST_MODEL: model,
        names.GEN_AI_OUTPUT_TYPE: output_type,
        names.GEN_AI_RESPONSE_MODEL: f"{model}-2026-01-01",
        names.GEN_AI_RESPONSE_FINISH_REASONS: (finish,),
        names.GEN_AI_USAGE_INPUT_TOKENS: 20,
        names.GEN_AI_USAGE_OUTPUT_TOKENS: 10,
        names.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 5,
        names.SERVER_ADDRESS: "127.0.0.1",
        names.ATTR_TASK: "unlabeled",
        names.ATTR_USAGE_SOURCE: "provider",
        names.ATTR_COST_PRICED: True,
    }
    labels = {"provider": "mistral_ai", "model": f"{model}-2026-01-01", "operation": operation}
    by_type = {t: tel.total(names.TOKENS.name, token_type=t, **labels) for t in names.TOKEN_TYPES}
    assert by_type == {"input": 15, "cache_read": 5, "cache_write": 0, "output": 10, "reasoning": 0}
    assert tel.total(names.CALLS.name, status="ok", **labels) == 1
    assert tel.total(names.COST_USD.name, **labels) == pytest.approx(expected_cost(model))


def text_of(events):
    return "".join(e.data.choices[0].delta.content or "" for e in events)


# --- chat ------------------------------------------------------------------------------------------


def test_complete(instrumented, client) -> None:
    reply = client.chat.complete(**args())
    assert isinstance(reply, models.ChatCompletionResponse)
    assert reply.choices[0].message.content == "one two three"
    check_call_span(instrumented, instrumented.only_span())


async def test_complete_async(instrumented, client) -> None:
    reply = await client.chat.complete_async(**args())
    assert reply.choices[0].message.content == "one two three"
    check_call_span(instrumented, instrumented.only_span())


def test_stream(instrumented, client) -> None:
    stream = client.chat.stream(**args())
    assert isinstance(stream, EventStream)
    assert text_of(stream) == "one two three"
    check_call_span(instrumented, instrumented.only_span(), stream=True)


async def test_stream_async(instrumented, client) -> None:
    stream = await client.chat.stream_async(**args())
    assert isinstance(stream, EventStreamAsync)
    assert text_of([e async for e in stream]) == "one two three"
    check_call_span(instrumented, instrumented.only_span(), stream=True)


def test_reasoning_tokens_are_within_output(instrumented, client) -> None:
    client.chat.complete(**args("magistral-medium-2509", **{"x-fake-reasoning-tokens": "3"}))
    attrs = instrumented.only_span().attributes
    assert attrs[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 10
    assert attrs[names.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 3
    assert instrumented.total(names.TOKENS.name, token_type="output") == 7
    assert instrumented.total(names.TOKENS.name, token_type="reasoning") == 3
    cost = expected_cost("magistral-medium-2509")  # genai-prices bills reasoning as output
    assert attrs[names.ATTR_COST_USD] == pytest.approx(cost)


def test_request_attributes_and_tool_call(instrumented, client) -> None:
    client.chat.complete(
        **args(**{"x-fake-tool-call": "lookup"}),
        temperature=0.2,
        top_p=0.9,
        max_tokens=64,
        stop=["END"],
        random_seed=7,
        presence_penalty=0.1,
        frequency_penalty=0.3,
        response_format={"type": "json_object"},
    )
    span = instrumented.only_span()
    assert span.attributes[names.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert request_attributes(span) == {
        names.GEN_AI_REQUEST_MODEL: MODEL,
        names.GEN_AI_REQUEST_TEMPERATURE: 0.2,
        names.GEN_AI_REQUEST_TOP_P: 0.9,
        names.GEN_AI_REQUEST_MAX_TOKENS: 64,
        names.GEN_AI_REQUEST_STOP_SEQUENCES: ("END",),
        names.GEN_AI_REQUEST_SEED: 7,
        names.GEN_AI_REQUEST_PRESENCE_PENALTY: 0.1,
        names.GEN_AI_REQUEST_FREQUENCY_PENALTY: 0.3,
        names.GEN_AI_OUTPUT_TYPE: "json",
    }


class Answer(pydantic.BaseModel):
    x: int


async def test_parse_helpers_are_one_span_each(instrumented, client, check_outcome) -> None:
    parsed_headers = {**HEADERS, "x-fake-output": '{"x": 1}'}
    parsed = client.chat.parse(Answer, model=MODEL, messages=MSGS, http_headers=parsed_headers)
    assert parsed.choices[0].message.parsed == Answer(x=1)
    otel_tokens.mark_used(parsed)  # the caller's parsed response is the tracked one
    check_outcome(instrumented, instrumented.only_span(), "used", tokens=TOTAL)
    check_call_span(instrumented, instrumented.only_span(), output_type="json")
    instrumented.spans.clear()
    again = await client.chat.parse_async(Answer, model=MODEL, messages=MSGS, http_headers=parsed_headers)
    assert again.choices[0].message.parsed == Answer(x=1)
    assert text_of(client.chat.parse_stream(Answer, **args())) == "one two three"
    assert (
        text_of([e async for e in await client.chat.parse_stream_async(Answer, **args())]) == "one two three"
    )
    spans = instrumented.finished_spans()
    assert [s.attributes[names.GEN_AI_OUTPUT_TYPE] for s in spans] == ["json"] * 3
    assert instrumented.total(names.CALLS.name) == 4


# --- FIM, agents, embeddings ------------------------------------------------------------------------


async def test_fim(instrumented, client) -> None:
    fim = {"model": "codestral-2508", "prompt": "def add(", "suffix": "return x", "http_headers": HEADERS}
    assert client.fim.complete(**fim).choices[0].message.content == "one two three"
    check_call_span(
        instrumented, instrumented.only_span(), operation="text_completion", model="codestral-2508"
    )
    assert (await client.fim.complete_async(**fim)).choices[0].message.content == "one two three"
    assert text_of(client.fim.stream(**fim)) == "one two three"
    assert text_of([e async for e in await client.fim.stream_async(**fim)]) == "one two three"
    spans = instrumented.finished_spans()
    assert {s.name for s in spans} == {"text_completion codestral-2508"}
    assert instrumented.total(names.CALLS.name, operation="text_completion", status="ok") == 4
    assert instrumented.total(names.COST_USD.name) == pytest.approx(4 * expected_cost("codestral-2508"))


async def test_agents(instrumented, client) -> None:
    agent = {"agent_id": "ag_fake", "messages": MSGS, "http_headers": HEADERS}
    assert client.agents.complete(**agent).choices[0].message.content == "one two three"
    assert (await client.agents.complete_async(**agent)).model == "mistral-medium-latest"
    assert text_of(client.agents.stream(**agent)) == "one two three"
    assert text_of([e async for e in await client.agents.stream_async(**agent)]) == "one two three"
    spans = instrumented.finished_spans()
    assert [s.name for s in spans] == ["invoke_agent"] * 4  # the request names an agent, not a model
    attrs = spans[0].attributes
    assert names.GEN_AI_REQUEST_MODEL not in attrs
    assert attrs[names.GEN_AI_RESPONSE_MODEL] == "mistral-medium-latest"
    assert attrs[names.ATTR_COST_USD] == pytest.approx(expected_cost("mistral-medium-latest"))
    labels = {"operation": "invoke_agent", "model": "mistral-medium-latest"}
    assert instrumented.total(names.CALLS.name, status="ok", **labels) == 4


async def test_embeddings(instrumented, client) -> None:
    embed = {"model": "mistral-embed", "inputs": ["a b", "c"], "http_headers": {"x-fake-input-tokens": "7"}}
    reply = client.embeddings.create(**embed, encoding_format="float")
    assert len(reply.data) == 2
    assert len((await client.embeddings.create_async(**embed)).data) == 2
    first, second = instrumented.finished_spans()
    attrs = dict(first.attributes)
    assert first.name == "embeddings mistral-embed"
    assert attrs[names.GEN_AI_OPERATION_NAME] == "embeddings"
    assert attrs[names.GEN_AI_REQUEST_ENCODING_FORMATS] == ("float",)
    assert attrs[names.GEN_AI_RESPONSE_ID].startswith("embd-mistral-fake")
    assert attrs[names.GEN_AI_USAGE_INPUT_TOKENS] == 7
    assert names.GEN_AI_USAGE_OUTPUT_TOKENS not in attrs
    cost = float(calc_price(PriceUsage(input_tokens=7), "mistral-embed", provider_id="mistral").total_price)
    assert attrs[names.ATTR_COST_USD] == pytest.approx(cost)
    assert second.attributes[names.GEN_AI_USAGE_INPUT_TOKENS] == 7
    assert instrumented.total(names.TOKENS.name, operation="embeddings", token_type="input") == 14


# --- prices, errors, provider ------------------------------------------------------------------------


def test_unpriced_model_is_counted(instrumented, client) -> None:
    client.chat.complete(**args("my-private-finetune"))
    attrs = instrumented.only_span().attributes
    assert attrs[names.ATTR_COST_PRICED] is False
    assert attrs[names.ATTR_COST_USD] == 0.0
    assert instrumented.total(names.UNPRICED_CALLS.name, provider="mistral_ai") == 1
    assert instrumented.total(names.TOKENS.name) == TOTAL


def test_http_error_is_one_failed_call(instrumented, client) -> None:
    with pytest.raises(errors.SDKError) as caught:
        client.chat.complete(**args(**{"x-fake-status": "429"}))
    assert caught.value.status_code == 429
    span = instrumented.only_span()
    assert span.attributes[names.ERROR_TYPE] == "429"
    assert instrumented.total(names.CALLS.name, status="error") == 1
    assert instrumented.total(names.OUTCOME_CALLS.name, outcome="error") == 1


def test_missing_usage(instrumented, client) -> None:
    """A stream without usage is a call with usage ``missing``; the SDK itself rejects a response
    without usage (its ``usage`` field is required), which is then a failed call."""
    for _event in client.chat.stream(**args(**{"x-fake-no-usage": "1"})):
        pass
    with pytest.raises(errors.ResponseValidationError):
        client.chat.complete(**args(**{"x-fake-no-usage": "1"}))
    streamed, failed = instrumented.finished_spans()
    assert streamed.attributes[names.ATTR_USAGE_SOURCE] == "missing"
    assert failed.status.status_code.name == "ERROR"
    assert instrumented.total(names.TOKENS.name) == 0
    assert (
        instrumented.total(names.CALLS.name, status="ok")
        == instrumented.total(names.CALLS.name, status="error")
        == 1
    )


# --- outcomes ----------------------------------------------------------------------------------------


def test_mark_used_on_a_response(instrumented, client, check_outcome) -> None:
    reply = client.chat.complete(**args())
    otel_tokens.mark_used(reply)
    check_outcome(instrumented, instrumented.only_span(), "used", tokens=TOTAL)


@pytest.mark.parametrize(("read", "outcome"), [(None, "unread"), ("choices", "unmarked")])
def test_dropped_response_is_inferred(instrumented, client, check_outcome, read, outcome) -> None:
    read_then_release(client.chat.complete(**args()), metadata=("id", "usage", "model"), content=read)
    check_outcome(instrumented, instrumented.only_span(), outcome, tokens=TOTAL)


def test_stream_verdict(instrumented, client, check_outcome) -> None:
    stream = client.chat.stream(**args())
    assert text_of(stream) == "one two three"
    otel_tokens.mark_discarded(stream)
    check_outcome(instrumented, instrumented.only_span(), "discarded", tokens=TOTAL)


# --- the stream lifecycle: one span, ended once ------------------------------------------------------


ENDS = {  # how the caller leaves the stream -> (outcome, usage source)
    "exhaust": ("unmarked", "provider"),
    "break_and_drop": ("unmarked", "missing"),
    "close": ("unmarked", "missing"),
    "with": ("unmarked", "missing"),
    "gc": ("unread", "missing"),
    "error": ("error", None),
}


@pytest.mark.parametrize("end", ENDS)
async def test_stream_ends_once_on_every_path(instrumented, client, one_call, end) -> None:
    stream = client.chat.stream(**args(**(ERROR_AFTER if end == "error" else {})))
    read = await leave(instrumented, stream, end, error=httpx2.RemoteProtocolError)
    if end == "exhaust":
        assert text_of(read) == "one two three"
    elif end == "with":
        assert read[0].data.choices[0].delta.role == "assistant"
    del stream
    outcome, source = ENDS[end]
    one_call(instrumented, outcome=outcome, usage_source=source)


@pytest.mark.parametrize("end", ["exhaust", "with", "close", "break_and_drop", "error"])
async def test_async_stream_ends_once(instrumented, client, one_call, end) -> None:
    stream = await client.chat.stream_async(**args(**(ERROR_AFTER if end == "error" else {})))
    read = await leave(instrumented, stream, end, aio=True, error=httpx2.RemoteProtocolError)
    if end == "exhaust":
        assert text_of(read) == "one two three"
    del stream
    one_call(instrumented, outcome="error" if end == "error" else "unmarked")


# --- uninstrument ------------------------------------------------------------------------------------


def test_uninstrument_restores_the_original_methods(instrument_with) -> None:
    owners = check_patches_undone(instrument_with, MistralAIInstrumentor())
    assert len(owners) == 18  # 9 surfaces, sync and async; the 1.x layout is absent here
    assert {e.module for e in LIBRARY.endpoints} >= {"mistralai.client.chat", "mistralai.chat"}


# --- never break the call ----------------------------------------------------------------------------


def _dump(model: Any) -> Any:
    return model.model_dump(exclude={"id", "created"})  # ids and timestamps change per call


def _dump_events(events: Any) -> list[Any]:
    return [e.data.model_dump(exclude={"id", "created"}) for e in events]


async def _dump_async_events(stream: Any) -> list[Any]:
    return _dump_events([e async for e in await stream])


FIM = {"model": "codestral-2508", "prompt": "def add("}
AGENT = {"agent_id": "ag_fake", "messages": MSGS}
EMBED = {"model": "mistral-embed", "inputs": ["a b"]}
CALLS = {  # name -> (kind, call(client, headers) -> a comparable result)
    "complete": ("response", lambda c, h: _dump(c.chat.complete(**args(**h)))),
    "stream": ("stream", lambda c, h: _dump_events(c.chat.stream(**args(**h)))),
    "parse": (
        "response",
        lambda c, h: _dump(c.chat.parse(Answer, **args(**h, **{"x-fake-output": '{"x":1}'}))),
    ),
    "parse_stream": ("stream", lambda c, h: _dump_events(c.chat.parse_stream(Answer, **args(**h)))),
    "fim_complete": ("response", lambda c, h: _dump(c.fim.complete(**FIM, http_headers=h))),
    "fim_stream": ("stream", lambda c, h: _dump_events(c.fim.stream(**FIM, http_headers=h))),
    "agents_complete": ("response", lambda c, h: _dump(c.agents.complete(**AGENT, http_headers=h))),
    "agents_stream": ("stream", lambda c, h: _dump_events(c.agents.stream(**AGENT, http_headers=h))),
    "embeddings": ("response", lambda c, h: _dump(c.embeddings.create(**EMBED, http_headers=h))),
    "complete_async": ("response", lambda c, h: _awaited_dump(c.chat.complete_async(**args(**h)))),
    "stream_async": ("stream", lambda c, h: _dump_async_events(c.chat.stream_async(**args(**h)))),
    "parse_async": (
        "response",
        lambda c, h: _awaited_dump(c.chat.parse_async(Answer, **args(**h, **{"x-fake-output": '{"x":1}'}))),
    ),
    "parse_stream_async": (
        "stream",
        lambda c, h: _dump_async_events(c.chat.parse_stream_async(Answer, **args(**h))),
    ),
    "fim_complete_async": (
        "response",
        lambda c, h: _awaited_dump(c.fim.complete_async(**FIM, http_headers=h)),
    ),
    "fim_stream_async": (
        "stream",
        lambda c, h: _dump_async_events(c.fim.stream_async(**FIM, http_headers=h)),
    ),
    "agents_complete_async": (
        "response",
        lambda c, h: _awaited_dump(c.agents.complete_async(**AGENT, http_headers=h)),
    ),
    "agents_stream_async": (
        "stream",
        lambda c, h: _dump_async_events(c.agents.stream_async(**AGENT, http_headers=h)),
    ),
    "embeddings_async": (
        "response",
        lambda c, h: _awaited_dump(c.embeddings.create_async(**EMBED, http_headers=h)),
    ),
}


async def _awaited_dump(call: Any) -> Any:
    return _dump(await call)


BOTH = ("response", "stream")
FAULTS = {  # what breaks -> (how, {kind of call reached: stage counted})
    "request": Fault(on("_request", mapping), dict.fromkeys(BOTH, "request")),
    "usage": Fault(on("usage_of", mapping), {"response": "response", "stream": "stream_end"}),
    "stream_chunk": Fault(on("on_chunk", mapping.CompletionStreamState), {"stream": "stream_chunk"}),
    "stream_state": Fault(on("__init__", mapping.CompletionStreamState), {"stream": "stream_chunk"}),
    "recording": Fault(on("finish", Recorder), dict.fromkeys(BOTH, "recording")),
}


@pytest.mark.parametrize("name", CALLS)
async def test_failures_inside_never_break_the_call(tolerant, client, monkeypatch, name) -> None:
    """Each fault in turn leaves the result, and a provider error, as without otel-tokens; its
    failure is counted under its stage only when it is on this call's path."""
    kind, call = CALLS[name]
    await check_faults_never_break(
        tolerant,
        monkeypatch,
        lambda: lambda h: call(client, {"x-fake-input-tokens": "4", "x-fake-output-tokens": "2", **h}),
        kind,
        FAULTS,
        failing=[{"x-fake-status": "500"}],
        errors=errors.SDKError,
    )
