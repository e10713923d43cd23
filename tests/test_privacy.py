"""Metadata only by default: no prompt or completion text in any span, event, log or metric.

Calls through every OpenAI and Anthropic surface carry a distinctive prompt, completion
(``x-fake-output``) and user id; then everything exported is searched for them: finished spans
(attributes, events, status, links), OTel log records (the outcome events), the in-memory
metrics, a real ``/metrics`` scrape, and the Python log records of otel-tokens and OpenTelemetry.
Content appears only with ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``; user ids are
pseudonymized on spans when ``OTEL_TOKENS_OUTCOME_KEY`` is set, and never reach a metric.

Also: tests/test_waste_signals.py::test_no_prompt_content_in_exported_data (repeat detection).
"""

from __future__ import annotations

import base64
import gc
import hashlib
import hmac
import json
import logging
import urllib.request
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from conftest import instrumenting
from helpers_openai import Answer
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client import CollectorRegistry, generate_latest, start_http_server

import otel_tokens
from otel_tokens import names as n

PROMPT = "zebra-prompt-7731 please summarize my medical record"
COMPLETION = "quokka-completion-4410 the patient is fine"
USER = "alice.8842@example.com"
KEY = "privacy-test-key"
SECRETS = {"prompt": "zebra-prompt-7731", "completion": "quokka-completion-4410", "user id": USER}
CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
MODEL = "gpt-4o-mini"
CLAUDE = "claude-sonnet-4-6"
HEADERS = {"x-fake-output": COMPLETION}


class Exported:
    """Everything one instrumented session exported, as text to search."""

    def __init__(self, telemetry: Any, reader: InMemoryMetricReader, registry: CollectorRegistry) -> None:
        self.telemetry = telemetry
        self.reader = reader
        self.registry = registry

    def spans(self) -> str:
        return "\n".join(span.to_json() for span in self.telemetry.finished_spans())

    def events(self) -> str:
        return "\n".join(record.to_json() for record in self.telemetry.logs.get_finished_logs())

    def metrics(self) -> str:
        data = self.reader.get_metrics_data()
        # What /metrics serves (scraped over HTTP once, in the default-settings test).
        return (data.to_json() if data is not None else "") + generate_latest(self.registry).decode()

    def everything(self, caplog: pytest.LogCaptureFixture) -> dict[str, str]:
        logs = "\n".join(
            f"{r.getMessage()} {r.exc_text or ''}"
            for r in caplog.records
            if r.name.startswith(("otel_tokens", "opentelemetry"))
        )
        return {"spans": self.spans(), "events": self.events(), "metrics": self.metrics(), "logs": logs}


