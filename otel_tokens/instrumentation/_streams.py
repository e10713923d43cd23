"""Stream proxies: pass every chunk through, accumulate usage, end the span exactly once.

The span ends on exhaustion, error, ``close()``, ``with``/``async with`` exit, or when the
proxy is released (a ``break`` followed by dropping the stream). A usage-only chunk that
otel-tokens asked for is hidden from the caller.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import wrapt

from .. import errors
from ..outcomes import PendingCall
from ..records import Response
from ._provider import StreamState

if TYPE_CHECKING:
    from ..recorder import Call
    from ..runtime import Runtime


class StreamSession:
    """Bookkeeping of one streamed call, shared by the proxy and the outcome API."""

    __slots__ = (
        "__weakref__",
        "_lock",
        "call",
        "done",
        "early_verdict",
        "hidden",
        "pending",
        "read",
        "runtime",
        "state",
    )

    def __init__(
        self,
        call: Call,
        state: StreamState | None,
        runtime: Runtime,
        hidden: Callable[[Any], bool] | None = None,
    ) -> None:
        self.call = call
        self.state = state
        self.runtime = runtime
        # Decides apart from the state which chunks otel-tokens added (and hides), so a
        # failing state never changes what the caller sees.
        self.hidden = hidden
        self.read = False
        self.early_verdict: str | None = None
        self.pending: PendingCall | None = None
        self.done = False
        self._lock = threading.Lock()

    def on_chunk(self, chunk: Any) -> bool:
        """Feed one chunk to the state; True when the caller must not see it."""
        if not self.read:
            self.read = True
            self.runtime.recorder.first_chunk(self.call)
        state = self.state
        if state is not None:
            try:
                state.on_chunk(chunk)
            except Exception as exc:  # noqa: BLE001
                self.state = None  # a broken state stops reading chunks; usage becomes missing
                errors.report("stream_chunk", exc)
        hidden = self.hidden
        if hidden is None:
            return False
        try:
            return hidden(chunk)
        except Exception as exc:  # noqa: BLE001
            errors.report("stream_chunk", exc)
            return False

    def _claim(self) -> bool:
        with self._lock:
            if self.done:
                return False
            self.done = True
            return True

    def finish(self) -> None:
        if not self._claim():
            return
        response: Response | None = None
        state = self.state
        if state is not None:
            try:
                response = state.response()
            except Exception as exc:  # noqa: BLE001
                errors.report("stream_end", exc)
        try:
            self.pending = self.runtime.complete(
                self.call, response, read=self.read, verdict=self.early_verdict
            )
        except Exception as exc:  # noqa: BLE001
            errors.report("recording", exc)

    def fail(self, exc: BaseException) -> None:
        if self._claim():
            self.runtime.fail(self.call, exc)

    def release(self) -> None:
        self.finish()
        pending = self.pending
        if pending is not None:
            self.runtime.tracker.on_release(pending)


def _guarded(action: Callable[[], None]) -> None:
    try:
        action()
    except Exception as exc:  # noqa: BLE001
        errors.report("stream_end", exc)


class _StreamResponse(wrapt.ObjectProxy[Any]):
    """A stream's HTTP response. The SDKs' ``.stream()`` helpers close a stream by closing its
    response directly (not the stream), so closing it ends the call too."""

    def __init__(self, wrapped: Any, session: StreamSession) -> None:
        super().__init__(wrapped)
        self._self_session = session

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            _guarded(self._self_session.finish)

    async def aclose(self) -> Any:
        try:
            return await self.__wrapped__.aclose()
        finally:
            _guarded(self._self_session.finish)


def _response_property() -> property:
    def get(self: Any) -> Any:
        return _StreamResponse(self.__wrapped__.response, self._self_session)

    def set_(self: Any, value: Any) -> None:
        self.__wrapped__.response = value

    return property(get, set_)


class TrackedStream(wrapt.ObjectProxy[Any]):
    response = _response_property()

    def __init__(self, wrapped: Any, session: StreamSession) -> None:
        super().__init__(wrapped)
        self._self_session = session

    def __repr__(self) -> str:
        return repr(self.__wrapped__)

    def __iter__(self) -> TrackedStream:
        return self

    def __next__(self) -> Any:
        session = self._self_session
        while True:
            try:
                chunk = self.__wrapped__.__next__()
            except StopIteration:
                _guarded(session.finish)
                raise
            except BaseException as exc:
                _guarded(functools.partial(session.fail, exc))
                raise
            if not session.on_chunk(chunk):
                return chunk

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            _guarded(self._self_session.finish)

    def __enter__(self) -> TrackedStream:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc_info)
        finally:
            _guarded(self._self_session.finish)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # a finalizer must never raise
            self._self_session.release()


class TrackedAsyncStream(wrapt.ObjectProxy[Any]):
    response = _response_property()

    def __init__(self, wrapped: Any, session: StreamSession) -> None:
        super().__init__(wrapped)
        self._self_session = session

    def __repr__(self) -> str:
        return repr(self.__wrapped__)

    def __aiter__(self) -> TrackedAsyncStream:
        return self

    async def __anext__(self) -> Any:
        session = self._self_session
        while True:
            try:
                chunk = await self.__wrapped__.__anext__()
            except StopAsyncIteration:
                _guarded(session.finish)
                raise
            except BaseException as exc:
                _guarded(functools.partial(session.fail, exc))
                raise
            if not session.on_chunk(chunk):
                return chunk

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            _guarded(self._self_session.finish)

    async def aclose(self) -> Any:
        try:
            return await self.__wrapped__.aclose()
        finally:
            _guarded(self._self_session.finish)

    async def __aenter__(self) -> TrackedAsyncStream:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc_info)
        finally:
            _guarded(self._self_session.finish)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # a finalizer must never raise
            self._self_session.release()
