"""Anthropic instrumentation: ``AnthropicInstrumentor().instrument()`` or the ``otel_tokens_anthropic`` entry point.

``messages.create`` and ``messages.parse`` are patched like any endpoint. The
``messages.stream()`` helper does not go through ``create``: it hands a deferred request
(a ``partial`` of ``_post``, or an unawaited coroutine for the async client) to a
``MessageStreamManager`` that sends it on ``with`` / ``async with`` entry. So ``stream`` is
patched to swap that deferred request for a guarded one: the span starts when the request is
sent, and the helper's ``MessageStream`` reads our tracked stream through ``_raw_stream``.
``messages.count_tokens`` is not billed and is left alone.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator
from typing import Any, Final

from ... import errors
from .._base import LLMInstrumentor, WrapperFactory
from .._common import sync_and_async
from .._provider import Endpoint, Library, ReadRequest
from .._wrapper import Wrapper, make_wrapper
from . import mapping as m

_MESSAGES: Final = "anthropic.resources.messages.messages"
_BETA_MESSAGES: Final = "anthropic.resources.beta.messages.messages"


def _messages(methods: tuple[str, ...], read_request: ReadRequest) -> tuple[Endpoint, ...]:
    """``methods`` of ``Messages`` / ``AsyncMessages``, plain and beta."""
    return tuple(
        endpoint
        for module in (_MESSAGES, _BETA_MESSAGES)
        for endpoint in sync_and_async(
            module,
            "Messages",
            methods,
            read_request=read_request,
            read_response=m.read_message,
            new_stream_state=m.MessageStreamState,
            is_stream=m.is_stream,
            raw_kind=m.raw_kind,
        )
    )


LIBRARY: Final = Library(
    name="anthropic",
    requirement="anthropic >= 1.0.0",  # older: a proxy fails isinstance(stream, anthropic.Stream) (tests/envs/oldest-sdks.txt)
    endpoints=_messages(("create", "parse"), m.read_request),
    content_attributes=m.CONTENT_ATTRIBUTES,
    stream_holders=("_raw_stream",),
)
# The ``stream()`` helpers; ``is_async`` is that of the request they defer, not of ``stream`` itself.
STREAM_HELPERS: Final = _messages(("stream",), m.read_stream_request)


class _DeferredAwaitable:
    """Stands in for the async helper's unawaited request: our guarded call starts on ``await``
    only, so a manager that is never entered leaves nothing behind but the SDK's own coroutine."""

    __slots__ = ("_start",)

    def __init__(self, start: Callable[[], Any]) -> None:
        self._start = start

    def __await__(self) -> Generator[Any, None, Any]:
        return self._start().__await__()  # type: ignore[no-any-return]


def _guard_deferred_request(manager: Any, send: Wrapper, instance: Any, kwargs: dict[str, Any]) -> None:
    """Replace the manager's deferred request (``_<Manager>__api_request``) by a guarded one."""
    name = next(key for key in vars(manager) if key.endswith("__api_request"))
    original = getattr(manager, name)

    def unchanged(**_: Any) -> Any:
        return original() if callable(original) else original

    guarded = functools.partial(send, unchanged, instance, (), kwargs)
    setattr(manager, name, guarded if callable(original) else _DeferredAwaitable(guarded))


def _stream_wrapper(endpoint: Endpoint) -> Wrapper:
    send = make_wrapper(LIBRARY, endpoint)

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        manager = wrapped(*args, **kwargs)
        try:
            _guard_deferred_request(manager, send, instance, kwargs)
        except Exception as exc:  # noqa: BLE001 - the helper then works uninstrumented
            errors.report("request", exc)
        return manager

    return wrapper


class AnthropicInstrumentor(LLMInstrumentor):
    """Instruments the ``anthropic`` SDK: ``messages.create`` / ``parse`` / ``.stream()``, plain and
    beta, sync and async, streamed and raw (``with_raw_response``, ``with_streaming_response``).
    Input tokens include cache reads and writes; ``count_tokens`` is not recorded.

    Example::

        AnthropicInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)
    """

    library = LIBRARY

    def patches(self) -> list[tuple[Endpoint, WrapperFactory]]:
        helpers = [(endpoint, functools.partial(_stream_wrapper, endpoint)) for endpoint in STREAM_HELPERS]
        return super().patches() + helpers
