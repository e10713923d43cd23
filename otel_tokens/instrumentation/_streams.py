"""Stream proxies: pass every chunk through, accumulate usage, end the span exactly once.

The span ends on exhaustion, error, ``close()``, ``with``/``async with`` exit, or when the
proxy is released (a ``break`` followed by dropping the stream). A usage-only chunk that
otel-tokens asked for is hidden from the caller.
"""

from __future__ import annotations

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
        "pending",
        "read",
        "runtime",
        "state",
    )

    def __init__(self, call: Call, state: StreamState | None, runtime: Runtime) -> None:
        self.call = call
        self.state = state
        self.runtime = runtime
        self.read = False
        self.early_verdict: str | None = None
        self.pending: PendingCall | None = None
        self.done = False
        self._lock = threading.Lock()

    def on_chunk(self, chunk: Any) -> bool:
        if not self.read:
            self.read = True
            self.runtime.recorder.first_chunk(self.call)
        state = self.state
        if state is None:
            return False
        try:
            return state.on_chunk(chunk)
        except Exception as exc:  # noqa: BLE001
            self.state = None  # a broken state stops reading chunks; usage becomes missing
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
        self.pending = self.runtime.complete(self.call, response, read=self.read, verdict=self.early_verdict)

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


class TrackedStream(wrapt.ObjectProxy):  # type: ignore[misc]
    def __init__(self, wrapped: Any, session: StreamSession) -> None:
        super().__init__(wrapped)
        self._self_session = session

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
            except BaseException:
                _guarded(lambda: session.fail(exc))
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
        try:
            self._self_session.release()
        except Exception:  # noqa: BLE001, S110 - a finalizer must never raise
            pass


class TrackedAsyncStream(wrapt.ObjectProxy):  # type: ignore[misc]
    def __init__(self, wrapped: Any, session: StreamSession) -> None:
        super().__init__(wrapped)
        self._self_session = session

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
            except BaseException:
                _guarded(lambda: session.fail(exc))
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
        try:
            self._self_session.release()
        except Exception:  # noqa: BLE001, S110 - a finalizer must never raise
            pass
