"""Stream lifecycle matrix: every way a stream can end gives exactly one span, ended once,
with the right status, and ``otel_tokens.calls`` counted once.

Kinds: chat ``create(stream=True)``, Responses ``create(stream=True)``, and the SDK's
``chat.completions.stream()`` / ``responses.stream()`` helpers; sync and async clients.
Also: ``stream_options`` usage is requested only when the caller set none, and then hidden.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
from typing import Any

import openai
import pytest
from helpers_openai import DROPPED_STREAM_ERRORS, MESSAGES, MODEL, Tokens, chat_helpers
from openai.resources.chat.completions import Completions
from opentelemetry.trace import StatusCode

from otel_tokens import names as n

TOKENS = Tokens(prompt=17, completion=9, cached=4, reasoning=3)
KINDS = ("chat", "responses", "chat.stream()", "responses.stream()")
ENDINGS = ("exhausted", "error", "break_then_drop", "close", "with_exit", "gc_unread")


async def _open(client: Any, kind: str, headers: dict[str, str]) -> Any:
    """A context manager whose ``enter`` gives the iterable stream (the stream itself for create())."""
    chat = {"model": MODEL, "messages": MESSAGES, "extra_headers": headers}
    responses = {"model": MODEL, "input": "summarize", "extra_headers": headers}
    if kind == "chat":
        opened = client.chat.completions.create(stream=True, **chat)
    elif kind == "responses":
        opened = client.responses.create(stream=True, **responses)
    elif kind == "chat.stream()":
        opened = chat_helpers(client).stream(**chat)
    else:
        opened = client.responses.stream(**responses)
    return await opened if inspect.isawaitable(opened) else opened


# Sync stream proxies also have wrapt's __aenter__/__aexit__, so dispatch on the client, not hasattr.
async def _enter(cm: Any, aio: bool) -> Any:
    return await cm.__aenter__() if aio else cm.__enter__()


async def _exit(cm: Any, aio: bool) -> None:
    if aio:
        await cm.__aexit__(None, None, None)
    else:
        cm.__exit__(None, None, None)


async def _next(stream: Any, aio: bool) -> Any:
    return await stream.__anext__() if aio else next(stream)


async def _drain(stream: Any, aio: bool) -> list[Any]:
    return [item async for item in stream] if aio else list(stream)


async def _close(stream: Any, aio: bool) -> None:
    if aio:
        await stream.close()
    else:
        stream.close()


async def _end(ending: str, client: Any, kind: str, spans: Any) -> None:
    """Run one ending; for the explicit ones, assert the span ended before anything is released."""
    aio = isinstance(client, openai.AsyncOpenAI)
    extra = {"x-fake-stream-error-after": "1"} if ending == "error" else {}
    cm = await _open(client, kind, TOKENS.headers(**extra))
    if ending == "with_exit":
        if aio:
            async with cm as stream:
                await _next(stream, aio)
        else:
            with cm as stream:
                await _next(stream, aio)
        assert len(spans.get_finished_spans()) == 1, "span must end at with-exit, not at gc"
        return
    stream = await _enter(cm, aio)
    if ending == "exhausted":
        await _drain(stream, aio)
        assert len(spans.get_finished_spans()) == 1, "span must end on exhaustion"
        await _exit(cm, aio)
    elif ending == "error":
        with pytest.raises(Exception) as dropped:
            await _drain(stream, aio)
        assert type(dropped.value).__name__ in DROPPED_STREAM_ERRORS
        assert len(spans.get_finished_spans()) == 1, "span must end when the stream fails"
    elif ending == "close":
        await _next(stream, aio)
        await _close(stream, aio)
        assert len(spans.get_finished_spans()) == 1, "span must end at close()"
    elif ending == "break_then_drop":
        if aio:
            async for _ in stream:
                break
        else:
            for _ in stream:
                break
    # break_then_drop and gc_unread end when the objects are released (by the caller's gc)


@pytest.fixture(params=["sync", "async"])
def client(request: Any, make_openai_client: Any) -> Any:
    return make_openai_client(aio=request.param == "async")


@pytest.mark.parametrize("ending", ENDINGS)
@pytest.mark.parametrize("kind", KINDS)
async def test_stream_ends_once(
    kind: str, ending: str, client: Any, instrumented: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    await _end(ending, client, kind, instrumented.spans)
    # Release what the ending left behind (it must not end the span a second time). Async helpers
    # hold the stream in an async generator that the event loop closes on a later turn.
    for _ in range(3):
        gc.collect()
        await asyncio.sleep(0)

    [span] = instrumented.finished_spans()
    assert span.name == f"chat {MODEL}"
    assert not [r for r in caplog.records if "ended span" in r.getMessage()]
    attrs = span.attributes or {}
    if ending == "error":
        assert span.status.status_code is StatusCode.ERROR
        assert attrs[n.ERROR_TYPE] in DROPPED_STREAM_ERRORS
        assert instrumented.points(n.CALLS.name)[0][0]["status"] == "error"
    else:
        assert span.status.status_code is StatusCode.UNSET
        assert n.ERROR_TYPE not in attrs
    assert sum(v for _, v in instrumented.points(n.CALLS.name)) == 1
    if ending == "exhausted":
        assert attrs[n.ATTR_USAGE_SOURCE] == "provider"
        assert attrs[n.GEN_AI_USAGE_INPUT_TOKENS] == TOKENS.prompt
        assert attrs[n.GEN_AI_USAGE_OUTPUT_TOKENS] == TOKENS.completion
        assert instrumented.total(n.TOKENS.name) == TOKENS.prompt + TOKENS.completion
    elif ending != "error":  # ended before the final usage event arrived
        assert attrs[n.ATTR_USAGE_SOURCE] == "missing"
        assert instrumented.points(n.TOKENS.name) == []
    read = ending != "gc_unread"
    assert (n.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in attrs) == read


# --- stream_options: usage is asked for only when the caller did not, and hidden ----------------
def _uninstrumented_chat_stream(client: Any, **kwargs: Any) -> list[Any]:
    original = inspect.getattr_static(Completions, "create").__wrapped__
    return list(original(client.chat.completions, model=MODEL, messages=MESSAGES, stream=True, **kwargs))


def test_stream_usage_is_requested_and_hidden(instrumented: Any, openai_client: Any, fake_llm: Any) -> None:
    tokens = Tokens(prompt=30, completion=12, cached=6, reasoning=2)
    baseline = _uninstrumented_chat_stream(openai_client, extra_headers=tokens.headers())
    assert "stream_options" not in fake_llm.requests[-1].body
    assert instrumented.finished_spans() == []

    stream = openai_client.chat.completions.create(
        model=MODEL, messages=MESSAGES, stream=True, extra_headers=tokens.headers()
    )
    seen = list(stream)
    assert fake_llm.requests[-1].body["stream_options"] == {"include_usage": True}
    assert all(chunk.usage is None for chunk in seen)
    assert [c.model_dump(exclude={"id", "created"}) for c in seen] == [
        c.model_dump(exclude={"id", "created"}) for c in baseline
    ]
    [span] = instrumented.finished_spans()
    assert span.attributes[n.ATTR_USAGE_SOURCE] == "provider"
    assert span.attributes[n.GEN_AI_USAGE_INPUT_TOKENS] == tokens.prompt
    assert span.attributes[n.GEN_AI_USAGE_OUTPUT_TOKENS] == tokens.completion
    assert instrumented.total(n.TOKENS.name) == tokens.prompt + tokens.completion


@pytest.mark.parametrize("include_usage", [True, False])
def test_caller_stream_options_are_left_alone(
    include_usage: bool, instrumented: Any, openai_client: Any, fake_llm: Any
) -> None:
    tokens = Tokens(prompt=30, completion=12)
    options = {"include_usage": include_usage}
    baseline = _uninstrumented_chat_stream(
        openai_client, stream_options=options, extra_headers=tokens.headers()
    )
    seen = list(
        openai_client.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,
            stream=True,
            stream_options=options,
            extra_headers=tokens.headers(),
        )
    )
    assert fake_llm.requests[-1].body["stream_options"] == options
    assert [c.model_dump(exclude={"id", "created"}) for c in seen] == [
        c.model_dump(exclude={"id", "created"}) for c in baseline
    ]
    usage_chunks = [c.usage for c in seen if c.usage is not None]
    [span] = instrumented.finished_spans()
    if include_usage:
        assert [(u.prompt_tokens, u.completion_tokens) for u in usage_chunks] == [
            (tokens.prompt, tokens.completion)
        ]
        assert span.attributes[n.ATTR_USAGE_SOURCE] == "provider"
        assert instrumented.total(n.TOKENS.name) == tokens.prompt + tokens.completion
    else:
        assert usage_chunks == []
        assert span.attributes[n.ATTR_USAGE_SOURCE] == "missing"
        assert n.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes
        assert instrumented.points(n.TOKENS.name) == []
        assert instrumented.total(n.CALLS.name, status="ok") == 1
