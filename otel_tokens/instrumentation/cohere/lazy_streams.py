"""Cohere's ``chat_stream`` is a generator function: calling it sends nothing, the request goes
out on the first ``next``. These proxies start the guarded call (and its span) only then, so a
generator that is never iterated is no call at all, and the span times the request, not the wait.

The caller gets a transparent proxy of the SDK's (async) generator. On the first ``next`` it hands
the generator to the guarded wrapper, which returns our tracked stream; from then on every
``next`` / ``close`` goes through that stream, which ends the span exactly once. The tracked stream
is kept as ``_self_tracked``, where ``otel_tokens.mark_used`` finds it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import wrapt

from ... import errors
from .._wrapper import Wrapper


class _LazyProxy(wrapt.ObjectProxy[Any]):
    """What the sync and async proxies share: the call starts once, on the first ``next``."""

    def __init__(self, generator: Any, start: Callable[[], Any]) -> None:
        super().__init__(generator)
        self._self_start: Callable[[], Any] | None = start
        self._self_tracked: Any = None

    def __repr__(self) -> str:
        return repr(self.__wrapped__)

    def _self_stream(self) -> Any:
        start = self._self_start
        if start is not None:
            self._self_start = None
            self._self_tracked = start()
        return self.__wrapped__ if self._self_tracked is None else self._self_tracked

    def _self_cancel_start(self) -> bool:
        """On close: True when the call had not started, and now never will (closing sends
        nothing and is no call, nor is a later ``next``); else the tracked stream ends it."""
        if self._self_start is None:
            return False
        self._self_start = None
        return True


class LazyStream(_LazyProxy):
    """A sync ``chat_stream`` generator whose call starts on the first ``next``."""

    def __iter__(self) -> LazyStream:
        return self

    def __next__(self) -> Any:
        return next(self._self_stream())

    def send(self, value: Any) -> Any:
        return self.__next__() if value is None else self._self_stream().send(value)

    def close(self) -> Any:
        return self.__wrapped__.close() if self._self_cancel_start() else self._self_stream().close()


class LazyAsyncStream(_LazyProxy):
    """An async ``chat_stream`` generator whose call starts on the first ``__anext__``."""

    def __aiter__(self) -> LazyAsyncStream:
        return self

    async def __anext__(self) -> Any:
        return await self._self_stream().__anext__()

    async def aclose(self) -> Any:
        if self._self_cancel_start():
            return await self.__wrapped__.aclose()
        return await self._self_stream().aclose()


def lazy_stream_wrapper(send: Wrapper) -> Wrapper:
    """Wraps ``chat_stream``: ``send`` is the guarded wrapper of that endpoint, run on the first ``next``."""

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        generator = wrapped(*args, **kwargs)

        def handed_over(*_args: Any, **_kwargs: Any) -> Any:
            return generator  # already made with the caller's arguments; nothing is sent twice

        def start() -> Any:
            return send(handed_over, instance, args, kwargs)

        try:
            return _proxy(generator, start)
        except Exception as exc:  # noqa: BLE001 - the stream then works uninstrumented
            errors.report("request", exc)
            return generator

    return wrapper


def _proxy(generator: Any, start: Callable[[], Any]) -> LazyStream | LazyAsyncStream:
    if hasattr(generator, "__anext__"):
        return LazyAsyncStream(generator, start)
    return LazyStream(generator, start)
