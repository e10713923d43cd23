"""The OpenAI instrumentor: patches, restores, is idempotent, can be disabled, and is optional."""

from __future__ import annotations

import gc
import inspect
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from helpers_openai import MESSAGES, MODEL
from helpers_providers import entry_point

import otel_tokens
from otel_tokens import errors
from otel_tokens import names as n
from otel_tokens.instrumentation.openai import LIBRARY, OpenAIInstrumentor

ENTRY_POINT = "otel_tokens_openai"


@pytest.fixture
def instrument(telemetry: Any) -> Iterator[Any]:
    """``instrument()`` with the in-memory providers; always uninstrumented afterwards."""

    def start() -> list[str]:
        return otel_tokens.instrument(
            telemetry.tracer_provider,
            telemetry.meter_provider,
            telemetry.logger_provider,
            raise_internal_errors=True,
        )

    yield start
    gc.collect()
    otel_tokens.uninstrument()
    errors.configure(None, False)


@pytest.fixture
def originals() -> dict[tuple[Any, str], Any]:
    """Every (class, method) the instrumentor patches, with the SDK's own function."""
    pairs = OpenAIInstrumentor().patched()
    assert len(pairs) == len(LIBRARY.endpoints)  # every endpoint exists in the installed SDK
    return {(cls, name): inspect.getattr_static(cls, name) for cls, name in pairs}


def _chat(client: Any) -> Any:
    return client.chat.completions.create(model=MODEL, messages=MESSAGES)


def test_uninstrument_restores_every_original(
    instrument: Any, originals: dict[tuple[Any, str], Any], telemetry: Any, make_openai_client: Any
) -> None:
    assert ENTRY_POINT in instrument()
    for (cls, name), original in originals.items():
        patched = inspect.getattr_static(cls, name)
        assert patched is not original, f"{cls.__name__}.{name} not patched"
        assert patched.__wrapped__ is original
    _chat(make_openai_client())
    assert len(telemetry.finished_spans()) == 1

    otel_tokens.uninstrument()

    for (cls, name), original in originals.items():
        assert inspect.getattr_static(cls, name) is original, f"{cls.__name__}.{name} not restored"
        assert getattr(cls, name) is original  # e.g. Completions.create is original
    reply = _chat(make_openai_client())
    assert type(reply).__name__ == "ChatCompletion"  # the SDK's object, no proxy any more
    assert len(telemetry.finished_spans()) == 1


def test_instrument_twice_is_idempotent(
    instrument: Any, originals: dict[tuple[Any, str], Any], telemetry: Any, make_openai_client: Any
) -> None:
    assert instrument() == instrument()
    OpenAIInstrumentor().instrument()  # the BaseInstrumentor entry point too
    for (cls, name), original in originals.items():
        assert inspect.getattr_static(cls, name).__wrapped__ is original  # wrapped exactly once
    _chat(make_openai_client())
    assert len(telemetry.finished_spans()) == 1
    assert telemetry.total(n.CALLS.name) == 1

    otel_tokens.uninstrument()  # one uninstrument undoes it all
    for (cls, name), original in originals.items():
        assert inspect.getattr_static(cls, name) is original


def test_existing_clients_are_instrumented(instrument: Any, telemetry: Any, make_openai_client: Any) -> None:
    client = make_openai_client()  # created before instrumenting: methods are patched on the classes
    instrument()
    _chat(client)
    [span] = telemetry.finished_spans()
    assert span.name == f"chat {MODEL}"


@pytest.mark.parametrize("value", [ENTRY_POINT, f"openai, {ENTRY_POINT} ,other"])
def test_disabled_instrumentations_env_skips_it(
    value: str,
    monkeypatch: pytest.MonkeyPatch,
    instrument: Any,
    originals: dict[tuple[Any, str], Any],
    telemetry: Any,
    make_openai_client: Any,
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", value)
    assert ENTRY_POINT not in instrument()
    for (cls, name), original in originals.items():
        assert inspect.getattr_static(cls, name) is original
    reply = _chat(make_openai_client())
    assert reply.choices[0].message.content
    assert telemetry.finished_spans() == []


def test_registered_as_opentelemetry_instrumentor_entry_point() -> None:
    assert entry_point(ENTRY_POINT) is OpenAIInstrumentor
    [requirement] = OpenAIInstrumentor().instrumentation_dependencies()
    assert requirement.startswith("openai")


_WITHOUT_OPENAI = textwrap.dedent(
    """
    import sys

    class BlockOpenAI:
        def find_spec(self, name, path=None, target=None):
            if name == "openai" or name.startswith("openai."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, BlockOpenAI())

    import otel_tokens
    from otel_tokens.instrumentation.openai import OpenAIInstrumentor

    otel_tokens.instrument()
    assert OpenAIInstrumentor().patched() == []
    with otel_tokens.task("still-works", team="platform"):
        pass
    otel_tokens.uninstrument()
    assert "openai" not in sys.modules
    print("ok")
    """
)


def test_package_works_without_openai() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _WITHOUT_OPENAI], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert "Traceback" not in result.stderr
