"""The usage of every HTTP request behind one ``generate_content`` call.

With automatic function calling (Python functions passed as tools), one ``generate_content``
call sends a request per round (the model asks for a function, the SDK runs it and sends the
result back) and returns only the last round's response, whose usage covers that round
alone. So while an instrumented ``generate_content`` runs, the SDK's per-request method
(``_generate_content``) notes each request's ``usage_metadata`` here, and the call is billed
their sum. Summing requests also matches the SDK's own sum over automatic-continuation hops.
Streams need none of this: every round's chunks reach the stream state.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

from ... import errors
from .._wrapper import Wrapper

# The usage_metadata of each request the current instrumented call made; None outside one.
_REQUESTS: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar(
    "otel_tokens_gemini_requests", default=None
)


def noted() -> list[Any]:
    """The ``usage_metadata`` of the requests the current call made so far."""
    return _REQUESTS.get() or []


def collecting(wrapper: Wrapper, is_async: bool) -> Wrapper:
    """``wrapper`` (the guarded call) run with a fresh list of requests, which its response
    reader sees through :func:`noted`."""
    if is_async:

        async def collect_async(
            wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> Any:
            token = _REQUESTS.set([])
            try:
                return await wrapper(wrapped, instance, args, kwargs)
            finally:
                _REQUESTS.reset(token)

        return collect_async

    def collect(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        token = _REQUESTS.set([])
        try:
            return wrapper(wrapped, instance, args, kwargs)
        finally:
            _REQUESTS.reset(token)

    return collect


def _metadata(response: Any) -> Any:
    return getattr(response, "usage_metadata", None)


def _note(response: Any) -> None:
    try:
        requests = _REQUESTS.get()
        if requests is not None:
            requests.append(_metadata(response))
    except Exception as exc:  # noqa: BLE001 - noting usage must never fail the request
        errors.report("response", exc)


def note_request(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Hook on ``Models._generate_content``: the response passes through untouched."""
    response = wrapped(*args, **kwargs)
    _note(response)
    return response


async def note_async_request(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Hook on ``AsyncModels._generate_content``."""
    response = await wrapped(*args, **kwargs)
    _note(response)
    return response
