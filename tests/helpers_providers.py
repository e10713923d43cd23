"""What every provider's tests share: driving sync and async calls with one test body, leaving a
stream each way a caller can, reading a response before releasing it, the request attributes of a
span, and the instrumentor's patches undone by ``uninstrument()``."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from typing import Any, Final

import pytest

import otel_tokens
from otel_tokens import names

# A call with every input kind: 20 input of which 5 cache reads and 7 cache writes, 10 output.
CACHE_HEADERS: Final = {
    "x-fake-input-tokens": "20",
    "x-fake-cached-tokens": "5",
    "x-fake-cache-write-tokens": "7",
    "x-fake-output-tokens": "10",
    "x-fake-output": "one two three",
}

ERROR_AFTER = {"x-fake-stream-error-after": "1"}  # the fake server drops the stream after one chunk


async def maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def drain(stream: Any) -> list[Any]:
    """Every item of a sync or async stream."""
    if hasattr(stream, "__aiter__"):
        return [item async for item in stream]
    return list(stream)


# --- leaving a stream ----------------------------------------------------------------------------


async def _every(stream: Any, aio: bool) -> list[Any]:
    return [item async for item in stream] if aio else list(stream)


# Ends after which the call's span must already have ended, before the caller releases the stream.
_EXPLICIT = frozenset({"exhaust", "close", "with", "error"})


async def leave(tel: Any, stream: Any, end: str, *, aio: bool = False, error: Any = Exception) -> list[Any]:
    """Leave ``stream`` the way a caller does and return what was read; the test then drops it.

    ``end``: ``exhaust``; ``break_and_drop`` (a loop broken after one item); ``abandoned`` (one item
    read, then dropped); ``close`` (one item, then ``close()`` / ``aclose()``); ``with`` (one item
    inside ``with`` / ``async with``); ``gc`` (never iterated); ``error`` (iterated until ``error``).
    ``aio`` says the stream is async (sync proxies also have wrapt's ``__aenter__``)."""
    items: list[Any] = []
    if end == "exhaust":
        items = await _every(stream, aio)
    elif end == "error":
        with pytest.raises(error):
            await _every(stream, aio)
    elif end == "break_and_drop":  # the caller's loop: iter() / aiter(), one item, break
        if aio:
            async for item in stream:
                items.append(item)
                break
        else:
            for item in stream:
                items.append(item)
                break
    elif end in ("abandoned", "close"):
        items.append(await stream.__anext__() if aio else next(iter(stream)))
        if end == "close":  # async generators close with aclose(), other async streams with close()
            await maybe_await(stream.aclose() if inspect.isasyncgen(stream) else stream.close())
    elif end == "with":
        if aio:
            async with stream as entered:
                items.append(await entered.__anext__())
        else:
            with stream as entered:
                items.append(next(iter(entered)))
    elif end != "gc":
        raise ValueError(f"unknown stream end {end!r}")
    if end in _EXPLICIT:
        assert len(tel.finished_spans()) == 1, f"the span must end at {end}, not at release"
    return items


# --- read tracking ---------------------------------------------------------------------------------


def read_then_release(reply: Any, *, metadata: Iterable[str], content: str | None) -> None:
    """Read ``reply``'s ``metadata`` attributes (never a read of its output) and, when given, its
    ``content`` attribute; pass the call's result straight in, so it is released on return."""
    for attribute in metadata:
        getattr(reply, attribute)
    if content is not None:
        getattr(reply, content)


# --- span attributes -------------------------------------------------------------------------------


def request_attributes(span: Any) -> dict[str, Any]:
    """The ``gen_ai.request.*`` attributes and output type of ``span``: what the call asked for."""
    return {
        key: value
        for key, value in (span.attributes or {}).items()
        if key.startswith("gen_ai.request.") or key == names.GEN_AI_OUTPUT_TYPE
    }


# --- the instrumentor ------------------------------------------------------------------------------


def check_patches_undone(instrument: Callable[..., Any], instrumentor: Any) -> list[tuple[Any, str]]:
    """Every ``(owner, name)`` that ``instrumentor`` patches is wrapped exactly once by ``instrument()``
    (the ``instrument_with`` fixture) and is the very original again after ``uninstrument()``.
    Returns them, for the caller to count."""
    owners = instrumentor.patched()
    originals = [inspect.getattr_static(owner, name) for owner, name in owners]
    instrument()
    for (owner, name), original in zip(owners, originals, strict=True):
        patched = inspect.getattr_static(owner, name)
        assert patched is not original, f"{owner}.{name} not patched"
        assert patched.__wrapped__ is original, f"{owner}.{name} not wrapped once"
    otel_tokens.uninstrument()
    for (owner, name), original in zip(owners, originals, strict=True):
        assert inspect.getattr_static(owner, name) is original, f"{owner}.{name} not restored"
    return owners


def entry_point(name: str) -> Any:
    """What the ``opentelemetry_instrumentor`` entry point ``name`` loads (``opentelemetry-instrument``)."""
    [entry] = [e for e in entry_points(group="opentelemetry_instrumentor") if e.name == name]
    return entry.load()
