"""A ``BaseInstrumentor`` driven by a provider module's :class:`Library` description.

Patching waits for the library: ``instrument()`` registers a post-import hook per patched
module, so a library the app imports later is patched on import, and one it never imports is
never loaded (importing every installed LLM SDK would cost seconds at startup). The version
requirement is checked in that hook too, once the library is really there.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util
import logging
import sys
import threading
from collections.abc import Callable, Collection
from types import ModuleType
from typing import TYPE_CHECKING, Any

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap

from .. import errors, runtime
from ._provider import STREAM_HOLDERS, Endpoint, Library
from ._wrapper import Wrapper, make_wrapper

if TYPE_CHECKING:
    from opentelemetry.instrumentation.dependencies import DependencyConflict

logger = logging.getLogger("otel_tokens")

# Builds the wrapt wrapper of one patched method.
WrapperFactory = Callable[[], Wrapper]


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


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def version_conflict(requirement: str) -> str | None:
    """Why the installed distribution does not satisfy ``requirement``, or None when it does."""
    from packaging.requirements import InvalidRequirement, Requirement  # ~10 ms: only once imported

    try:
        parsed = Requirement(requirement)
        installed = importlib.metadata.version(parsed.name)
    except (InvalidRequirement, importlib.metadata.PackageNotFoundError) as exc:
        return f"{requirement}: {exc!r}"
    if parsed.specifier and not parsed.specifier.contains(installed, prereleases=True):
        return f"{requirement} required, {installed} installed"
    return None


class LLMInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Patches every endpoint of ``library`` when its module is imported; ``uninstrument()``
    restores the original methods."""

    library: Library

    def instrumentation_dependencies(self) -> Collection[str]:
        return (self.library.requirement,)

    def _check_dependency_conflicts(self) -> DependencyConflict | None:
        # Cheap "is it installed" only (importlib.metadata costs milliseconds per library);
        # the version is checked when the library is imported (see _on_import).
        if _installed(self.library.import_name):
            return None
        from opentelemetry.instrumentation.dependencies import DependencyConflict

        return DependencyConflict(self.library.requirement, None)

    def patches(self) -> list[tuple[Endpoint, WrapperFactory]]:
        """Every method to patch with the factory of its wrapper; subclasses add helpers."""
        return [
            (endpoint, functools.partial(make_wrapper, self.library, endpoint))
            for endpoint in self.library.endpoints
        ]

    def _instrument(self, **kwargs: Any) -> None:
        runtime.ensure(
            kwargs.get("tracer_provider"), kwargs.get("meter_provider"), kwargs.get("logger_provider")
        )
        STREAM_HOLDERS.update(self.library.stream_holders)
        state = _State()
        self._state = state
        by_module: dict[str, list[tuple[Endpoint, WrapperFactory]]] = {}
        for endpoint, factory in self.patches():
            by_module.setdefault(endpoint.module, []).append((endpoint, factory))
        self._by_module = by_module
        hooked: set[str] = self.__dict__.setdefault("_hooked_modules", set())
        for module, patches in by_module.items():
            if module in sys.modules:
                self._on_import(state, patches, sys.modules[module])
            elif module not in hooked:
                # wrapt keeps a hook forever: one per module, patching for whichever period is current.
                hooked.add(module)
                wrapt.register_post_import_hook(functools.partial(self._on_current_import, module), module)

    def _on_current_import(self, name: str, module: ModuleType) -> None:
        self._on_import(self._state, self._by_module.get(name, []), module)

    def _on_import(
        self, state: _State, patches: list[tuple[Endpoint, WrapperFactory]], module: ModuleType
    ) -> None:
        try:
            with state.lock:
                if state.stopped:
                    return  # uninstrumented before the library was imported
                if state.conflict is None:
                    state.conflict = version_conflict(self.library.requirement) or ""
                if state.conflict:
                    logger.warning(
                        "otel-tokens: not instrumenting %s (%s)", self.library.name, state.conflict
                    )
                    state.stopped = True
                    return
                for endpoint, factory in patches:
                    owner = _owner(endpoint)
                    if owner in state.patched:
                        continue  # imported while instrument() ran: hook and direct call both came
                    if owner is None:
                        logger.debug(
                            "otel-tokens: %s.%s not in this SDK version", endpoint.module, endpoint.qualname
                        )
                        continue
                    wrapt.wrap_function_wrapper(*owner, factory())
                    state.patched.append(owner)
        except Exception as exc:  # noqa: BLE001 - an import hook must never fail the app's import
            errors.report("instrument", exc)

    def _uninstrument(self, **kwargs: Any) -> None:
        state: _State | None = getattr(self, "_state", None)
        if state is None:
            return
        with state.lock:
            state.stopped = True
            patched, state.patched = state.patched, []
        for owner in patched:
            unwrap(*owner)

    def patched(self) -> list[tuple[Any, str]]:
        """(class, method) pairs this instrumentor patches in the installed SDK (imports it)."""
        return [owner for owner in (_owner(endpoint) for endpoint, _ in self.patches()) if owner is not None]


class _State:
    """One instrument() .. uninstrument() period: hooks of an earlier period do nothing."""

    __slots__ = ("conflict", "lock", "patched", "stopped")

    def __init__(self) -> None:
        self.lock = threading.RLock()  # a hook may import a module whose hook shares this state
        self.stopped = False
        self.conflict: str | None = None  # "" once checked and fine
        self.patched: list[tuple[Any, str]] = []
