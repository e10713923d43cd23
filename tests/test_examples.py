"""Every example runs against the loopback fake server, as a user would run it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent.parent / "examples"


def _env(fake_llm, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(
        OPENAI_BASE_URL=fake_llm.openai_base_url,
        OPENAI_API_KEY="test",
        OTEL_TOKENS_PROMETHEUS_PORT="0",
        OTEL_TOKENS_OUTCOME_KEY="example-key",
        **extra,
    )
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, env=env, check=False)


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("quickstart.py", ["model said: Hello from the fake model.", "metrics: http://127.0.0.1:"]),
        ("web_handler_refs.py", ["draft: Hello from the fake model.", "accepted: {'recorded': True}"]),
        ("agent_loop.py", ["stopped: task 'research-agent' reached its budget: max_calls=5", "5 steps"]),
    ],
)
def test_example_runs(fake_llm, script: str, expected: list[str]) -> None:
    before = len(fake_llm.requests)
    result = _run([sys.executable, str(EXAMPLES / script)], _env(fake_llm))
    assert result.returncode == 0, result.stderr
    for line in expected:
        assert line in result.stdout
    assert len(fake_llm.requests) > before  # it really called the (fake) API


def test_zero_code_example_under_opentelemetry_instrument(fake_llm) -> None:
    launcher = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))
    assert launcher is not None, "opentelemetry-distro is a test dependency"
    env = _env(
        fake_llm,
        OTEL_TRACES_EXPORTER="console",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
    )
    result = _run([launcher, sys.executable, str(EXAMPLES / "zero_code.py")], env)
    assert result.returncode == 0, result.stderr
    assert "model said: Hello from the fake model." in result.stdout
    assert '"name": "chat gpt-4o-mini"' in result.stdout
    assert '"otel_tokens.task": "unlabeled"' in result.stdout
