"""Task runs label every LLM call made inside them, wherever the call runs, with bounded labels."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import Any

import httpx2
import openai
import pytest
from helpers_openai import EMBEDDING_MODEL, MESSAGES, MODEL, fake_model
from opentelemetry import context, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

import otel_tokens
from otel_tokens import names as n


def _chat(client: Any) -> Any:
    return client.chat.completions.create(model=MODEL, messages=MESSAGES)


def _labelled(telemetry: Any) -> list[tuple[Any, Any]]:
    """(task, team) of every finished span, in order."""
    return [
        (s.attributes.get(n.ATTR_TASK), s.attributes.get(n.ATTR_TEAM)) for s in telemetry.finished_spans()
    ]


def _call_labels(telemetry: Any) -> set[tuple[str, str]]:
    return {(a["task"], a["team"]) for a, _ in telemetry.points(n.CALLS.name)}


def test_context_manager_labels_spans_and_metrics(instrumented: Any, make_openai_client: Any) -> None:
    client = make_openai_client()
    with otel_tokens.task("email-triage", team="support") as run:
        _chat(client)
    _chat(client)
    assert isinstance(run, otel_tokens.TaskRun)
    assert _labelled(instrumented) == [("email-triage", "support"), (n.UNLABELED_TASK, None)]
    assert _call_labels(instrumented) == {("email-triage", "support"), (n.UNLABELED_TASK, "")}
    assert instrumented.total(n.TOKENS.name, task="email-triage", team="support", model=fake_model(MODEL)) > 0


async def test_async_with(instrumented: Any, make_openai_client: Any) -> None:
    client = make_openai_client(aio=True)
    async with otel_tokens.task("summarize", team="docs"):
        await _chat(client)
    assert _labelled(instrumented) == [("summarize", "docs")]


def test_decorates_sync_functions(instrumented: Any, make_openai_client: Any) -> None:
    client = make_openai_client()

    @otel_tokens.task("code-review", team="platform")
    def review(diff: str) -> str:
        """Review a diff."""
        return str(_chat(client).choices[0].message.content) + diff

    assert review.__name__ == "review" and review.__doc__ == "Review a diff."
    assert review("!").endswith("!")
    assert review("?").endswith("?")  # every invocation is a fresh run
    _chat(client)
    assert _labelled(instrumented) == [("code-review", "platform")] * 2 + [(n.UNLABELED_TASK, None)]


async def test_decorates_async_functions(instrumented: Any, make_openai_client: Any) -> None:
    client = make_openai_client(aio=True)

    @otel_tokens.task("classify")
    async def classify() -> str:
        return str((await _chat(client)).choices[0].message.content)

    assert await classify() == await classify()
    assert _labelled(instrumented) == [("classify", None)] * 2


def test_nested_runs_innermost_task_wins(instrumented: Any, make_openai_client: Any) -> None:
    client = make_openai_client()
    with otel_tokens.task("agent", team="support"):
        _chat(client)
        with otel_tokens.task("tool-call"):  # no team of its own: the enclosing run's
            _chat(client)
            with otel_tokens.task("lookup", team="search"):
                _chat(client)
        _chat(client)
    assert _labelled(instrumented) == [
        ("agent", "support"),
        ("tool-call", "support"),
        ("lookup", "search"),
        ("agent", "support"),
    ]


async def test_propagates_to_asyncio_tasks_and_copied_contexts(
    instrumented: Any, make_openai_client: Any
) -> None:
    aclient, client = make_openai_client(aio=True), make_openai_client()
    with otel_tokens.task("fan-out", team="research"):
        await asyncio.gather(*(asyncio.create_task(_chat(aclient)) for _ in range(3)))
        ctx = contextvars.copy_context()
    worker = threading.Thread(target=ctx.run, args=(_chat, client))  # threads need the copied context
    worker.start()
    worker.join()
    assert _labelled(instrumented) == [("fan-out", "research")] * 4


def test_crosses_services_with_w3c_baggage(instrumented: Any, make_openai_client: Any) -> None:
    propagator = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
    tracer = instrumented.tracer_provider.get_tracer("upstream-service")
    carrier: dict[str, str] = {}
    with otel_tokens.task("answer question ✓", team="search"), tracer.start_as_current_span("upstream") as up:
        propagator.inject(carrier)
    assert "baggage" in carrier and "traceparent" in carrier

    # "Another service": a fresh context built only from the carrier.
    token = context.attach(propagator.extract(carrier, context=context.Context()))
    try:
        _chat(make_openai_client())
    finally:
        context.detach(token)

    [_, span] = instrumented.finished_spans()
    assert (span.attributes[n.ATTR_TASK], span.attributes[n.ATTR_TEAM]) == ("answer question ✓", "search")
    assert span.parent is not None and span.parent.span_id == up.get_span_context().span_id
    assert span.context.trace_id == up.get_span_context().trace_id
    assert _call_labels(instrumented) == {("answer question ✓", "search")}
    assert trace.get_current_span() is trace.INVALID_SPAN  # nothing leaked into this context


def test_distinct_tasks_over_the_cap_overflow_to_other(instrumented: Any, fake_llm: Any) -> None:
    cap = 200  # OTEL_TOKENS_MAX_LABEL_VALUES default
    # A new connection per call: the fake server's keep-alive replies are slow to flush.
    client = openai.OpenAI(
        base_url=fake_llm.openai_base_url,
        api_key="test",
        max_retries=0,
        http_client=openai.DefaultHttpxClient(limits=httpx2.Limits(max_keepalive_connections=0)),
    )
    names = [f"task-{i:03d}" for i in range(cap + 2)]
    for name in [*names, names[0]]:
        with otel_tokens.task(name):
            client.embeddings.create(model=EMBEDDING_MODEL, input="x")
    client.close()

    calls = {a["task"]: v for a, v in instrumented.points(n.CALLS.name)}
    assert {name: calls[name] for name in names[:cap]} == dict.fromkeys(names[1:cap], 1) | {names[0]: 2}
    assert calls[n.OVERFLOW_LABEL_VALUE] == 2  # the two tasks past the cap
    assert len(calls) == cap + 1
    assert instrumented.points(n.LABEL_OVERFLOWS.name) == [({n.LABEL_LABEL: "task"}, 2)]
    span_tasks = [s.attributes[n.ATTR_TASK] for s in instrumented.finished_spans()]
    assert span_tasks == [*names, names[0]]  # spans keep the real names


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"name": ""}, ValueError, r"^name must not be empty"),
        ({"name": "   "}, ValueError, r"^name must not be empty"),
        ({"name": "x" * 129}, ValueError, r"^name is 129 characters long; the limit is 128"),
        ({"name": 42}, TypeError, r"^name must be a str, not int"),
        ({"name": None}, TypeError, r"^name must be a str, not NoneType"),
        ({"name": "line\nbreak"}, ValueError, r"^name must not contain control characters"),
        ({"name": "nul\x00"}, ValueError, r"^name must not contain control characters"),
        ({"name": "ok", "team": ""}, ValueError, r"^team must not be empty"),
        ({"name": "ok", "team": "t" * 129}, ValueError, r"^team is 129 characters long"),
        ({"name": "ok", "team": b"bytes"}, TypeError, r"^team must be a str, not bytes"),
        ({"name": "ok", "team": "tab\t"}, ValueError, r"^team must not contain control characters"),
    ],
)
def test_bad_names_raise_clear_errors(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        otel_tokens.task(**kwargs)


def test_longest_allowed_names_are_accepted(instrumented: Any, make_openai_client: Any) -> None:
    name, team = "n" * 128, "t" * 128
    with otel_tokens.task(name, team=team):
        _chat(make_openai_client())
    assert _labelled(instrumented) == [(name, team)]
