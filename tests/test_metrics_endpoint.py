"""``otel_tokens.init()`` serves every metric of the registry on a real ``/metrics`` endpoint.

``init()`` sets global OTel providers, so the app runs in a subprocess
(``tests/scripts/metrics_app.py``) that makes calls triggering each metric against its own fake
LLM server; the test scrapes ``/metrics`` over HTTP like Prometheus would.
"""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from otel_tokens import names as n
from otel_tokens.demo.fake_payloads import DEFAULT_OUTPUT, MODEL_SUFFIX

SCRIPT = Path(__file__).parent / "scripts" / "metrics_app.py"
SCOPE_LABELS = {"otel_scope_name", "otel_scope_version", "otel_scope_schema_url"}
# The script sends the same request twice; the repeat metrics appear with the second one.
NOT_TRIGGERED = (n.REPEAT_CALLS, n.REPEAT_TOKENS)

Samples = dict[str, list[tuple[dict[str, str], float]]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _read_line(proc: subprocess.Popen[str], timeout: float = 60.0) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        proc.kill()
        pytest.fail(f"{SCRIPT.name} printed nothing within {timeout}s")
    line = proc.stdout.readline()
    if not line:
        _, err = proc.communicate(timeout=10)
        pytest.fail(f"{SCRIPT.name} exited early:\n{err}")
    return line


@pytest.fixture(scope="module")
def scrape() -> Iterator[tuple[str, str]]:
    """(content type, body) of one scrape of the app's /metrics."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "serve", str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = json.loads(_read_line(proc))["url"]
        assert url == f"http://127.0.0.1:{port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            yield response.headers["Content-Type"], response.read().decode()
    finally:
        _, err = proc.communicate("\n", timeout=30)
    assert proc.returncode == 0, err


@pytest.fixture(scope="module")
def samples(scrape: tuple[str, str]) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(scrape[1]):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return found


def _sample_name(spec: n.MetricSpec) -> str:
    return spec.prometheus + ("_bucket" if spec.kind == "histogram" else "")


def _value(samples: Samples, name: str, **labels: str) -> float:
    return sum(v for attrs, v in samples.get(name, []) if all(attrs.get(k) == w for k, w in labels.items()))


def test_prometheus_text_format(scrape: tuple[str, str]) -> None:
    content_type, body = scrape
    assert content_type.startswith("text/plain")
    assert 'service_name="metrics-e2e"' in body  # init(service_name=...) is the resource


@pytest.mark.parametrize(
    "spec", [s for s in n.METRICS if s not in NOT_TRIGGERED], ids=lambda spec: spec.prometheus
)
def test_metric_is_exposed_with_its_labels(spec: n.MetricSpec, samples: Samples) -> None:
    name = _sample_name(spec)
    assert name in samples, f"{name} is not on /metrics"
    exposed = set().union(*(attrs.keys() for attrs, _ in samples[name])) - SCOPE_LABELS - {"le"}
    expected = {label.replace(".", "_") for label in spec.labels}
    if spec is n.TOKEN_USAGE:
        expected.discard("error_type")  # failed calls have no usage, so no token point carries it
    assert exposed == expected
    if spec.kind == "histogram":
        assert _value(samples, spec.prometheus + "_count") > 0


@pytest.mark.parametrize("spec", NOT_TRIGGERED, ids=lambda spec: spec.prometheus)
def test_repeat_metrics_are_exposed(spec: n.MetricSpec, samples: Samples) -> None:
    # The script sends the same request twice: the second one is a repeat.
    assert _sample_name(spec) in samples


def test_each_event_is_counted_under_its_labels(samples: Samples) -> None:
    """What the script did once each (see tests/scripts/metrics_app.py), counted exactly once."""
    assert _value(samples, n.BUDGET_BLOCKS.prometheus, task="capped") == 1
    assert _value(samples, n.RUNAWAY_RUNS.prometheus, task="agent") == 1  # once per run, not per call
    assert _value(samples, n.REJECTED_REFS.prometheus, reason="bad_signature") == 1
    assert _value(samples, n.LABEL_OVERFLOWS.prometheus, label="task") == 1
    assert _value(samples, n.CALLS.prometheus, task=n.OVERFLOW_LABEL_VALUE) == 1
    assert _value(samples, n.INTERNAL_ERRORS.prometheus, stage="pricing") == 1
    assert _value(samples, n.UNPRICED_CALLS.prometheus, model="acme-private-9" + MODEL_SUFFIX) == 1
    assert _value(samples, n.CALLS.prometheus, status="error") == 2  # the 400 and the broken stream
    assert _value(samples, n.OUTCOME_CALLS.prometheus, outcome="error") == 2
    assert _value(samples, n.OUTCOME_CALLS.prometheus, outcome="used", task="triage", team="support") == 1
    assert _value(samples, n.PENDING_CALLS.prometheus) == 1  # the one response the app still holds
    ttfc = n.TIME_TO_FIRST_CHUNK.prometheus + "_count"
    assert _value(samples, ttfc) == 2  # both streams saw a first chunk
    assert _value(samples, ttfc, error_type="APIConnectionError") == 1
    for token_type in ("input", "output"):
        assert _value(samples, n.TOKENS.prometheus, task="triage", team="support", token_type=token_type) > 0


def test_port_already_taken_logs_one_error_and_calls_still_work() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(SCRIPT), "port-taken", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["content"] == DEFAULT_OUTPUT
    assert report["metrics_url"] is None
    assert "otel_tokens_openai" in report["instrumented"]
    problems = [(level, message) for level, message in report["logged"] if level in ("WARNING", "ERROR")]
    assert len(problems) == 1, problems
    level, message = problems[0]
    assert level == "ERROR" and f"127.0.0.1:{port}" in message
