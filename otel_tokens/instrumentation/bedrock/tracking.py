"""Read tracking through botocore's response types: plain dicts, ``EventStream`` and the
InvokeModel ``StreamingBody``.

A response dict cannot be proxied transparently (``json.dumps``, ``dict(...)`` and ``{**r}``
check for a real dict), so the caller gets a :class:`TrackedDict`: a dict subclass holding the
same items. Reading a content key (``output`` of Converse, ``body`` of InvokeModel), or the
values, items, repr or a copy, marks the call read; ``ResponseMetadata``, ``usage``,
``stopReason`` and ``metrics`` do not. Copies, pickles and ``dict.copy`` are plain dicts.

Streams (``stream`` of ConverseStream, ``body`` of InvokeModelWithResponseStream) are wrapped
in :class:`TrackedEventStream`; InvokeModel bodies whose usage must come from the body itself
in :class:`TrackedBody`. Both end the call exactly once (end of data, error, ``close()``,
garbage collection). botocore's ``EventStream`` is no context manager, and a ``StreamingBody``
used as one hands out its raw urllib3 stream, whose bytes otel-tokens cannot see.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any, ClassVar

from ...outcomes import OutcomeTracker, PendingCall
from .._streams import SessionProxy, StreamSession


class TrackedDict(dict[str, Any]):
    """A response dict; its ``_self_pending`` / ``_self_session`` let verdicts find the call."""

    __slots__ = ("_self_pending", "_self_session", "_self_tracker")
    content_keys: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        result: dict[str, Any],
        pending: PendingCall | None = None,
        tracker: OutcomeTracker | None = None,
        session: StreamSession | None = None,
    ) -> None:
        super().__init__(result)
        self._self_pending = pending
        self._self_tracker = tracker  # set when releasing this dict ends the call's wait
        self._self_session = session

    def _self_read(self, key: Any = None) -> None:
        pending = self._self_pending
        if pending is not None and (key is None or key in self.content_keys):
            pending.read = True

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key)
        self._self_read(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = super().get(key, default)
        self._self_read(key)
        return value

    def pop(self, key: str, *default: Any) -> Any:
        value = super().pop(key, *default)
        self._self_read(key)
        return value

    def setdefault(self, key: str, default: Any = None) -> Any:
        value = super().setdefault(key, default)
        self._self_read(key)
        return value

    # Overriding __iter__ makes dict(r), {**r} and dict.update(r) go through __getitem__.
    def __iter__(self) -> Iterator[str]:
        return super().__iter__()

    def values(self) -> Any:
        self._self_read()
        return super().values()

    def items(self) -> Any:
        self._self_read()
        return super().items()

    def popitem(self) -> tuple[str, Any]:
        self._self_read()
        return super().popitem()

    def copy(self) -> dict[str, Any]:
        self._self_read()
        return dict(super().items())

    def __repr__(self) -> str:
        self._self_read()
        return super().__repr__()

    def __copy__(self) -> dict[str, Any]:
        return self.copy()

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return copy.deepcopy(self.copy(), memo)

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (dict, (self.copy(),))

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # a finalizer must never raise
            tracker, pending = self._self_tracker, self._self_pending
            if tracker is not None and pending is not None:
                tracker.on_release(pending)


class ConverseResponse(TrackedDict):
    content_keys = frozenset({"output"})


class InvokeModelResponse(TrackedDict):
    content_keys = frozenset({"body"})


class TrackedEventStream(SessionProxy):
    """botocore's ``EventStream``: each ``iter()`` reads on from the shared event source, so
    a ``break`` and a later loop continue the same stream, as without otel-tokens."""

    def __iter__(self) -> Iterator[Any]:
        return self._self_events(iter(self.__wrapped__))

    def _self_events(self, events: Iterator[Any]) -> Iterator[Any]:
        session = self._self_session
        while True:
            try:
                event = next(events)
            except StopIteration:
                session.finish()
                return
            except BaseException as exc:  # the source's failure; not one thrown in at ``yield``
                session.fail(exc)
                raise
            session.on_chunk(event)
            yield event

    # wrapt proxies always have __enter__: refuse ``with`` as botocore's EventStream does, unless
    # a botocore version makes it a context manager.
    def __enter__(self) -> Any:
        wrapped = self.__wrapped__
        if not hasattr(type(wrapped), "__enter__"):
            raise TypeError(
                f"'{type(wrapped).__name__}' object does not support the context manager protocol"
            )
        wrapped.__enter__()
        return self


class TrackedBody(SessionProxy):
    """InvokeModel's ``StreamingBody`` when the usage is in the body: the bytes the caller reads
    feed the session's state, and the call ends at the end of the body. Iteration and
    ``iter_lines`` / ``iter_chunks`` run botocore's own code on this proxy, so they read
    through :meth:`read` too."""

    def _self_reading(self, method: str, *args: Any) -> Any:
        """The body's ``method(*args)``; its failure ends the call as failed."""
        try:
            return getattr(self.__wrapped__, method)(*args)
        except BaseException as exc:
            self._self_session.fail(exc)
            raise

    def _self_took(self, data: bytes, at_end: bool) -> None:
        session = self._self_session
        session.on_body(data)
        if at_end or self._self_all_read():
            session.finish()

    def _self_all_read(self) -> bool:
        body = self.__wrapped__
        length, done = getattr(body, "_content_length", None), getattr(body, "_amount_read", None)
        return isinstance(done, int) and isinstance(length, (int, str)) and str(done) == str(length)

    def read(self, amt: int | None = None) -> bytes:
        data: bytes = self._self_reading("read", amt)
        self._self_took(data, amt is None or (not data and amt > 0))
        return data

    def readinto(self, buffer: Any) -> int:
        count: int = self._self_reading("readinto", buffer)
        self._self_took(bytes(memoryview(buffer)[:count]), count == 0 and len(buffer) > 0)
        return count

    def readlines(self) -> list[bytes]:
        lines: list[bytes] = self._self_reading("readlines")
        self._self_took(b"".join(lines), True)
        return lines

    def __iter__(self) -> Any:
        return type(self.__wrapped__).__iter__(self)

    def __next__(self) -> Any:
        return type(self.__wrapped__).__next__(self)

    def iter_chunks(self, *args: Any, **kwargs: Any) -> Any:
        return type(self.__wrapped__).iter_chunks(self, *args, **kwargs)

    def iter_lines(self, *args: Any, **kwargs: Any) -> Any:
        return type(self.__wrapped__).iter_lines(self, *args, **kwargs)

    def __enter__(self) -> Any:
        self._self_session.read = True
        return self.__wrapped__.__enter__()
