"""When calls resolve: task-run verdicts, nested runs, TTL expiry, shutdown flush, bounds.

Calls send ``x-fake-input-tokens: 100`` / ``x-fake-output-tokens: 20`` (120 billed tokens);
calls that must stay apart in the metrics get distinct response models.
"""

from __future__ import annotations

import gc
import time

import pytest

import otel_tokens
from otel_tokens import names, runtime
from otel_tokens.records import Request, Response, Usage

HEADERS = {"x-fake-input-tokens": "100", "x-fake-output-tokens": "20"}
TOKENS = 120
MSGS = [{"role": "user", "content": "hello"}]
PENDING = names.PENDING_CALLS.name
OUTCOME_CALLS = names.OUTCOME_CALLS.name


def chat(client, model_tag="a", **kwargs):
    headers = {**HEADERS, "x-fake-response-model": f"gpt-4o-mini-{model_tag}"}
    return client.chat.completions.create(model="gpt-4o-mini", messages=MSGS, extra_headers=headers, **kwargs)


def spans_by_model(tel):
    return {s.attributes["gen_ai.response.model"].rsplit("-", 1)[1]: s for s in tel.finished_spans()}


# --- task-run verdicts ---------------------------------------------------------------------------


def test_run_used_verdict_resolves_at_run_end(instrumented, openai_client, check_outcome) -> None:
    with otel_tokens.task("triage", team="support") as run:
        read = chat(openai_client, "read")
        assert read.choices[0].message.content
        unread = chat(openai_client, "unread")
        assert instrumented.total(PENDING) == 2
        del read, unread  # an agent loop drops each response and judges the run at the end
        gc.collect()
        assert instrumented.outcome_events() == []
        run.mark_used()
        assert instrumented.outcome_events() == []  # applied when the run ends
    spans = spans_by_model(instrumented)
    assert spans["read"].attributes["otel_tokens.task"] == "triage"
    assert spans["read"].attributes["otel_tokens.team"] == "support"
    check_outcome(instrumented, spans["read"], "used", tokens=TOKENS)
    # The blanket verdict never turns a never-read output into used.
    check_outcome(instrumented, spans["unread"], "unread", tokens=TOKENS)
    assert instrumented.total(PENDING) == 0


def test_run_discarded_verdict(instrumented, openai_client, check_outcome) -> None:
    with otel_tokens.task("triage") as run:
        assert chat(openai_client, "read").choices
        kept_unread = chat(openai_client, "unread")
        run.mark_discarded()
    spans = spans_by_model(instrumented)
    check_outcome(instrumented, spans["read"], "discarded", tokens=TOKENS)
    check_outcome(instrumented, spans["unread"], "discarded", tokens=TOKENS)
    del kept_unread


def test_a_calls_own_verdict_beats_the_runs(instrumented, openai_client, check_outcome) -> None:
    with otel_tokens.task("triage") as run:
        rejected = chat(openai_client, "rejected")
        assert rejected.choices
        otel_tokens.mark_discarded(rejected)
        otel_tokens.mark_used(chat(openai_client, "unreadused"))  # only its own verdict can do this
        assert len(instrumented.outcome_events()) == 2  # own verdicts apply at once, inside the run
        run.mark_used()
    spans = spans_by_model(instrumented)
    check_outcome(instrumented, spans["rejected"], "discarded", tokens=TOKENS)
    check_outcome(instrumented, spans["unreadused"], "used", tokens=TOKENS)


def test_run_without_verdict_infers_at_its_end(instrumented, openai_client, check_outcome) -> None:
    with otel_tokens.task("triage"):
        read = chat(openai_client, "read")
        assert read.choices
        unread = chat(openai_client, "unread")
    # Still referenced, but the run is over: nothing will judge them now.
    spans = spans_by_model(instrumented)
    check_outcome(instrumented, spans["read"], "unmarked", tokens=TOKENS)
    check_outcome(instrumented, spans["unread"], "unread", tokens=TOKENS)
    assert read.id != unread.id


def test_run_verdict_given_twice_is_ignored(instrumented, openai_client, check_outcome) -> None:
    with otel_tokens.task("triage") as run:
        assert chat(openai_client).choices
        run.mark_used()
        with pytest.warns(RuntimeWarning, match="task run 'triage' already has an outcome") as caught:
            run.mark_discarded()
        assert caught[0].filename == __file__
    check_outcome(instrumented, instrumented.finished_spans()[0], "used", tokens=TOKENS)
    with pytest.warns(RuntimeWarning):
        otel_tokens.mark_discarded(run)  # after its end: too late, and said so


async def test_async_run_and_decorator(instrumented, async_openai_client, check_outcome) -> None:
    @otel_tokens.task("summarize", team="docs")
    async def summarize(tag: str) -> str:
        reply = await chat(async_openai_client, tag)
        return reply.choices[0].message.content

    async with otel_tokens.task("digest") as run:
        assert (await chat(async_openai_client, "outer")).choices
        run.mark_used()
    assert await summarize("decorated")
    spans = spans_by_model(instrumented)
    assert spans["decorated"].attributes["otel_tokens.task"] == "summarize"
    check_outcome(instrumented, spans["outer"], "used", tokens=TOKENS)
    check_outcome(instrumented, spans["decorated"], "unmarked", tokens=TOKENS)


def test_stream_broken_off_in_a_run_and_released_after_it_gets_the_runs_verdict(
    instrumented, openai_client, check_outcome
) -> None:
    with otel_tokens.task("chat") as run:
        stream = chat(openai_client, "late", stream=True)
        for _chunk in stream:
            break  # enough: the stream ends only when it is released, after the run
        run.mark_used()
    del stream
    gc.collect()
    check_outcome(instrumented, spans_by_model(instrumented)["late"], "used", tokens=0)