@pytest.fixture
def session(telemetry: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``session(**env)`` instruments with the in-memory pipeline plus a Prometheus reader, after
    setting the environment variables given (e.g. the capture-content opt-in)."""
    registry = CollectorRegistry()
    memory = InMemoryMetricReader()
    meter_provider = MeterProvider(
        metric_readers=[memory, PrometheusMetricReader(registry=registry)], shutdown_on_exit=False
    )
    telemetry.reader = memory  # so Telemetry.total() reads this meter provider

    with instrumenting(telemetry) as instrument:

        def start(**env: str) -> Exported:
            monkeypatch.delenv(CAPTURE, raising=False)
            monkeypatch.delenv("OTEL_TOKENS_OUTCOME_KEY", raising=False)
            for name, value in env.items():
                monkeypatch.setenv(name, value)
            instrument(meter_provider=meter_provider)
            return Exported(telemetry, memory, registry)

        yield start
    meter_provider.shutdown()


def _scrape(registry: CollectorRegistry) -> str:
    """A real ``/metrics`` endpoint on the registry, scraped once over HTTP."""
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10) as response:
            return str(response.read().decode())
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def clients(fake_llm: Any) -> Iterator[tuple[Any, Any, Any, Any]]:
    made = (
        openai.OpenAI(base_url=fake_llm.openai_base_url, api_key="test", max_retries=0),
        openai.AsyncOpenAI(base_url=fake_llm.openai_base_url, api_key="test", max_retries=0),
        anthropic.Anthropic(base_url=fake_llm.anthropic_base_url, api_key="test", max_retries=0),
        anthropic.AsyncAnthropic(base_url=fake_llm.anthropic_base_url, api_key="test", max_retries=0),
    )
    yield made
    made[0].close()
    made[2].close()


async def _every_surface(clients: tuple[Any, Any, Any, Any]) -> list[str]:
    """One call through each OpenAI and Anthropic surface, all with PROMPT and COMPLETION; returns
    the completions as the app saw them (and a ref, which the app stores)."""
    oai, aoai, anth, aanth = clients
    chat = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}], "extra_headers": HEADERS}
    claude = {
        "model": CLAUDE,
        "max_tokens": 64,
        "messages": [{"role": "user", "content": PROMPT}],
        "metadata": {"user_id": USER},
        "extra_headers": HEADERS,
    }
    seen = []
    with otel_tokens.task("triage", team="support") as run:
        reply = oai.chat.completions.create(user=USER, **chat)
        seen.append(reply.choices[0].message.content)
        seen.append(otel_tokens.outcome_ref(reply))
        seen.append((await aoai.chat.completions.create(user=USER, **chat)).choices[0].message.content)
        stream = oai.chat.completions.create(stream=True, user=USER, **chat)
        seen.append("".join(c.choices[0].delta.content or "" for c in stream if c.choices))
        seen.append(
            oai.responses.create(model=MODEL, input=PROMPT, user=USER, extra_headers=HEADERS).output_text
        )
        events = oai.responses.create(model=MODEL, input=PROMPT, stream=True, extra_headers=HEADERS)
        seen.append("".join(e.delta for e in events if e.type == "response.output_text.delta"))
        oai.embeddings.create(model="text-embedding-3-small", input=PROMPT, user=USER)
        seen.append(
            oai.completions.create(model="gpt-3.5-turbo-instruct", prompt=PROMPT, extra_headers=HEADERS)
            .choices[0]
            .text
        )
        seen.append(anth.messages.create(**claude).content[0].text)
        seen.append((await aanth.messages.create(**claude)).content[0].text)
        deltas = anth.messages.create(stream=True, **claude)
        seen.append("".join(e.delta.text for e in deltas if e.type == "content_block_delta"))
        with anth.messages.stream(**claude) as helper:
            seen.append(helper.get_final_text())
        run.mark_used()
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(**{**chat, "extra_headers": {**HEADERS, "x-fake-status": "400"}})
    return seen


def _found(exported: dict[str, str], *needles: str) -> dict[str, list[str]]:
    """For each needle, the exported kinds of data it appears in."""
    return {needle: [kind for kind, text in exported.items() if needle in text] for needle in needles}


async def test_no_content_or_user_id_in_anything_exported_by_default(
    session: Any, clients: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    exported = session()
    seen = await _every_surface(clients)
    gc.collect()

    completions = [s for s in seen if not s.startswith("ot1.")]
    assert completions == [COMPLETION] * len(completions)  # the app got the content
    everything = exported.everything(caplog)
    assert _found(everything, SECRETS["prompt"], SECRETS["completion"]) == {
        SECRETS["prompt"]: [],
        SECRETS["completion"]: [],
    }
    # Without a key, the user id the app passed is on spans as is, and only there.
    assert _found(everything, USER) == {USER: ["spans"]}
    # A ref carries labels and counts, never content.
    ref = next(s for s in seen if s.startswith("ot1."))
    payload = base64.urlsafe_b64decode(ref.split(".")[1] + "==").decode()
    assert not any(secret in payload for secret in SECRETS.values())
    otel_tokens.record_outcome(ref, "used")
    assert len(exported.telemetry.finished_spans()) == 12
    assert exported.telemetry.total(n.OUTCOME_CALLS.name) == 12  # every call was counted
    assert _found(exported.everything(caplog), *SECRETS.values())[SECRETS["completion"]] == []
    scraped = _scrape(exported.registry)
    assert "otel_tokens_outcome_calls_total" in scraped
    assert not any(secret in scraped for secret in SECRETS.values())


async def test_user_ids_are_pseudonymized_with_a_key_and_never_on_metrics(
    session: Any, clients: Any, caplog: pytest.LogCaptureFixture
) -> None:
    exported = session(OTEL_TOKENS_OUTCOME_KEY=KEY)
    await _every_surface(clients)
    gc.collect()

    pseudonym = hmac.new(KEY.encode(), USER.encode(), hashlib.sha256).hexdigest()[:32]
    everything = exported.everything(caplog)
    assert _found(everything, USER, pseudonym) == {USER: [], pseudonym: ["spans"]}
    users = [s.attributes.get(n.ENDUSER_ID) for s in exported.telemetry.finished_spans()]
    # Every surface given a user id (chat x3, responses, embeddings, anthropic x4) has its pseudonym.
    assert users.count(pseudonym) == 9
    assert set(users) == {pseudonym, None}


@pytest.mark.parametrize("value", ["true", "span_only", "span_and_event"])
async def test_content_on_spans_only_with_the_opt_in(
    session: Any, clients: Any, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    exported = session(**{CAPTURE: value})
    await _every_surface(clients)
    gc.collect()

    everything = exported.everything(caplog)
    assert _found(everything, SECRETS["prompt"], SECRETS["completion"]) == {
        SECRETS["prompt"]: ["spans"],
        SECRETS["completion"]: ["spans"],
    }
    spans = exported.telemetry.finished_spans()
    with_input = [s for s in spans if n.GEN_AI_INPUT_MESSAGES in (s.attributes or {})]
    with_output = [s for s in spans if n.GEN_AI_OUTPUT_MESSAGES in (s.attributes or {})]
    # Every prompt; the completions of non-streamed calls (streams are not accumulated).
    assert len(with_input) == 11  # not the embeddings call
    assert {s.attributes[n.GEN_AI_OPERATION_NAME] for s in with_output} == {"chat", "text_completion"}
    for span in with_output:
        assert COMPLETION in str(span.attributes[n.GEN_AI_OUTPUT_MESSAGES])


@pytest.mark.parametrize("value", ["false", "no_content", "0"])
async def test_content_stays_off_for_the_opt_out_values(
    session: Any, clients: Any, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    exported = session(**{CAPTURE: value})
    await _every_surface(clients)
    everything = exported.everything(caplog)
    assert _found(everything, SECRETS["prompt"], SECRETS["completion"]) == {
        SECRETS["prompt"]: [],
        SECRETS["completion"]: [],
    }


async def test_event_only_puts_no_content_on_spans(
    session: Any, clients: Any, caplog: pytest.LogCaptureFixture
) -> None:
    exported = session(**{CAPTURE: "event_only"})
    await _every_surface(clients)
    assert SECRETS["prompt"] not in exported.spans()


def test_a_failed_parse_does_not_copy_the_completion_into_the_span(
    session: Any, clients: Any, caplog: pytest.LogCaptureFixture
) -> None:
    exported = session()
    oai = clients[0]
    with pytest.raises(Exception, match="quokka") as caught:  # the SDK's own error quotes it
        oai.chat.completions.parse(
            model=MODEL,
            messages=[{"role": "user", "content": PROMPT}],
            response_format=Answer,
            extra_headers=HEADERS,  # not JSON: the SDK cannot parse it into Answer
        )
    assert caught.type.__name__ == "ValidationError"
    [span] = exported.telemetry.finished_spans()
    assert SECRETS["completion"] not in exported.spans()
    assert json.loads(span.to_json())["status"]["status_code"] == "ERROR"
