"""A ``BaseInstrumentor`` driven by a provider module's :class:`Library` description."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Collection
from typing import Any

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap

from .. import runtime
from ._provider import STREAM_HOLDERS, Endpoint, Library
from ._wrapper import make_wrapper

logger = logging.getLogger("otel_tokens")


def _owner(endpoint: Endpoint) -> tuple[Any, str] | None:
    """(class, method name) of an endpoint, or None when this SDK version lacks it."""
    try:
        module = importlib.import_module(endpoint.module)
    except ImportError:
        return None
    owner: Any = module
    *path, method = endpoint.qualname.split(".")
    for part in path:
        owner = getattr(owner, part, None)
        if owner is None:
            return None
    return (owner, method) if hasattr(owner, method) else None


class LLMInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Patches every endpoint of ``library``; ``uninstrument()`` restores the original methods."""

    library: Library

    def instrumentation_dependencies(self) -> Collection[str]:
        return (self.library.requirement,)

    def _instrument(self, **kwargs: Any) -> None:
        runtime.ensure(
            kwargs.get("tracer_provider"), kwargs.get("meter_provider"), kwargs.get("logger_provider")
        )
        STREAM_HOLDERS.update(self.library.stream_holders)
        for endpoint in self.library.endpoints:
            owner = _owner(endpoint)
            if owner is None:
                logger.debug("otel-tokens: %s.%s not in this SDK version", endpoint.module, endpoint.qualname)
                continue
            cls, method = owner
            wrapt.wrap_function_wrapper(cls, method, make_wrapper(self.library, endpoint))

    def _uninstrument(self, **kwargs: Any) -> None:
        for endpoint in self.library.endpoints:
            owner = _owner(endpoint)
            if owner is not None:
                unwrap(*owner)

    def patched(self) -> list[tuple[Any, str]]:
        """(class, method) pairs this instrumentor patches in the installed SDK."""
        return [owner for owner in map(_owner, self.library.endpoints) if owner is not None]
