"""otel-tokens: outcome-linked LLM usage on OpenTelemetry.

Example::

    import otel_tokens

    otel_tokens.init(service_name="support-bot")
    with otel_tokens.task("email-triage", team="support") as run:
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=msgs)
        run.mark_used()
"""

from __future__ import annotations

import importlib
from typing import Any

from .names import Outcome
from .refs import InvalidRef
from .sdk import Handle, init, instrument, uninstrument
from .tasks import BudgetExceeded, TaskRun, task
from .verdicts import mark_discarded, mark_used, outcome_ref, record_outcome

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # ``otel_tokens.processor.TokenMetricsSpanProcessor()`` after a plain ``import otel_tokens``,
    # without loading the span-processing machinery for apps that do not use it.
    if name == "processor":
        return importlib.import_module(".processor", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BudgetExceeded",
    "Handle",
    "InvalidRef",
    "Outcome",
    "TaskRun",
    "__version__",
    "init",
    "instrument",
    "mark_discarded",
    "mark_used",
    "outcome_ref",
    "record_outcome",
    "task",
    "uninstrument",
]
