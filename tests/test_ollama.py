"""Ollama through the real SDK over HTTP: ``chat``, ``generate`` and ``embed`` on ``Client``,
``AsyncClient`` and the module functions, streamed or not: span attributes, token metrics, no
price (local models), outcomes, the stream lifecycle, and never breaking the call.

The Ollama SDK takes headers per client, not per call, so each test makes the clients it
needs (sharing one SSL context keeps that cheap). Every call reports 12 prompt and 7 generated
tokens (``prompt_eval_count`` / ``eval_count``).
"""

from __future__ import annotations

import functools
import inspect
import json
import ssl
from typing import Any

import httpx
import ollama
import pytest
from helpers_faults import check_error_unchanged, check_result_unchanged, reaching, wrapper_faults
from helpers_providers import (
    ERROR_AFTER,
    check_patches_undone,
    drain,
    entry_point,
    leave,
    read_then_release,
    request_attributes,
)

import otel_tokens
from otel_tokens import names as n
from otel_tokens.instrumentation.ollama import LIBRARY, OllamaInstrumentor
from otel_tokens.instrumentation.ollama import mapping as m

MODEL = "llama3.2"
EMBED_MODEL = "nomic-embed-text"
HEADERS = {"x-fake-input-tokens": "12", "x-fake-output-tokens": "7", "x-fake-output": "one two three"}
TOTAL = 19
MSGS = [{"role": "user", "content": "hello"}]
_SSL = ssl.create_default_context()

SURFACES = ("client", "async_client", "module")
METHODS = {  # method -> (operation, model, keyword arguments)
    "chat": ("chat", MODEL, {"model": MODEL, "messages": MSGS}),
    "generate": ("text_completion", MODEL, {"model": MODEL, "prompt": "hello"}),
    "embed": ("embeddings", EMBED_MODEL, {"model": EMBED_MODEL, "input": "hello"}),
}
# (surface, method, stream): every instrumented method, and streamed where it can stream.
CALLS = [
    (surface, method, stream)
    for surface in SURFACES
    for method in METHODS
    for stream in ((False, True) if method != "embed" else (False,))
]


def call_id(value: Any) -> str:
    return "-".join(str(v) for v in value) if isinstance(value, tuple) else str(value)


