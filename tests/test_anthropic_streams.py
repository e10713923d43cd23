"""Anthropic streams: raw ``create(stream=True)`` and the ``messages.stream()`` helpers end their
span exactly once on every path; and no failure inside otel-tokens breaks any instrumented call."""

from __future__ import annotations

import gc
import importlib
from typing import Any

import anthropic
import pytest
from anthropic._base_client import AsyncAPIClient, SyncAPIClient
from helpers_faults import Fault, check_faults_never_break, on
from helpers_providers import ERROR_AFTER, leave

import otel_tokens
from otel_tokens import names
from otel_tokens.instrumentation import anthropic as instrumentation
from otel_tokens.instrumentation.anthropic import mapping

# The HTTP library this anthropic release is built on (httpx2 in the newer ones, httpx before): its errors
# come out of a stream whose connection drops.
http = importlib.import_module(type(anthropic.DEFAULT_CONNECTION_LIMITS).__module__.partition(".")[0])
MODEL = "claude-sonnet-4-6"
HEADERS = {"x-fake-input-tokens": "20", "x-fake-output-tokens": "10", "x-fake-output": "one two three"}
MSGS = [{"role": "user", "content": "hello"}]


def args(**headers):
    return {"model": MODEL, "max_tokens": 64, "messages": MSGS, "extra_headers": {**HEADERS, **headers}}


# --- raw create(stream=True) ------------------------------------------------------------------------


