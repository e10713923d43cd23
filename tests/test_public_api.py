"""The public API surface is short, sorted and stable."""

from __future__ import annotations

import otel_tokens


def test_all_is_sorted_and_exported() -> None:
    assert otel_tokens.__all__ == sorted(otel_tokens.__all__)
    for name in otel_tokens.__all__:
        assert hasattr(otel_tokens, name), name


def test_design_api_is_present() -> None:
    for name in (
        "init",
        "instrument",
        "uninstrument",
        "task",
        "mark_used",
        "mark_discarded",
        "record_outcome",
        "outcome_ref",
        "BudgetExceeded",
    ):
        assert name in otel_tokens.__all__


def test_chat_call_smoke(instrumented, openai_client) -> None:
    reply = openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "a b"}]
    )
    assert reply.choices[0].message.content == "Hello from the fake model."
    otel_tokens.mark_used(reply)
    assert instrumented.total("otel_tokens.outcome_calls", outcome="used") == 1
    assert len(instrumented.finished_spans()) == 1
