"""Groq through the real SDK over HTTP: chat completions (streamed or not) and embeddings, sync
and async: span attributes, token types, cost, raw responses, outcomes, the stream lifecycle,
and never breaking the call.

Every call sends 30 prompt tokens (8 of them cached) and 12 completion tokens (5 of them
reasoning); streams get their usage from the final chunk's ``x_groq.usage``.
"""

from __future__ import annotations

import gc
import inspect
import ssl
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

import groq
import httpx
import pytest
from genai_prices import Usage as PriceUsage
from genai_prices import calc_price
from groq._base_client import AsyncAPIClient, SyncAPIClient

import otel_tokens
from otel_tokens import errors
from otel_tokens import names as n
from otel_tokens.instrumentation.groq import LIBRARY, GroqInstrumentor
from otel_tokens.instrumentation.groq import mapping as m
from otel_tokens.pricing import PriceBook
from otel_tokens.recorder import Recorder

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
ERROR_AFTER = {"x-fake-stream-error-after": "1"}
_SSL = ssl.create_default_context()


def expected_cost() -> float:
    usage = PriceUsage(input_tokens=30, cache_read_tokens=8, output_tokens=12)
    return float(calc_price(usage, MODEL, provider_id="groq").total_price)


@pytest.fixture
async def make_client(fake_llm):
    """``make_client(aio=False)``: a Groq client for the fake server, closed at teardown."""
    made: list[Any] = []

    def make(aio: bool = False) -> Any:
        cls, http = (
            (groq.AsyncGroq, groq.DefaultAsyncHttpxClient) if aio else (groq.Groq, groq.DefaultHttpxClient)
        )
        client = cls(base_url=fake_llm.url, api_key="test", max_retries=0, http_client=http(verify=_SSL))
        made.append(client)
        return client

    yield make
    for client in made:
        closed = client.close()
        if inspect.isawaitable(closed):
            await closed


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture
def aclient(make_client):
    return make_client(aio=True)


def chat(**headers: str) -> dict[str, Any]:
    return {"model": MODEL, "messages": MSGS, "extra_headers": {**HEADERS, **headers}}


async def maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def drain(stream: Any) -> list[Any]:
    if hasattr(stream, "__aiter__"):
        return [chunk async for chunk in stream]
    return list(stream)


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
    attrs = instrumented.only_span().attributes
    assert attrs[n.GEN_AI_REQUEST_TEMPERATURE] == 0.3
    assert attrs[n.GEN_AI_REQUEST_TOP_P] == 0.8
    assert attrs[n.GEN_AI_REQUEST_MAX_TOKENS] == 100
    assert attrs[n.GEN_AI_REQUEST_STOP_SEQUENCES] == ("END",)
    assert attrs[n.GEN_AI_REQUEST_SEED] == 3
    assert attrs[n.ENDUSER_ID] == "u-1"
    assert attrs[n.GEN_AI_OUTPUT_TYPE] == "json"
    assert attrs[n.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)


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


@pytest.mark.parametrize(("read", "outcome"), [(False, "unread"), (True, "unmarked")])
def test_dropped_response_is_inferred(instrumented, client, check_outcome, read, outcome) -> None:
    reply = client.chat.completions.create(**chat())
    _ = reply.id, reply.usage, reply.model, reply.x_groq  # metadata is not a read
    if read:
        _ = reply.choices
    del reply
    gc.collect()
    check_outcome(instrumented, instrumented.only_span(), outcome, tokens=TOTAL)


async def test_stream_verdict(instrumented, aclient, check_outcome) -> None:
    stream = await aclient.chat.completions.create(**chat(), stream=True)
    await drain(stream)
    otel_tokens.mark_discarded(stream)
    check_outcome(instrumented, instrumented.only_span(), "discarded", tokens=TOTAL)


# --- the stream lifecycle --------------------------------------------------------------------------

ENDINGS = {  # ending -> (outcome, usage source)
    "exhausted": ("unmarked", "provider"),
    "error": ("error", None),
    "break_then_drop": ("unmarked", "missing"),
    "close": ("unmarked", "missing"),
    "with_exit": ("unmarked", "missing"),
    "gc_unread": ("unread", "missing"),
}