# --- nested runs ---------------------------------------------------------------------------------


def test_inner_run_without_verdict_defers_to_the_outer_verdict(instrumented, openai_client, check_outcome):
    with otel_tokens.task("agent") as outer:
        with otel_tokens.task("tool-call"):
            assert chat(openai_client, "inner").choices
        assert instrumented.outcome_events() == []  # the inner run ended, the outer will judge
        assert chat(openai_client, "outer").choices
        outer.mark_used()
    spans = spans_by_model(instrumented)
    assert spans["inner"].attributes["otel_tokens.task"] == "tool-call"  # innermost task labels
    check_outcome(instrumented, spans["inner"], "used", tokens=TOKENS)
    check_outcome(instrumented, spans["outer"], "used", tokens=TOKENS)


def test_inner_run_verdict_wins_over_the_outer(instrumented, openai_client, check_outcome) -> None:
    with otel_tokens.task("agent") as outer:
        with otel_tokens.task("draft") as inner:
            assert chat(openai_client, "inner").choices
            inner.mark_discarded()
        assert len(instrumented.outcome_events()) == 1  # resolved when the inner run ended
        outer.mark_used()
    check_outcome(instrumented, spans_by_model(instrumented)["inner"], "discarded", tokens=TOKENS)


def test_nested_runs_without_any_verdict_infer(instrumented, openai_client, check_outcome) -> None:
    with otel_tokens.task("agent"), otel_tokens.task("step"):
        unread = chat(openai_client, "inner")
    check_outcome(instrumented, spans_by_model(instrumented)["inner"], "unread", tokens=TOKENS)
    del unread


# --- TTL, shutdown and bounds --------------------------------------------------------------------


def test_ttl_expiry_by_sweep(instrument_with, openai_client, check_outcome) -> None:
    tel = instrument_with(outcome_ttl_s=0.2)
    rt = runtime.get()
    rt.tracker.stop()  # this test sweeps by hand
    read = chat(openai_client, "read")
    assert read.choices
    unread = chat(openai_client, "unread")
    assert rt.tracker.sweep() == 0  # too young
    time.sleep(0.25)
    assert rt.tracker.sweep() == 2
    spans = spans_by_model(tel)
    check_outcome(tel, spans["read"], "unmarked", tokens=TOKENS)
    check_outcome(tel, spans["unread"], "unread", tokens=TOKENS)
    assert tel.total(PENDING) == 0
    with pytest.warns(RuntimeWarning):
        otel_tokens.mark_used(read)  # its outcome was decided by the TTL
    del read, unread
    gc.collect()
    assert tel.total(OUTCOME_CALLS) == 2


def test_ttl_expiry_by_the_sweeper_inside_a_live_run(instrument_with, openai_client, check_outcome):
    tel = instrument_with(outcome_ttl_s=0.2)
    with otel_tokens.task("long-job") as run:
        assert chat(openai_client).choices
        run.mark_used()
        deadline = time.monotonic() + 5
        while not tel.outcome_events() and time.monotonic() < deadline:
            time.sleep(0.02)
        check_outcome(tel, tel.finished_spans()[0], "used", tokens=TOKENS)  # with the run's verdict
    assert tel.total(OUTCOME_CALLS) == 1


def test_uninstrument_flushes_pending_calls(instrumented, openai_client, check_outcome) -> None:
    read = chat(openai_client, "read")
    assert read.choices
    unread = chat(openai_client, "unread")
    assert instrumented.total(PENDING) == 2
    otel_tokens.uninstrument()
    spans = spans_by_model(instrumented)
    check_outcome(instrumented, spans["read"], "unmarked", tokens=TOKENS)
    check_outcome(instrumented, spans["unread"], "unread", tokens=TOKENS)
    otel_tokens.mark_used(read)  # not instrumented any more: a no-op, never an error
    del read, unread
    gc.collect()
    assert instrumented.total(OUTCOME_CALLS) == 2


def test_pending_gauge_goes_up_and_back_to_zero(instrumented, openai_client) -> None:
    replies = [chat(openai_client, str(i)) for i in range(3)]
    assert instrumented.total(PENDING) == 3
    otel_tokens.mark_used(replies[0])
    assert instrumented.total(PENDING) == 2
    replies.clear()
    gc.collect()
    assert instrumented.total(PENDING) == 0
    assert instrumented.total(OUTCOME_CALLS) == 3


def test_past_max_pending_the_oldest_call_is_inferred(instrument_with, openai_client, check_outcome):
    tel = instrument_with(max_pending=2)
    replies = [chat(openai_client, tag) for tag in ("first", "second", "third")]
    assert tel.total(PENDING) == 2
    check_outcome(tel, spans_by_model(tel)["first"], "unread", tokens=TOKENS)
    with pytest.warns(RuntimeWarning):
        otel_tokens.mark_used(replies[0])
    otel_tokens.mark_used(replies[2])
    assert tel.total(OUTCOME_CALLS) == 2


def test_a_long_run_does_not_keep_every_call(instrumented) -> None:
    # Below HTTP: the real call lifecycle, 5000 calls in one run, each judged at once.
    rt = runtime.get()
    response = Response(
        response_id=None, model="gpt-4o-mini", usage=Usage(input_tokens=100, output_tokens=20)
    )
    with otel_tokens.task("batch-job") as run:
        for _ in range(5000):
            call = rt.begin(Request(provider="openai", operation="chat", model="gpt-4o-mini"))
            rt.tracker.verdict(rt.complete(call, response), "used")
            assert len(run.calls) <= 2048
    assert instrumented.total(OUTCOME_CALLS, outcome="used", task="batch-job") == 5000
    assert instrumented.total(names.OUTCOME_TOKENS.name, outcome="used") == 5000 * TOKENS
