"""The README's table of supported libraries, generated from the instrumentors themselves.

``python -m otel_tokens.instrumentation.support`` prints it; a test checks the README holds
exactly this table, so the documentation cannot drift from what is patched.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import INSTRUMENTORS


def _methods(instrumentor: Any) -> str:
    """``Class.method`` of every patched method, sync and async forms folded together."""
    names = {endpoint.qualname for endpoint, _ in instrumentor.patches()}
    shown = []
    for name in sorted(names):
        cls, _, method = name.rpartition(".")
        if (cls.startswith("Async") and f"{cls[5:]}.{method}" in names) or (
            method.endswith("_async") and name[: -len("_async")] in names
        ):
            continue  # shown with its sync form
        both = f"Async{name}" in names or f"{name}_async" in names
        shown.append(f"`{name}`" + (" (+async)" if both else ""))
    return ", ".join(shown)


def rows() -> list[tuple[str, str, str]]:
    """(requirement, entry point, methods) per instrumented library."""
    found = []
    for entry_point, path in INSTRUMENTORS.items():
        module, _, cls = path.partition(":")
        instrumentor = getattr(importlib.import_module(module), cls)()
        found.append((instrumentor.library.requirement, entry_point, _methods(instrumentor)))
    return found


def table() -> str:
    lines = [
        "| Library | Entry point | Patched methods |",
        "| --- | --- | --- |",
    ]
    lines += [f"| `{req}` | `{entry}` | {methods} |" for req, entry, methods in rows()]
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