@pytest.mark.parametrize("ending", ENDINGS)
@pytest.mark.parametrize("aio", [False, True], ids=["sync", "async"])
async def test_stream_ends_once(instrumented, make_client, one_call, aio, ending) -> None:
    stream = await maybe_await(
        make_client(aio).chat.completions.create(
            **chat(**(ERROR_AFTER if ending == "error" else {})), stream=True
        )
    )
    spans = instrumented.spans

    async def first(s: Any) -> Any:
        return await s.__anext__() if aio else next(s)

    if ending == "exhausted":
        await drain(stream)
        assert len(spans.get_finished_spans()) == 1, "span must end on exhaustion"
    elif ending == "error":
        with pytest.raises(httpx.RemoteProtocolError):
            await drain(stream)
        assert len(spans.get_finished_spans()) == 1, "span must end when the stream fails"
    elif ending == "close":
        await first(stream)
        await stream.close() if aio else stream.close()
        assert len(spans.get_finished_spans()) == 1, "span must end at close()"
    elif ending == "with_exit":
        if aio:
            async with stream as entered:
                await first(entered)
        else:
            with stream as entered:
                await first(entered)
        del entered
        assert len(spans.get_finished_spans()) == 1, "span must end at with-exit"
    elif ending == "break_then_drop":
        if aio:
            async for _chunk in stream:
                break
        else:
            for _chunk in stream:
                break
    del stream  # break_then_drop and gc_unread end when the stream is released
    outcome, source = ENDINGS[ending]
    span = one_call(instrumented, "error" if ending == "error" else "ok")
    assert instrumented.outcome_label() == outcome
    if source is not None:
        assert span.attributes[n.ATTR_USAGE_SOURCE] == source


# --- never break the call --------------------------------------------------------------------------


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("injected failure inside otel-tokens")


Inject = Callable[[pytest.MonkeyPatch], None]


def _on_endpoints(field: str) -> Inject:
    # Endpoints are frozen dataclasses read at call time: replace the field on each.
    def inject(mp: pytest.MonkeyPatch) -> None:
        for endpoint in LIBRARY.endpoints:
            mp.setitem(vars(endpoint), field, _boom)

    return inject


def _on_class(cls: type, method: str) -> Inject:
    return lambda mp: mp.setattr(cls, method, _boom)


FAULTS: dict[str, tuple[str, Inject]] = {  # what fails -> (stage counted, how to make it fail)
    "read_request": ("request", _on_endpoints("read_request")),
    "read_response": ("response", _on_endpoints("read_response")),
    "PriceBook.cost": ("pricing", _on_class(PriceBook, "cost")),
    "Recorder.finish": ("recording", _on_class(Recorder, "finish")),
}
STREAM_FAULTS: dict[str, tuple[str, Inject]] = {
    "read_request": FAULTS["read_request"],
    "new_stream_state": ("stream_chunk", _on_endpoints("new_stream_state")),
    "StreamState.on_chunk": ("stream_chunk", _on_class(m.ChatStreamState, "on_chunk")),
    "StreamState.response": ("stream_end", _on_class(m.ChatStreamState, "response")),
    "Recorder.finish": FAULTS["Recorder.finish"],
}
ERROR_FAULTS: dict[str, tuple[str, Inject] | None] = {
    "none": None,
    "read_request": FAULTS["read_request"],
    "Recorder.fail": ("recording", _on_class(Recorder, "fail")),
}


def _chat_create(client: Any, headers: dict[str, str], stream: bool) -> Any:
    return client.chat.completions.create(**chat(**headers), **({"stream": True} if stream else {}))


def _embeddings_create(client: Any, headers: dict[str, str], stream: bool) -> Any:
    return client.embeddings.create(model=EMBED_MODEL, input="hello", extra_headers={**HEADERS, **headers})


# (method, async, can stream) -> how to call it; every instrumented endpoint
INVOKE = {
    "chat.completions": (_chat_create, True),
    "embeddings": (_embeddings_create, False),
}
CASES = [(method, aio) for method in INVOKE for aio in (False, True)]
STREAM_CASES = [(method, aio) for method, aio in CASES if INVOKE[method][1]]


def case_id(case: tuple[str, bool]) -> str:
    return f"{case[0]}-{'async' if case[1] else 'sync'}"


async def invoke(make_client: Any, case: tuple[str, bool], headers: dict[str, str], stream: bool) -> Any:
    """The caller's view of one call: the response, or the list of a stream's chunks."""
    method, aio = case
    result = await maybe_await(INVOKE[method][0](make_client(aio), headers, stream))
    return await drain(result) if stream else result


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


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("case", CASES, ids=case_id)
async def test_internal_failure_leaves_the_response_unchanged(
    tolerant, make_client, monkeypatch, case, fault
) -> None:
    baseline = await invoke(make_client, case, {}, False)
    telemetry = tolerant()
    stage, inject = FAULTS[fault]
    inject(monkeypatch)
    result = await invoke(make_client, case, {}, False)
    assert isinstance(result, type(baseline))
    assert normalized(result) == normalized(baseline)
    assert telemetry.total(n.INTERNAL_ERRORS.name, stage=stage) == 1


