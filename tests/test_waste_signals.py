"""Repeated prompts, runaway runs and budget guards through real instrumented calls."""

from __future__ import annotations

import pytest

import otel_tokens
from otel_tokens import names
from otel_tokens.runtime import get

MESSAGES = [{"role": "user", "content": "Check the status page again"}]
HEADERS = {"x-fake-input-tokens": "30", "x-fake-output-tokens": "10"}


def _call(client, **kwargs):
    return client.chat.completions.create(
        model="gpt-4o-mini", messages=kwargs.pop("messages", MESSAGES), extra_headers=HEADERS, **kwargs
    )


def test_identical_requests_are_repeats_on_spans_and_metrics(instrumented, openai_client) -> None:
    with otel_tokens.task("poller", team="growth"):
        for _ in range(3):
            _call(openai_client, temperature=0.1)
        _call(openai_client, temperature=0.9)  # changed parameter: not a repeat
    spans = instrumented.finished_spans()
    assert [bool((s.attributes or {}).get(names.ATTR_REPEAT)) for s in spans] == [False, True, True, False]
    assert instrumented.total("otel_tokens.repeat_calls", task="poller", team="growth") == 2
    assert instrumented.total("otel_tokens.repeat_tokens", task="poller") == 2 * 40


def test_no_prompt_content_in_exported_data(instrumented, openai_client) -> None:
    secret = "the launch code is 0000"
    for _ in range(2):
        _call(openai_client, messages=[{"role": "user", "content": secret}])
    exported = repr([dict(s.attributes or {}) for s in instrumented.finished_spans()])
    exported += repr(instrumented.reader.get_metrics_data().to_json())
    assert secret not in exported
    assert "launch" not in exported


def test_runaway_run_is_counted_once_with_a_span_event(instrument_with, openai_client) -> None:
    telemetry = instrument_with(runaway_calls=3)
    with otel_tokens.task("agent", team="growth"):
        for i in range(6):
            _call(openai_client, messages=[{"role": "user", "content": f"step {i}"}])
    with otel_tokens.task("agent", team="growth"):
        _call(openai_client)
    assert telemetry.total("otel_tokens.runaway_runs", task="agent", team="growth") == 1
    events = [e for s in telemetry.finished_spans() for e in s.events if e.name == "otel_tokens.runaway_run"]
    assert len(events) == 1
    assert events[0].attributes["otel_tokens.run.calls"] == 4


def test_budget_guard_blocks_the_call_that_would_exceed(instrumented, openai_client, fake_llm) -> None:
    before = len(fake_llm.requests)
    with otel_tokens.task("capped", max_calls=2) as run:
        _call(openai_client)
        _call(openai_client)
        with pytest.raises(otel_tokens.BudgetExceeded, match=r"task 'capped'.*max_calls=2") as blocked:
            _call(openai_client)
        run.mark_used()
    assert blocked.value.limit == "max_calls"
    assert len(fake_llm.requests) - before == 2  # the third request was never sent
    assert instrumented.total("otel_tokens.budget_blocks", task="capped") == 1


def test_token_budget_and_nested_runs_have_their_own_budgets(instrumented, openai_client) -> None:
    with otel_tokens.task("outer", max_tokens=100):
        with otel_tokens.task("inner", max_tokens=50):
            _call(openai_client)  # 40 tokens: inner 40/50, outer 40/100
            _call(openai_client)  # inner 80 -> its next call is refused
            with pytest.raises(otel_tokens.BudgetExceeded, match="inner"):
                _call(openai_client)
        _call(openai_client)  # outer 120 now
        with pytest.raises(otel_tokens.BudgetExceeded, match=r"outer.*max_tokens=100"):
            _call(openai_client)
    assert get() is not None
    assert instrumented.total("otel_tokens.budget_blocks") == 2


def test_without_limits_nothing_is_ever_raised(instrumented, openai_client) -> None:
    with otel_tokens.task("free"):
        for _ in range(5):
            _call(openai_client)
    assert instrumented.total("otel_tokens.calls", task="free") == 5
    assert instrumented.total("otel_tokens.budget_blocks") == 0