def test_exhausted_stream(instrumented, anthropic_client, one_call) -> None:
    stream = anthropic_client.messages.create(**args(), stream=True)
    assert isinstance(stream, anthropic.Stream)
    assert [event.type for event in stream][-1] == "message_stop"
    attrs = one_call(instrumented).attributes
    assert attrs[names.GEN_AI_USAGE_INPUT_TOKENS] == 20
    assert attrs[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 10
    assert attrs[names.GEN_AI_RESPONSE_FINISH_REASONS] == ("end_turn",)
    assert attrs[names.GEN_AI_RESPONSE_ID].startswith("msg_fake")
    assert attrs[names.ATTR_COST_USD] > 0
    otel_tokens.mark_used(stream)
    assert instrumented.outcome_label() == "used"


async def test_stream_methods_are_the_sdks(instrumented, async_anthropic_client, one_call) -> None:
    """The proxy has the close methods the SDK's stream has, and no others: code that asks
    ``hasattr(stream, "aclose")`` (anthropic's AsyncStream has none) behaves as without otel-tokens."""
    stream = await async_anthropic_client.messages.create(**args(), stream=True)
    assert isinstance(stream, anthropic.AsyncStream)
    assert not hasattr(stream, "aclose")
    with pytest.raises(AttributeError):
        stream.aclose()
    assert [event.type async for event in stream][-1] == "message_stop"
    await stream.close()
    assert one_call(instrumented).attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 10


RAW_ENDS = {  # how the caller leaves the stream -> (outcome, usage source)
    "break_and_drop": ("unmarked", "provider"),  # message_start already brings the usage
    "close": ("unmarked", "provider"),
    "with": ("unmarked", "provider"),
    "gc": ("unread", "missing"),
    "error": ("error", None),
}


@pytest.mark.parametrize("end", RAW_ENDS)
async def test_stream_ends_once_on_every_path(instrumented, anthropic_client, one_call, end) -> None:
    stream = anthropic_client.messages.create(**args(**(ERROR_AFTER if end == "error" else {})), stream=True)
    read = await leave(instrumented, stream, end, error=http.RemoteProtocolError)
    if end == "with":
        assert read[0].type == "message_start"
    del stream
    outcome, source = RAW_ENDS[end]
    one_call(instrumented, outcome=outcome, usage_source=source)


@pytest.mark.parametrize("end", ["exhaust", "with", "close", "error"])
async def test_async_stream(instrumented, async_anthropic_client, one_call, end) -> None:
    stream = await async_anthropic_client.messages.create(
        **args(**(ERROR_AFTER if end == "error" else {})), stream=True
    )
    read = await leave(instrumented, stream, end, aio=True, error=http.RemoteProtocolError)
    if end == "exhaust":
        assert read[-1].type == "message_stop"
    del stream
    one_call(instrumented, outcome="error" if end == "error" else "unmarked")


# --- the messages.stream() helpers -----------------------------------------------------------------


def test_helper_text_stream_and_verdict(instrumented, anthropic_client, one_call) -> None:
    with anthropic_client.messages.stream(**args()) as stream:
        assert "".join(stream.text_stream) == "one two three"
        final = stream.get_final_message()
    assert final.usage.output_tokens == 10
    otel_tokens.mark_used(stream)  # found through MessageStream._raw_stream
    span = one_call(instrumented)
    assert span.name == f"chat {MODEL}"
    assert span.attributes[names.GEN_AI_RESPONSE_ID] == final.id
    assert instrumented.outcome_label() == "used"


@pytest.mark.parametrize(
    ("end", "outcome"),
    [("break", "unmarked"), ("unread", "unread"), ("error", "error"), ("gc_without_exit", "unmarked")],
)
def test_helper_ends_once(instrumented, anthropic_client, one_call, end, outcome) -> None:
    manager = anthropic_client.messages.stream(**args(**(ERROR_AFTER if end == "error" else {})))
    if end == "gc_without_exit":
        next(iter(manager.__enter__()))  # the MessageStream is dropped without close or exit
    elif end == "error":
        with pytest.raises(http.RemoteProtocolError), manager as stream:
            stream.until_done()
    else:
        with manager as stream:
            for _event in [] if end == "unread" else stream:
                break
    del manager
    if end != "gc_without_exit":
        del stream
    one_call(instrumented, "error" if end == "error" else "ok")
    assert instrumented.outcome_label() == outcome


def test_helper_never_entered_sends_nothing(instrumented, anthropic_client, fake_llm) -> None:
    before = len(fake_llm.requests)
    manager = anthropic_client.messages.stream(**args())
    del manager
    gc.collect()
    assert len(fake_llm.requests) == before
    assert instrumented.finished_spans() == []


async def test_async_helpers(instrumented, async_anthropic_client) -> None:
    async with async_anthropic_client.messages.stream(**args()) as stream:
        assert [t async for t in stream.text_stream] == ["one", " two", " three"]
    otel_tokens.mark_discarded(stream)
    async with async_anthropic_client.beta.messages.stream(**args()) as beta:
        assert (await beta.get_final_message()).content[0].text == "one two three"
    otel_tokens.mark_used(beta)
    async with async_anthropic_client.messages.stream(**args(**ERROR_AFTER)) as failing:
        with pytest.raises(http.RemoteProtocolError):
            await failing.get_final_text()
    gc.collect()
    assert len(instrumented.finished_spans()) == 3
    assert instrumented.total(names.CALLS.name, status="ok") == 2
    outcomes = sorted(
        e.log_record.attributes[names.GEN_AI_EVALUATION_SCORE_LABEL] for e in instrumented.outcome_events()
    )
    assert outcomes == ["discarded", "error", "used"]


# --- never break the call --------------------------------------------------------------------------


def _dump(message):
    return message.model_dump(exclude={"id"})  # ids count up per call


def _helper(messages, h):
    with messages.stream(**args(**h)) as stream:
        return _dump(stream.get_final_message())


async def _async_create(c, h):
    return _dump(await c.messages.create(**args(**h)))


async def _async_stream(c, h):
    return [e.type async for e in await c.messages.create(**args(**h), stream=True)]


async def _async_helper(c, h):
    async with c.messages.stream(**args(**h)) as stream:
        return _dump(await stream.get_final_message())


CALLS = {  # name -> (kind, call(client, headers) -> a comparable result)
    "create": ("message", lambda c, h: _dump(c.messages.create(**args(**h)))),
    "stream": ("stream", lambda c, h: [e.type for e in c.messages.create(**args(**h), stream=True)]),
    "parse": ("message", lambda c, h: _dump(c.messages.parse(**args(**h)))),
    "raw": ("message", lambda c, h: _dump(c.messages.with_raw_response.create(**args(**h)).parse())),
    "helper": ("helper", lambda c, h: _helper(c.messages, h)),
    "beta_helper": ("helper", lambda c, h: _helper(c.beta.messages, h)),
    "async_create": ("message", _async_create),
    "async_stream": ("stream", _async_stream),
    "async_helper": ("helper", _async_helper),
}
if not hasattr(anthropic.resources.messages.Messages, "parse"):  # messages.parse() came in 0.7x
    del CALLS["parse"]
EVERY = ("message", "stream", "helper")
FAULTS = {  # what breaks -> (how, {kind of call reached: stage counted})
    "request": Fault(on("_request", mapping), dict.fromkeys(EVERY, "request")),
    "response": Fault(
        on("_usage", mapping), {"message": "response", "stream": "stream_end", "helper": "stream_end"}
    ),
    "stream_chunk": Fault(
        on("on_chunk", mapping.MessageStreamState), dict.fromkeys(EVERY[1:], "stream_chunk")
    ),
    "stream_state": Fault(
        on("__init__", mapping.MessageStreamState), dict.fromkeys(EVERY[1:], "stream_chunk")
    ),
    "helper_hook": Fault(on("_guard_deferred_request", instrumentation), {"helper": "request"}),
}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("name", CALLS)
async def test_failures_inside_never_break_the_call(
    tolerant, make_sdk_client, monkeypatch, name, fault
) -> None:
    kind, call = CALLS[name]

    def make_run() -> Any:
        client = make_sdk_client("anthropic", aio=name.startswith("async"))
        return lambda h: call(client, h)

    await check_faults_never_break(
        tolerant,
        monkeypatch,
        make_run,
        kind,
        {fault: FAULTS[fault]},
        failing=[{"x-fake-status": "529"}],
        errors=anthropic.APIStatusError,
        sdk_raises=[(SyncAPIClient, "request"), (AsyncAPIClient, "request")],
    )