@pytest.mark.parametrize("fault", STREAM_FAULTS)
@pytest.mark.parametrize("case", STREAM_CASES, ids=case_id)
async def test_internal_failure_leaves_the_stream_unchanged(
    tolerant, make_client, monkeypatch, case, fault
) -> None:
    baseline = await invoke(make_client, case, {}, True)
    telemetry = tolerant()
    stage, inject = STREAM_FAULTS[fault]
    inject(monkeypatch)
    chunks = await invoke(make_client, case, {}, True)
    assert normalized(chunks) == normalized(baseline)
    gc.collect()
    assert telemetry.total(n.INTERNAL_ERRORS.name, stage=stage) >= 1


def _capture_sdk_exceptions(monkeypatch: pytest.MonkeyPatch) -> list[BaseException]:
    """Record every exception the SDK's own HTTP layer raises, below the instrumented method."""
    raised: list[BaseException] = []
    sync_request, async_request = SyncAPIClient.request, AsyncAPIClient.request

    def request(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return sync_request(self, *args, **kwargs)
        except BaseException as exc:
            raised.append(exc)
            raise

    async def arequest(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await async_request(self, *args, **kwargs)
        except BaseException as exc:
            raised.append(exc)
            raise

    monkeypatch.setattr(SyncAPIClient, "request", request)
    monkeypatch.setattr(AsyncAPIClient, "request", arequest)
    return raised


ERROR_CASES = [(case, False) for case in CASES] + [(case, True) for case in STREAM_CASES]


@pytest.mark.parametrize("fault", ERROR_FAULTS)
@pytest.mark.parametrize(
    ("case", "stream"),
    ERROR_CASES,
    ids=[f"{case_id(c)}-{'stream' if s else 'plain'}" for c, s in ERROR_CASES],
)
async def test_provider_error_is_the_same_exception_object(
    tolerant, make_client, monkeypatch, case, stream, fault
) -> None:
    headers = {"x-fake-status": "500"}
    with pytest.raises(groq.InternalServerError) as uninstrumented:
        await invoke(make_client, case, headers, stream)
    telemetry = tolerant()
    raised_by_sdk = _capture_sdk_exceptions(monkeypatch)
    if ERROR_FAULTS[fault] is not None:
        ERROR_FAULTS[fault][1](monkeypatch)  # type: ignore[index]

    with pytest.raises(groq.InternalServerError) as caught:
        await invoke(make_client, case, headers, stream)

    assert caught.value is raised_by_sdk[-1]  # the very object the SDK raised, not a copy
    assert str(caught.value) == str(uninstrumented.value)
    assert caught.value.status_code == uninstrumented.value.status_code == 500
    if ERROR_FAULTS[fault] is not None:
        stage = ERROR_FAULTS[fault][0]  # type: ignore[index]
        assert telemetry.total(n.INTERNAL_ERRORS.name, stage=stage) == 1
    else:
        assert telemetry.total(n.CALLS.name, status="error") == 1
        assert telemetry.points(n.INTERNAL_ERRORS.name) == []


# --- instrumentor ----------------------------------------------------------------------------------


def test_uninstrument_restores_every_original(telemetry) -> None:
    owners = GroqInstrumentor().patched()
    assert len(owners) == len(LIBRARY.endpoints) == 4
    originals = [inspect.getattr_static(owner, method) for owner, method in owners]
    otel_tokens.instrument(telemetry.tracer_provider, telemetry.meter_provider, telemetry.logger_provider)
    try:
        patched = [inspect.getattr_static(owner, method) for owner, method in owners]
        assert all(p is not o for p, o in zip(patched, originals, strict=True))
    finally:
        otel_tokens.uninstrument()
        errors.configure(None, False)
    restored = [inspect.getattr_static(owner, method) for owner, method in owners]
    assert all(r is o for r, o in zip(restored, originals, strict=True))


def test_entry_point() -> None:
    [entry] = [e for e in entry_points(group="opentelemetry_instrumentor") if e.name == "otel_tokens_groq"]
    assert entry.load() is GroqInstrumentor
