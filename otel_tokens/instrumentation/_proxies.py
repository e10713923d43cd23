"""Transparent read-tracking proxies around SDK responses and raw HTTP responses.

``isinstance``, attribute access, ``model_dump``, equality, iteration and context managers
behave as on the SDK object (``wrapt.ObjectProxy``). Accessing a content-bearing attribute
(or printing, iterating, dumping, copying or pickling the response) marks the call's output
as read; ``id``, ``usage`` and ``model`` do not. Releasing the proxy tells ``outcomes`` the
output can no longer be judged. Known limits: ``type(proxy)`` is the proxy class, and pickling or
copying yields the plain SDK object.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from typing import Any

import wrapt

from ..outcomes import OutcomeTracker, PendingCall

# Methods and attributes that reveal content on every SDK's response types.
GENERIC_CONTENT = frozenset(
    {"model_dump", "model_dump_json", "model_copy", "to_dict", "to_json", "json", "dict", "copy"}
)


class TrackedResponse(wrapt.ObjectProxy[Any]):
    """A finished call's response; subclasses add one property per content attribute."""

    def __init__(self, wrapped: Any, pending: PendingCall, tracker: OutcomeTracker) -> None:
        super().__init__(wrapped)
        self._self_pending = pending
        self._self_tracker = tracker

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # a finalizer must never raise
            self._self_tracker.on_release(self._self_pending)

    # Printing or formatting a response shows its content: that is a read.
    def __repr__(self) -> str:
        self._self_pending.read = True
        return repr(self.__wrapped__)

    def __str__(self) -> str:
        self._self_pending.read = True
        return str(self.__wrapped__)

    def __format__(self, format_spec: str) -> str:
        self._self_pending.read = True
        return format(self.__wrapped__, format_spec)

    def __iter__(self) -> Iterator[Any]:
        self._self_pending.read = True
        return iter(self.__wrapped__)

    def __reduce_ex__(self, protocol: Any) -> Any:
        self._self_pending.read = True
        return self.__wrapped__.__reduce_ex__(protocol)

    def __copy__(self) -> Any:
        self._self_pending.read = True
        return copy.copy(self.__wrapped__)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        self._self_pending.read = True
        return copy.deepcopy(self.__wrapped__, memo)


def _content_property(name: str) -> property:
    def get(self: TrackedResponse) -> Any:
        value = getattr(self.__wrapped__, name)
        self._self_pending.read = True
        return value

    def set_(self: TrackedResponse, value: Any) -> None:
        setattr(self.__wrapped__, name, value)

    return property(get, set_)


def _content_item(content_attributes: frozenset[str]) -> Callable[[TrackedResponse, Any], Any]:
    # Subscriptable responses (Ollama's ``reply["message"]["content"]``): a content key is a read.
    def getitem(self: TrackedResponse, key: Any) -> Any:
        value = self.__wrapped__[key]
        if isinstance(key, str) and key in content_attributes:
            self._self_pending.read = True
        return value

    return getitem


_classes: dict[frozenset[str], type[TrackedResponse]] = {}


def response_proxy_class(content_attributes: frozenset[str]) -> type[TrackedResponse]:
    """The proxy class for one library's content attributes (built once)."""
    cls = _classes.get(content_attributes)
    if cls is None:
        members: dict[str, Any] = {
            name: _content_property(name) for name in content_attributes | GENERIC_CONTENT
        }
        members["__getitem__"] = _content_item(content_attributes)
        cls = type("TrackedResponse", (TrackedResponse,), members)
        _classes[content_attributes] = cls
    return cls


class TrackedRaw(wrapt.ObjectProxy[Any]):
    """A ``with_raw_response`` / ``with_streaming_response`` object: ``parse()`` returns a tracked result."""

    def __init__(
        self, wrapped: Any, on_parsed: Callable[[Any], Any], on_unparsed_end: Callable[[], None]
    ) -> None:
        super().__init__(wrapped)
        self._self_on_parsed = on_parsed
        self._self_on_unparsed_end = on_unparsed_end
        self._self_raw_result: Any = None
        self._self_tracked: Any = None

    def _self_track(self, result: Any) -> Any:
        if self._self_tracked is None:
            self._self_raw_result = result
            self._self_tracked = self._self_on_parsed(result)
            return self._self_tracked
        return self._self_tracked if result is self._self_raw_result else result

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_track(self.__wrapped__.parse(*args, **kwargs))

    def _self_end_unparsed(self) -> None:
        # Closed or released before parse(): the call ends without a response (usage missing).
        if self._self_tracked is None:
            self._self_on_unparsed_end()

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_end_unparsed()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # a finalizer must never raise
            self._self_end_unparsed()


class TrackedAsyncRaw(TrackedRaw):
    """Async flavour: ``await raw.parse()`` and ``await raw.close()``."""

    async def parse(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_track(await self.__wrapped__.parse(*args, **kwargs))

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            self._self_end_unparsed()
