"""How LiteLLM's module functions reach the generic guarded wrapper.

Two adaptations, both transparent to the caller:

- Leading positional arguments become keywords (``completion("gpt-4o", messages)`` is
  ``completion(model="gpt-4o", messages=messages)``): the generic wrapper fingerprints repeated
  requests from keyword arguments only.
- Sync streams: LiteLLM's ``CustomStreamWrapper`` is both an iterator and an async iterator,
  and the generic wrapper picks its async stream proxy for any result with ``__anext__``, under
  which ``for chunk in stream`` would bypass tracking. So a sync call's stream reaches it behind
  :class:`SyncOnlyStream`, which hides ``__anext__`` (removable once the generic wrapper picks
  the proxy by ``Endpoint.is_async``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import wrapt

from .._provider import Endpoint
from .._wrapper import Wrapper


def keyword_arguments(parameters: tuple[str, ...], inner: Wrapper) -> Wrapper:
    """``inner`` called with the leading positional ``parameters`` passed by name."""

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if args and len(args) <= len(parameters) and not kwargs.keys() & set(parameters[: len(args)]):
            return inner(wrapped, instance, (), {**dict(zip(parameters, args, strict=False)), **kwargs})
        return inner(wrapped, instance, args, kwargs)

    return wrapper


class SyncOnlyStream(wrapt.ObjectProxy[Any]):
    """A transparent proxy of a sync call's stream, without ``__anext__``."""

    def __repr__(self) -> str:
        return repr(self.__wrapped__)

    def __getattr__(self, name: str) -> Any:
        if name == "__anext__":
            raise AttributeError(name)
        return getattr(self.__wrapped__, name)


def _sync_only(call: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    result = call(*args, **kwargs)
    # Plain attribute checks, nothing that could fail: this runs inside the user's call.
    return SyncOnlyStream(result) if hasattr(result, "__next__") and hasattr(result, "__anext__") else result


def sync_stream_wrapper(endpoint: Endpoint, generic: Wrapper) -> Wrapper:
    """``generic`` (the endpoint's guarded wrapper) around the SDK call, whose stream is made sync-only."""

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        try:
            untouched = endpoint.skip(kwargs)
        except Exception:  # noqa: BLE001 - the generic wrapper meets it again and reports it
            untouched = False
        if untouched:  # never instrumented: the SDK's result stays as it is
            return wrapped(*args, **kwargs)
        return generic(functools.partial(_sync_only, wrapped), instance, args, kwargs)

    return wrapper
