"""Fake endpoints for providers beyond OpenAI and Anthropic, one module per provider.

Every module in this package exports ``ROUTES: tuple[Route, ...]`` (see
:func:`otel_tokens.demo.fake_llm.route`) and documents its own paths and ``x-fake-*`` header
meanings; :class:`~otel_tokens.demo.fake_llm.FakeLLMServer` serves them all.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..fake_llm import Route


@functools.cache
def routes() -> tuple[Route, ...]:
    """Every provider module's routes; imported on first use (the modules import ``fake_llm``)."""
    found: list[Route] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        found.extend(importlib.import_module(f"{__name__}.{info.name}").ROUTES)
    return tuple(found)
