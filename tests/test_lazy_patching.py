"""Patching waits for the library: ``instrument()`` imports no LLM SDK, an SDK imported later is
patched on import, one imported after ``uninstrument()`` is not, and a version outside the
requirement is left alone with one warning."""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
import textwrap
from typing import Any

import pytest

import otel_tokens
from otel_tokens.instrumentation._base import version_conflict
from otel_tokens.instrumentation.openai import OpenAIInstrumentor


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"OTEL_TOKENS_PROMETHEUS_PORT": "-1", "PATH": ""},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_instrument_imports_no_sdk_and_patches_on_import() -> None:
    out = _run(
        """
        import sys
        import otel_tokens
        done = otel_tokens.instrument()
        assert "otel_tokens_openai" in done and "otel_tokens_anthropic" in done, done
        assert "openai" not in sys.modules and "anthropic" not in sys.modules
        import openai, anthropic
        from openai.resources.chat.completions import Completions
        from anthropic.resources.messages import Messages
        print(type(vars(Completions)["create"]).__name__, type(vars(Messages)["create"]).__name__)
        otel_tokens.uninstrument()
        print(type(vars(Completions)["create"]).__name__)
        """
    )
    assert out.split() == ["FunctionWrapper", "FunctionWrapper", "function"]


def test_sdk_imported_after_uninstrument_is_not_patched() -> None:
    out = _run(
        """
        import otel_tokens
        otel_tokens.instrument()
        otel_tokens.uninstrument()
        from openai.resources.chat.completions import Completions
        print(type(vars(Completions)["create"]).__name__)
        """
    )
    assert out.strip() == "function"


def test_version_conflict_reads_the_installed_distribution() -> None:
    import openai

    assert version_conflict("openai >= 1.0") is None
    conflict = version_conflict("openai < 1.0")
    assert conflict is not None and openai.__version__ in conflict
    assert version_conflict("not-a-real-dist-xyz >= 1") is not None
    assert version_conflict("!!! not a requirement") is not None


def test_unsupported_version_is_left_alone_with_one_warning(
    telemetry: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from openai.resources.chat.completions import Completions

    from otel_tokens.instrumentation import openai as provider

    unsupported = dataclasses.replace(provider.LIBRARY, requirement="openai < 1.0")
    monkeypatch.setattr(OpenAIInstrumentor, "library", unsupported)

    original = inspect.getattr_static(Completions, "create")
    with caplog.at_level("WARNING", logger="otel_tokens"):
        otel_tokens.instrument(telemetry.tracer_provider, telemetry.meter_provider, telemetry.logger_provider)
    try:
        assert inspect.getattr_static(Completions, "create") is original
        warnings = [r for r in caplog.records if "not instrumenting openai" in r.getMessage()]
        assert len(warnings) == 1 and "openai < 1.0 required" in warnings[0].getMessage()
    finally:
        otel_tokens.uninstrument()


def test_repeated_instrumenting_keeps_one_import_hook_per_module() -> None:
    """wrapt keeps post-import hooks forever: instrument() / uninstrument() cycles before the SDK
    is imported must not pile up hooks (and the periods they hold), nor patch twice on import."""
    out = _run(
        """
        import gc
        import otel_tokens
        from otel_tokens.instrumentation import INSTRUMENTORS
        from otel_tokens.instrumentation._base import _State
        for _ in range(20):
            otel_tokens.instrument()
            otel_tokens.uninstrument()
        otel_tokens.instrument()
        import wrapt
        from openai.resources.chat.completions import Completions
        create = Completions.__dict__["create"]
        assert isinstance(create, wrapt.FunctionWrapper), type(create)
        assert not isinstance(create.__wrapped__, wrapt.FunctionWrapper), "patched twice"
        gc.collect()
        print(sum(isinstance(o, _State) for o in gc.get_objects()), len(INSTRUMENTORS))
        """
    )
    states, instrumentors = map(int, out.split())
    assert states <= instrumentors, (states, instrumentors)
