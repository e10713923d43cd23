"""Anthropic streams: raw ``create(stream=True)`` and the ``messages.stream()`` helpers end their
span exactly once on every path; and no failure inside otel-tokens breaks any instrumented call."""

from __future__ import annotations

import gc
import importlib
import inspect

import anthropic
import pytest

import otel_tokens
from otel_tokens import errors, names
from otel_tokens.instrumentation import anthropic as instrumentation
from otel_tokens.instrumentation.anthropic import mapping

# The HTTP library this anthropic release is built on (httpx2 in the newer ones, httpx before): its errors
# come out of a stream whose connection drops.
http = importlib.import_module(type(anthropic.DEFAULT_CONNECTION_LIMITS).__module__.partition(".")[0])
MODEL = "claude-sonnet-4-6"
HEADERS = {"x-fake-input-tokens": "20", "x-fake-output-tokens": "10", "x-fake-output": "one two three"}
ERROR_AFTER = {"x-fake-stream-error-after": "1"}
MSGS = [{"role": "user", "content": "hello"}]


@pytest.fixture
def client(fake_llm):
    return anthropic.Anthropic(base_url=fake_llm.anthropic_base_url, api_key="test", max_retries=0)


@pytest.fixture
def aclient(fake_llm):
    return anthropic.AsyncAnthropic(base_url=fake_llm.anthropic_base_url, api_key="test", max_retries=0)


def args(**headers):
    return {"model": MODEL, "max_tokens": 64, "messages": MSGS, "extra_headers": {**HEADERS, **headers}}


# --- raw create(stream=True) ------------------------------------------------------------------------


def test_exhausted_stream(instrumented, client, one_call) -> None:
    stream = client.messages.create(**args(), stream=True)
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


RAW_ENDS = {
    "break_and_drop": "unmarked",
    "close": "unmarked",
    "with": "unmarked",
    "gc": "unread",
    "error": "error",
}


@pytest.mark.parametrize("end", RAW_ENDS)
def test_stream_ends_once_on_every_path(instrumented, client, one_call, end) -> None:
    stream = client.messages.create(**args(**(ERROR_AFTER if end == "error" else {})), stream=True)
    if end == "with":
        with stream as entered:
            assert next(iter(entered)).type == "message_start"
        del entered
    elif end == "close":
        next(stream)
        stream.close()
    elif end == "break_and_drop":
        for _event in stream:
            break
    elif end == "error":
        with pytest.raises(http.RemoteProtocolError):
            _ = list(stream)
    del stream
    span = one_call(instrumented, "error" if end == "error" else "ok")
    assert instrumented.outcome_label() == RAW_ENDS[end]
    assert span.status.status_code.name == ("ERROR" if end == "error" else "UNSET")
    if end != "error":
        assert span.attributes[names.ATTR_USAGE_SOURCE] == ("missing" if end == "gc" else "provider")


@pytest.mark.parametrize("end", ["exhaust", "async_with", "close", "error"])
async def test_async_stream(instrumented, aclient, one_call, end) -> None:
    stream = await aclient.messages.create(**args(**(ERROR_AFTER if end == "error" else {})), stream=True)
    if end == "async_with":
        async with stream:
            await stream.__anext__()
    elif end == "close":
        await stream.__anext__()
        await stream.close()
    elif end == "error":
        with pytest.raises(http.RemoteProtocolError):
            _ = [event async for event in stream]
    else:
        assert [event.type async for event in stream][-1] == "message_stop"
    del stream
    one_call(instrumented, "error" if end == "error" else "ok")


# --- the messages.stream() helpers -----------------------------------------------------------------


def test_helper_text_stream_and_verdict(instrumented, client, one_call) -> None:
    with client.messages.stream(**args()) as stream:
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
def test_helper_ends_once(instrumented, client, one_call, end, outcome) -> None:
    manager = client.messages.stream(**args(**(ERROR_AFTER if end == "error" else {})))
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


def test_helper_never_entered_sends_nothing(instrumented, client, fake_llm) -> None:
    before = len(fake_llm.requests)
    manager = client.messages.stream(**args())
    del manager
    gc.collect()
    assert len(fake_llm.requests) == before
    assert instrumented.finished_spans() == []


async def test_async_helpers(instrumented, aclient) -> None:
    async with aclient.messages.stream(**args()) as stream:
        assert [t async for t in stream.text_stream] == ["one", " two", " three"]
    otel_tokens.mark_discarded(stream)
    async with aclient.beta.messages.stream(**args()) as beta:
        assert (await beta.get_final_message()).content[0].text == "one two three"
    otel_tokens.mark_used(beta)
    async with aclient.messages.stream(**args(**ERROR_AFTER)) as failing:
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


@pytest.fixture
def quiet(telemetry):
    """Instrumented with internal errors swallowed and counted, as in production."""
    otel_tokens.instrument(
        telemetry.tracer_provider,
        telemetry.meter_provider,
        telemetry.logger_provider,
        raise_internal_errors=False,
    )
    try:
        yield telemetry
    finally:
        gc.collect()
        otel_tokens.uninstrument()
        errors.configure(None, False)
        errors.reset_logged()


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
STAGES = {  # stage -> (what to break, the kinds of call it reaches)
    "request": ((mapping, "_request"), {"message", "stream", "helper"}),
    "response": ((mapping, "_usage"), {"message", "stream", "helper"}),
    "stream_chunk": ((mapping.MessageStreamState, "on_chunk"), {"stream", "helper"}),
    "stream_state": ((mapping.MessageStreamState, "__init__"), {"stream", "helper"}),
    "helper_hook": ((instrumentation, "_guard_deferred_request"), {"helper"}),
}


async def _run(name, client, aclient, headers):
    result = CALLS[name][1](aclient if name.startswith("async") else client, headers)
    return await result if inspect.isawaitable(result) else result


def _boom(*_args, **_kwargs):
    raise RuntimeError("injected failure inside otel-tokens")


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("name", CALLS)
async def test_failures_inside_never_break_the_call(quiet, client, aclient, monkeypatch, name, stage) -> None:
    expected = await _run(name, client, aclient, {})
    with pytest.raises(anthropic.APIStatusError) as baseline:
        await _run(name, client, aclient, {"x-fake-status": "529"})
    target, reaches = STAGES[stage]
    monkeypatch.setattr(*target, _boom)
    assert await _run(name, client, aclient, {}) == expected
    with pytest.raises(type(baseline.value)) as caught:
        await _run(name, client, aclient, {"x-fake-status": "529"})
    assert caught.value.status_code == 529
    gc.collect()
    hit = quiet.total(names.INTERNAL_ERRORS.name)
    assert (hit > 0) == (CALLS[name][0] in reaches)