class Caller:
    """Calls one surface of the SDK against the fake server with the given ``x-fake-*`` headers."""

    def __init__(self, fake_llm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fake_llm = fake_llm
        self.monkeypatch = monkeypatch
        self.made: list[Any] = []

    def client(self, aio: bool = False, **headers: str) -> Any:
        cls = ollama.AsyncClient if aio else ollama.Client
        client = cls(host=self.fake_llm.url, headers={**HEADERS, **headers}, verify=_SSL)
        self.made.append(client)
        return client

    def _module(self, headers: dict[str, str]) -> Any:
        # The module functions are bound to ``ollama._client``: point its HTTP client at the fake.
        http = ollama._client._client
        self.monkeypatch.setattr(http, "base_url", httpx.URL(self.fake_llm.url))
        for key in [k for k in http.headers if k.startswith("x-fake-")]:
            self.monkeypatch.delitem(http.headers, key)
        for key, value in {**HEADERS, **headers}.items():
            self.monkeypatch.setitem(http.headers, key, value)
        return ollama

    async def call(self, surface: str, method: str, stream: bool = False, **headers: str) -> Any:
        """The SDK's result: a response, or a not yet iterated stream."""
        target = (
            self._module(headers)
            if surface == "module"
            else self.client(surface == "async_client", **headers)
        )
        extra = {"stream": True} if stream else {}
        result = getattr(target, method)(**METHODS[method][2], **extra)
        return await result if inspect.isawaitable(result) else result

    async def close(self) -> None:
        for client in self.made:
            closed = client.close()
            if inspect.isawaitable(closed):
                await closed


@pytest.fixture
async def caller(fake_llm: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    made = Caller(fake_llm, monkeypatch)
    yield made
    await made.close()


async def settle(result: Any) -> Any:
    """What the caller sees: a response, or the list of a stream's parts."""
    return await drain(result) if m.is_stream(result) else result


def check_call_span(tel: Any, span: Any, fake_llm: Any, method: str, *, stream: bool = False) -> None:
    operation, model, _ = METHODS[method]
    attrs = dict(span.attributes or {})
    assert span.name == f"{operation} {model}"
    assert span.kind.name == "CLIENT"
    if stream:
        assert attrs.pop(n.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK) > 0
    expected: dict[str, Any] = {
        n.GEN_AI_OPERATION_NAME: operation,
        n.GEN_AI_PROVIDER_NAME: "ollama",
        n.GEN_AI_REQUEST_MODEL: model,
        n.GEN_AI_RESPONSE_MODEL: f"{model}-2026-01-01",
        n.GEN_AI_USAGE_INPUT_TOKENS: 12,
        n.SERVER_ADDRESS: "127.0.0.1",
        n.SERVER_PORT: fake_llm.port,
        n.ATTR_TASK: "unlabeled",
        n.ATTR_USAGE_SOURCE: "provider",
        n.ATTR_COST_USD: 0.0,
        n.ATTR_COST_PRICED: False,  # local models have no price
    }
    if operation != "embeddings":
        expected |= {
            n.GEN_AI_OUTPUT_TYPE: "text",
            n.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
            n.GEN_AI_USAGE_OUTPUT_TOKENS: 7,
        }
    assert attrs == expected
    labels = {"provider": "ollama", "model": f"{model}-2026-01-01", "operation": operation}
    by_type = {t: tel.total(n.TOKENS.name, token_type=t, **labels) for t in n.TOKEN_TYPES}
    output = 0 if operation == "embeddings" else 7
    assert by_type == {"input": 12, "cache_read": 0, "cache_write": 0, "output": output, "reasoning": 0}
    assert tel.total(n.CALLS.name, status="ok", **labels) == 1
    assert tel.total(n.UNPRICED_CALLS.name, **labels) == 1
    assert tel.points(n.COST_USD.name) == []


# --- what each call records ------------------------------------------------------------------------


@pytest.mark.parametrize("case", CALLS, ids=call_id)
async def test_every_surface_records_one_call(instrumented, caller, fake_llm, case) -> None:
    surface, method, stream = case
    result = await caller.call(surface, method, stream)
    if stream:
        assert m.is_stream(result)
        parts = await drain(result)
        assert (
            "".join(p.message.content if method == "chat" else p.response for p in parts) == "one two three"
        )
        assert parts[-1].done is True
    elif method == "embed":
        assert isinstance(result, ollama.EmbedResponse)
        assert len(result.embeddings) == 1
    else:
        assert isinstance(result, ollama.ChatResponse if method == "chat" else ollama.GenerateResponse)
        assert (result.message.content if method == "chat" else result.response) == "one two three"
    check_call_span(instrumented, instrumented.only_span(), fake_llm, method, stream=stream)


def test_positional_arguments_options_and_format(instrumented, caller) -> None:
    client = caller.client()
    options = {"temperature": 0.2, "top_p": 0.9, "num_predict": 64, "stop": ["END"], "seed": 7}
    client.chat(MODEL, MSGS, options=options, format="json")
    client.generate(MODEL, "hello", options=ollama.Options(temperature=0.5), format={"type": "object"})
    client.embed(EMBED_MODEL, ["a b", "c"])
    chat, generate, embed = instrumented.finished_spans()
    assert request_attributes(chat) == {
        n.GEN_AI_REQUEST_MODEL: MODEL,
        n.GEN_AI_REQUEST_TEMPERATURE: 0.2,
        n.GEN_AI_REQUEST_TOP_P: 0.9,
        n.GEN_AI_REQUEST_MAX_TOKENS: 64,
        n.GEN_AI_REQUEST_STOP_SEQUENCES: ("END",),
        n.GEN_AI_REQUEST_SEED: 7,
        n.GEN_AI_OUTPUT_TYPE: "json",
    }
    assert request_attributes(generate) == {
        n.GEN_AI_REQUEST_MODEL: MODEL,
        n.GEN_AI_REQUEST_TEMPERATURE: 0.5,
        n.GEN_AI_OUTPUT_TYPE: "json",
    }
    assert request_attributes(embed) == {n.GEN_AI_REQUEST_MODEL: EMBED_MODEL}
    assert embed.attributes[n.GEN_AI_OPERATION_NAME] == "embeddings"


def test_tool_call(instrumented, caller) -> None:
    reply = caller.client(**{"x-fake-tool-call": "lookup"}).chat(model=MODEL, messages=MSGS)
    assert reply.message.tool_calls[0].function.name == "lookup"
    attrs = instrumented.only_span().attributes
    assert attrs[n.GEN_AI_USAGE_OUTPUT_TOKENS] == 7
    assert attrs[n.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


@pytest.fixture
def priced(instrument_with, tmp_path):
    """Instrumented with a price file for the local models (outcomes then carry a cost)."""
    prices = tmp_path / "prices.yaml"
    prices.write_text(
        f"models:\n  {MODEL}: {{input: 0.10, output: 0.40}}\n  {EMBED_MODEL}: {{input: 0.02, output: 0}}\n"
    )
    return instrument_with(prices_file=str(prices))


def test_a_price_file_prices_local_models(priced, caller) -> None:
    tel = priced
    caller.client().chat(model=MODEL, messages=MSGS)
    expected = (12 * 0.10 + 7 * 0.40) / 1_000_000
    span = tel.only_span()
    assert span.attributes[n.ATTR_COST_USD] == pytest.approx(expected)
    assert span.attributes[n.ATTR_COST_PRICED] is True
    assert tel.total(n.COST_USD.name, provider="ollama") == pytest.approx(expected)
    assert tel.points(n.UNPRICED_CALLS.name) == []


@pytest.mark.parametrize("stream", [False, True])
def test_no_counts_is_missing_usage(instrumented, caller, stream) -> None:
    result = caller.client(**{"x-fake-no-usage": "1"}).chat(model=MODEL, messages=MSGS, stream=stream)
    if stream:
        list(result)
    attrs = instrumented.only_span().attributes
    assert attrs[n.ATTR_USAGE_SOURCE] == "missing"
    assert n.GEN_AI_USAGE_INPUT_TOKENS not in attrs
    assert instrumented.points(n.TOKENS.name) == []
    assert instrumented.total(n.CALLS.name, status="ok") == 1


@pytest.mark.parametrize("stream", [False, True])
async def test_http_error_is_one_failed_call(instrumented, caller, stream) -> None:
    result = None
    with pytest.raises(ollama.ResponseError) as caught:
        result = await caller.call("client", "chat", stream, **{"x-fake-status": "500"})
        await drain(result)  # a stream sends its request when first iterated
    assert caught.value.status_code == 500
    del result
    span = instrumented.only_span()
    assert span.attributes[n.ERROR_TYPE] == "500"
    assert span.status.status_code.name == "ERROR"
    assert instrumented.total(n.CALLS.name, status="error") == 1
    assert instrumented.total(n.OUTCOME_CALLS.name, outcome="error") == 1


# --- outcomes --------------------------------------------------------------------------------------


def test_mark_used_on_a_response(priced, caller, check_outcome) -> None:
    reply = caller.client().chat(model=MODEL, messages=MSGS)
    assert isinstance(reply, ollama.ChatResponse)
    otel_tokens.mark_used(reply)
    check_outcome(priced, priced.only_span(), "used", tokens=TOTAL)


@pytest.mark.parametrize(
    ("method", "read", "outcome"),
    [
        ("chat", None, "unread"),
        ("chat", "message", "unmarked"),
        ("generate", "response", "unmarked"),
        ("embed", "embeddings", "unmarked"),
    ],
)
def test_dropped_response_is_inferred(priced, caller, check_outcome, method, read, outcome) -> None:
    read_then_release(
        getattr(caller.client(), method)(**METHODS[method][2]),
        metadata=("model", "done", "prompt_eval_count", "eval_count"),
        content=read,
    )
    tokens = 12 if method == "embed" else TOTAL
    check_outcome(priced, priced.only_span(), outcome, tokens=tokens)


async def test_stream_verdict_through_the_sdk_stream(priced, caller, check_outcome) -> None:
    stream = await caller.call("async_client", "generate", True)
    assert inspect.isasyncgen(stream)
    assert "".join([part.response async for part in stream]) == "one two three"
    otel_tokens.mark_discarded(stream)
    check_outcome(priced, priced.only_span(), "discarded", tokens=TOTAL)


# --- the stream lifecycle --------------------------------------------------------------------------

ENDS = {  # how the caller leaves the stream -> (outcome, usage source)
    "exhaust": ("unmarked", "provider"),
    "error": ("error", None),
    "break_and_drop": ("unmarked", "missing"),
    "close": ("unmarked", "missing"),
    "gc": ("unread", "missing"),
}


@pytest.mark.parametrize("end", ENDS)
@pytest.mark.parametrize("surface", ["client", "async_client"])
async def test_stream_ends_once(instrumented, caller, one_call, surface, end) -> None:
    aio = surface == "async_client"
    stream = await caller.call(surface, "chat", True, **(ERROR_AFTER if end == "error" else {}))
    read = await leave(instrumented, stream, end, aio=aio, error=httpx.RemoteProtocolError)
    if end == "exhaust":
        assert "".join(p.message.content for p in read) == "one two three"
    elif end == "close":
        assert read[0].message.content == "one"
    del stream  # break_and_drop and gc end when the stream is released
    outcome, source = ENDS[end]
    one_call(instrumented, outcome=outcome, usage_source=source)


def test_stream_with_a_malformed_line_fails_once(instrumented, caller, one_call) -> None:
    with pytest.raises(json.JSONDecodeError):
        list(caller.client(**{"x-fake-malformed": "1"}).generate(model=MODEL, prompt="hi", stream=True))
    assert one_call(instrumented, "error").attributes[n.ERROR_TYPE] == "JSONDecodeError"


# --- never break the call --------------------------------------------------------------------------


FAULTS = wrapper_faults(LIBRARY.endpoints, m.StreamState)


def normalized(value: Any) -> Any:
    """Dumps of the SDK's objects without the server clock."""
    if isinstance(value, list):
        return [normalized(v) for v in value]
    return {k: v for k, v in value.model_dump().items() if k != "created_at"}


def _cases(streamed: bool) -> list[tuple[str, str, bool]]:
    return [case for case in CALLS if case[2] == streamed]


@pytest.mark.parametrize("fault", reaching("response", FAULTS))
@pytest.mark.parametrize("case", _cases(False), ids=call_id)
async def test_internal_failure_leaves_the_response_unchanged(
    tolerant, caller, monkeypatch, case, fault
) -> None:
    surface, method, _ = case
    call = functools.partial(caller.call, surface, method)
    await check_result_unchanged(tolerant, monkeypatch, call, FAULTS[fault], "response", normalized)


@pytest.mark.parametrize("fault", reaching("stream", FAULTS))
@pytest.mark.parametrize("case", _cases(True), ids=call_id)
async def test_internal_failure_leaves_the_stream_unchanged(
    tolerant, caller, monkeypatch, case, fault
) -> None:
    surface, method, _ = case

    async def call() -> list[Any]:
        return await drain(await caller.call(surface, method, True))

    await check_result_unchanged(tolerant, monkeypatch, call, FAULTS[fault], "stream", normalized)


def _record_response_errors(mp: pytest.MonkeyPatch) -> list[BaseException]:
    """Every ResponseError the SDK makes (it raises them inside its stream generators too)."""
    made: list[BaseException] = []
    init = ollama.ResponseError.__init__

    def recording_init(self: ollama.ResponseError, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        made.append(self)

    mp.setattr(ollama.ResponseError, "__init__", recording_init)
    return made


@pytest.mark.parametrize("fault", ["none", *reaching("error", FAULTS)])
@pytest.mark.parametrize("case", CALLS, ids=call_id)
async def test_provider_error_is_the_same_exception_object(
    tolerant, caller, monkeypatch, case, fault
) -> None:
    surface, method, stream = case

    async def call() -> Any:
        return await settle(await caller.call(surface, method, stream, **{"x-fake-status": "500"}))

    kind = "stream_error" if stream else "error"  # a stream sends its request when first iterated
    await check_error_unchanged(
        tolerant, monkeypatch, call, FAULTS.get(fault), kind, ollama.ResponseError, _record_response_errors
    )


# --- instrumentor ----------------------------------------------------------------------------------


def test_uninstrument_restores_every_original(instrument_with) -> None:
    owners = check_patches_undone(instrument_with, OllamaInstrumentor())
    assert len(owners) == len(LIBRARY.endpoints) == 9  # 3 methods x (Client, AsyncClient, module)


def test_entry_point() -> None:
    assert entry_point("otel_tokens_ollama") is OllamaInstrumentor
