"""Failures inside otel-tokens: logged once per stage, counted, never raised into the user's call.

Tests (and ``OTEL_TOKENS_RAISE_INTERNAL_ERRORS=true``) make them re-raise so bugs are not hidden.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

logger = logging.getLogger("otel_tokens")

_lock = threading.Lock()
_logged: set[str] = set()
_counter: Callable[[str], None] | None = None
_raise = False


def configure(counter: Callable[[str], None] | None, raise_errors: bool) -> None:
    """Point error counting at the recorder's counter; set whether guards re-raise."""
    global _counter, _raise
    _counter = counter
    _raise = raise_errors


def report(stage: str, exc: BaseException) -> None:
    """Record a failure of ``stage``. Re-raises only when configured to (tests)."""
    if _raise:
        raise exc
    first = False
    with _lock:
        if stage not in _logged:
            _logged.add(stage)
            first = True
    if first:
        logger.warning(
            "otel-tokens failed in stage %r (the LLM call is unaffected): %r", stage, exc, exc_info=exc
        )
    counter = _counter
    if counter is not None:
        with contextlib.suppress(Exception):  # counting must never fail the caller
            counter(stage)


def reset_logged() -> None:
    """Forget which stages were logged (tests)."""
    with _lock:
        _logged.clear()
