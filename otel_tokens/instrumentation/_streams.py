"""Stream proxies: pass every chunk through, accumulate usage, end the span exactly once.

The span ends on exhaustion, error, ``close()``, ``with``/``async with`` exit, or when the
proxy is released (a ``break`` followed by dropping the stream). A usage-only chunk that
otel-tokens asked for is hidden from the caller.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import wrapt

from .. import errors
from ..outcomes import PendingCall
from ..records import Request, Response
from ._provider import StreamState

if TYPE_CHECKING:
    from ..recorder import Call
    from ..runtime import Runtime


class StreamSession:
    """Bookkeeping of one streamed call, shared by the proxy and the outcome API. Its methods
    never raise into the caller's iteration: failures inside are counted (``errors.report``)."""

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

    @classmethod
    def start(
        cls,
        call: Call,
        runtime: Runtime,
        new_state: Callable[[Request], StreamState],
        hidden: Callable[[Any], bool] | None = None,
    ) -> StreamSession:
        """The session of ``call``, its state made by ``new_state`` (an endpoint's
        ``new_stream_state``); when that fails the stream still runs, its usage missing."""
        state: StreamState | None
        try:
            state = new_state(call.request)
        except Exception as exc:  # noqa: BLE001
            errors.report("stream_chunk", exc)
            state = None
        return cls(call, state, runtime, hidden)

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

    def on_body(self, data: bytes) -> None:
        """Feed a part of a response body the caller reads (Bedrock's InvokeModel): like a chunk,
        but a body is no stream, so it records no time to first chunk."""
        self.read = True  # before on_chunk, which times only the first read of a stream
        self.on_chunk(data)

    def _claim(self) -> bool:
        with self._lock:
            if self.done:
                return False
            self.done = True
            return True

    def finish(self) -> None:
        """End the call with what the state accumulated (once; later ends are no-ops)."""
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
        """End the call as failed with the caller's exception (once)."""
        if not self._claim():
            return
        try:
            self.runtime.fail(self.call, exc)
        except Exception as inner:  # noqa: BLE001
            errors.report("stream_end", inner)

    def release(self) -> None:
        self.finish()
        pending = self.pending
        if pending is not None:
            self.runtime.tracker.on_release(pending)


def _ends_call(name: str, *, awaited: bool) -> property:
    """The wrapped object's ``name`` method, ending the call once it has run. Looked up on the
    wrapped object, so a stream without it has none through the proxy either (``hasattr`` answers
    as it would without otel-tokens)."""

    def get(self: Any) -> Callable[..., Any]:
        method = getattr(self.__wrapped__, name)
        session: StreamSession = self._self_session
        if awaited:

            async def run_async(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await method(*args, **kwargs)
                finally:
                    session.finish()

            return run_async

        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            finally:
                session.finish()

        return run

    return property(get)


class SessionProxy(wrapt.ObjectProxy[Any]):
    """A proxy of what the caller reads a streamed call through (a stream, a body): ``close()``
    and ``with`` exit end the call, releasing the proxy lets ``outcomes`` judge it. Verdicts find
    the call through ``_self_session``."""

    def __init__(self, wrapped: Any, session: StreamSession) -> None:
        super().__init__(wrapped)
        self._self_session = session

    def __repr__(self) -> str:
        return repr(self.__wrapped__)

    close = _ends_call("close", awaited=False)

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc_info)
        finally:
            self._self_session.finish()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # a finalizer must never raise
            self._self_session.release()


class _StreamResponse(wrapt.ObjectProxy[Any]):
    """A stream's HTTP response. The SDKs' ``.stream()`` helpers close a stream by closing its
    response directly (not the stream), so closing it ends the call too. It is handed out anew
    on each access, so releasing it ends nothing."""

    def __init__(self, wrapped: Any, session: StreamSession) -> None:
        super().__init__(wrapped)
        self._self_session = session

    close = _ends_call("close", awaited=False)
    aclose = _ends_call("aclose", awaited=True)


def _response_property() -> property:
    def get(self: Any) -> Any:
        return _StreamResponse(self.__wrapped__.response, self._self_session)

    def set_(self: Any, value: Any) -> None:
        self.__wrapped__.response = value

    return property(get, set_)


class TrackedStream(SessionProxy):
    response = _response_property()

    def __iter__(self) -> TrackedStream:
        return self

    def __next__(self) -> Any:
        session = self._self_session
        while True:
            try:
                chunk = next(self.__wrapped__)  # the type's slot: cheaper than a method lookup
            except StopIteration:
                session.finish()
                raise
            except BaseException as exc:
                session.fail(exc)
                raise
            if not session.on_chunk(chunk):
                return chunk

    def __enter__(self) -> TrackedStream:
        self.__wrapped__.__enter__()
        return self


class TrackedAsyncStream(SessionProxy):
    response = _response_property()

    def __aiter__(self) -> TrackedAsyncStream:
        return self

    async def __anext__(self) -> Any:
        session = self._self_session
        while True:
            try:
                chunk = await self.__wrapped__.__anext__()
            except StopAsyncIteration:
                session.finish()
                raise
            except BaseException as exc:
                session.fail(exc)
                raise
            if not session.on_chunk(chunk):
                return chunk

    close = _ends_call("close", awaited=True)
    aclose = _ends_call("aclose", awaited=True)

    async def __aenter__(self) -> TrackedAsyncStream:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc_info)
        finally:
            self._self_session.finish()
