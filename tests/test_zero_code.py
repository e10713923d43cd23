"""Zero code change: ``opentelemetry-instrument python app.py`` instruments OpenAI calls through the
``otel_tokens_openai`` entry point (the app in tests/scripts/zero_code_app.py imports no otel-tokens)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from helpers_openai import MODEL, Tokens, fake_model

from otel_tokens import names as n
from otel_tokens.demo.fake_payloads import DEFAULT_OUTPUT

APP = Path(__file__).parent / "scripts" / "zero_code_app.py"
INSTRUMENT = Path(sys.executable).parent / "opentelemetry-instrument"
TOKENS = Tokens(prompt=31, completion=13)  # what the app's x-fake-* headers ask for


def _run(**env: str) -> tuple[str, list[dict[str, Any]]]:
    """Run the app under opentelemetry-instrument; (its reply line, the console-exported spans)."""
    assert INSTRUMENT.exists(), "opentelemetry-distro is a test dependency"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    environ.update(
        OTEL_SERVICE_NAME="zero-code-app",
        OTEL_TRACES_EXPORTER="console",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        **env,
    )
    result = subprocess.run(
        [str(INSTRUMENT), sys.executable, str(APP)],
        capture_output=True,
        text=True,
        timeout=60,
        env=environ,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    reply, spans, decoder = "", [], json.JSONDecoder()
    text, position = result.stdout, 0
    while position < len(text):
        if text.startswith("REPLY:", position):
            end = text.index("\n", position)
            reply, position = text[position + len("REPLY:") : end].strip(), end + 1
        elif text[position].isspace():
            position += 1
        else:
            span, position = decoder.raw_decode(text, position)
            spans.append(span)
    return reply, spans


def test_entry_point_is_installed() -> None:
    [entry] = entry_points(group="opentelemetry_instrumentor", name="otel_tokens_openai")
    assert entry.value == "otel_tokens.instrumentation.openai:OpenAIInstrumentor"
    assert entry.dist is not None and entry.dist.metadata["Name"] == "otel-tokens"


def test_opentelemetry_instrument_traces_openai_calls() -> None:
    reply, spans = _run()
    assert reply == DEFAULT_OUTPUT
    [span] = [s for s in spans if s["name"] == f"chat {MODEL}"]
    assert span["kind"] == "SpanKind.CLIENT"
    assert span["resource"]["attributes"]["service.name"] == "zero-code-app"
    attributes = span["attributes"]
    assert attributes[n.GEN_AI_PROVIDER_NAME] == "openai"
    assert attributes[n.GEN_AI_RESPONSE_MODEL] == fake_model(MODEL)
    assert attributes[n.ATTR_TASK] == n.UNLABELED_TASK
    assert attributes[n.ATTR_USAGE_SOURCE] == "provider"
    assert attributes[n.GEN_AI_USAGE_INPUT_TOKENS] == TOKENS.prompt
    assert attributes[n.GEN_AI_USAGE_OUTPUT_TOKENS] == TOKENS.completion
    assert attributes[n.ATTR_COST_PRICED] is True
    assert attributes[n.ATTR_COST_USD] == pytest.approx(TOKENS.cost(MODEL))


def test_disabled_instrumentations_env_is_honoured() -> None:
    reply, spans = _run(OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="otel_tokens_openai")
    assert reply == DEFAULT_OUTPUT
    assert [s for s in spans if s["name"].startswith("chat")] == []
