"""Outcomes of single calls: verdicts on responses and streams, inference at release, bad input.

Every call sends ``x-fake-input-tokens: 100`` and ``x-fake-output-tokens: 20``, so each
resolved call must carry 120 outcome tokens and the cost its span reports.
"""

from __future__ import annotations

import gc

import openai
import pytest

import otel_tokens
from otel_tokens import names
from otel_tokens.pricing import PriceBook
from otel_tokens.records import Usage

HEADERS = {"x-fake-input-tokens": "100", "x-fake-output-tokens": "20", "x-fake-output": "one two three"}
TOKENS = 120
MSGS = [{"role": "user", "content": "hello"}]
PENDING = names.PENDING_CALLS.name


def chat(client, **kwargs):
    headers = {**HEADERS, **kwargs.pop("extra_headers", {})}
    return client.chat.completions.create(model="gpt-4o-mini", messages=MSGS, extra_headers=headers, **kwargs)


# --- explicit verdicts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("give", "outcome"),
    [
        (otel_tokens.mark_used, "used"),
        (otel_tokens.mark_discarded, "discarded"),
        (lambda r: otel_tokens.record_outcome(r, "used"), "used"),
        (lambda r: otel_tokens.record_outcome(r, otel_tokens.Outcome.DISCARDED), "discarded"),
    ],
)
def test_verdict_on_a_response_resolves_it_at_once(instrumented, openai_client, check_outcome, give, outcome):
    reply = chat(openai_client)
    assert reply.choices[0].message.content == "one two three"
    assert instrumented.total(PENDING) == 1
    give(reply)
    # Resolved while the response is still alive: a verdict does not wait for release.
    check_outcome(instrumented, instrumented.only_span(), outcome, tokens=TOKENS)
    assert instrumented.total(PENDING) == 0
    del reply
    gc.collect()
    assert len(instrumented.outcome_events()) == 1


def test_outcome_cost_is_the_calls_price(instrumented, openai_client) -> None:
    otel_tokens.mark_used(chat(openai_client))
    expected = PriceBook().cost("openai", "gpt-4o-mini", Usage(input_tokens=100, output_tokens=20))
    assert expected is not None
    assert expected > 0
    assert instrumented.total(names.OUTCOME_COST_USD.name, outcome="used") == pytest.approx(expected)
    assert instrumented.total(names.COST_USD.name) == pytest.approx(expected)


def test_own_verdict_can_make_a_never_read_output_used(instrumented, openai_client, check_outcome) -> None:
    otel_tokens.mark_used(chat(openai_client))
    check_outcome(instrumented, instrumented.only_span(), "used", tokens=TOKENS)


def test_verdict_on_a_consumed_stream(instrumented, openai_client, check_outcome) -> None:
    stream = chat(openai_client, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream)
    assert text == "one two three"
    assert instrumented.total(PENDING) == 1
    otel_tokens.mark_discarded(stream)
    check_outcome(instrumented, instrumented.only_span(), "discarded", tokens=TOKENS)
    assert instrumented.total(PENDING) == 0


def test_verdict_during_stream_iteration_applies_at_its_end(instrumented, openai_client, check_outcome):
    stream = chat(openai_client, stream=True)
    for i, _chunk in enumerate(stream):
        if i == 0:
            otel_tokens.mark_used(stream)
            assert instrumented.outcome_events() == []  # the call is still running
    check_outcome(instrumented, instrumented.only_span(), "used", tokens=TOKENS)


async def test_async_response_and_stream_verdicts(instrumented, async_openai_client, check_outcome):
    reply = await chat(async_openai_client, extra_headers={"x-fake-response-model": "gpt-4o-mini-a"})
    otel_tokens.mark_discarded(reply)
    stream = await chat(
        async_openai_client, stream=True, extra_headers={"x-fake-response-model": "gpt-4o-mini-b"}
    )
    seen = 0
    async for _chunk in stream:
        seen += 1
        if seen == 1:
            otel_tokens.mark_used(stream)
            assert len(instrumented.outcome_events()) == 1  # only the first call's
    assert seen == 3
    by_model = {s.attributes["gen_ai.response.model"]: s for s in instrumented.finished_spans()}
    check_outcome(instrumented, by_model["gpt-4o-mini-a"], "discarded", tokens=TOKENS)
    check_outcome(instrumented, by_model["gpt-4o-mini-b"], "used", tokens=TOKENS)


def test_stream_helper_verdict(instrumented, openai_client, check_outcome) -> None:
    with openai_client.chat.completions.stream(
        model="gpt-4o-mini", messages=MSGS, extra_headers=HEADERS
    ) as s:
        final = s.get_final_completion()
    assert final.choices[0].message.content == "one two three"
    otel_tokens.mark_used(s)
    check_outcome(instrumented, instrumented.only_span(), "used", tokens=TOKENS)


def test_record_outcome_by_response_id(instrumented, openai_client, check_outcome) -> None:
    reply = chat(openai_client)
    response_id = reply.id
    otel_tokens.record_outcome(outcome="used", response_id=response_id)
    check_outcome(instrumented, instrumented.only_span(), "used", tokens=TOKENS)
    with pytest.raises(ValueError, match="no call awaiting an outcome"):
        otel_tokens.record_outcome(outcome="used", response_id=response_id)


# --- verdicts given twice and bad input ----------------------------------------------------------


def test_second_verdict_is_ignored_with_a_warning(instrumented, openai_client, check_outcome) -> None:
    reply = chat(openai_client)
    otel_tokens.mark_used(reply)
    with pytest.warns(RuntimeWarning, match="already has an outcome") as caught:
        otel_tokens.mark_discarded(reply)
    assert caught[0].filename == __file__  # the warning points at the app's line, not ours
    check_outcome(instrumented, instrumented.only_span(), "used", tokens=TOKENS)
    assert instrumented.total(names.OUTCOME_CALLS.name) == 1


def test_second_verdict_during_stream_iteration_is_ignored(instrumented, openai_client, check_outcome):
    stream = chat(openai_client, stream=True)
    next(iter(stream))
    otel_tokens.mark_discarded(stream)
    with pytest.warns(RuntimeWarning, match="this stream already has an outcome"):
        otel_tokens.mark_used(stream)
    list(stream)
    check_outcome(instrumented, instrumented.only_span(), "discarded", tokens=TOKENS)


@pytest.mark.parametrize(
    "target",
    [object(), {"id": "chatcmpl-x"}, 42, b"prefix-not-a-ref"],
    ids=["object", "dict", "int", "bytes"],
)
def test_marking_what_no_instrumented_call_produced_is_a_value_error(instrumented, target) -> None:
    with pytest.raises(ValueError, match="not produced by an instrumented LLM call"):
        otel_tokens.mark_used(target)
    assert instrumented.total(names.OUTCOME_CALLS.name) == 0


def test_an_sdk_object_built_by_hand_is_rejected(instrumented) -> None:
    from openai.types.chat import ChatCompletion

    made = ChatCompletion.model_construct(id="chatcmpl-made-up", choices=[], created=0, model="m")
    with pytest.raises(ValueError, match="ChatCompletion object was not produced"):
        otel_tokens.mark_discarded(made)


@pytest.mark.parametrize("outcome", ["unread", "unmarked", "error", "USED", "", "use", 1])
def test_invalid_outcome_lists_the_allowed_values(instrumented, openai_client, outcome) -> None:
    reply = chat(openai_client)
    with pytest.raises(ValueError, match="outcome must be one of 'used', 'discarded'"):
        otel_tokens.record_outcome(reply, outcome)
    otel_tokens.mark_used(reply)  # the bad call left the call open for a real verdict
    assert instrumented.total(names.OUTCOME_CALLS.name, outcome="used") == 1


def test_missing_target_or_outcome_is_a_type_error(instrumented, openai_client) -> None:
    reply = chat(openai_client)
    with pytest.raises(TypeError, match="outcome is required"):
        otel_tokens.record_outcome(reply)
    with pytest.raises(TypeError, match="needs a target"):
        otel_tokens.record_outcome(outcome="used")
    with pytest.raises(TypeError, match="not both"):
        otel_tokens.record_outcome(reply, "used", response_id=reply.id)


# --- inference -----------------------------------------------------------------------------------


def test_response_dropped_unread_is_unread(instrumented, openai_client, check_outcome) -> None:
    reply = chat(openai_client)
    assert reply.id.startswith("chatcmpl-")  # metadata: not a read
    assert instrumented.total(PENDING) == 1
    del reply
    gc.collect()
    check_outcome(instrumented, instrumented.only_span(), "unread", tokens=TOKENS)
    assert instrumented.total(PENDING) == 0


def test_response_read_and_dropped_is_unmarked(instrumented, openai_client, check_outcome) -> None:
    reply = chat(openai_client)
    assert reply.choices[0].message.content
    del reply
    gc.collect()
    check_outcome(instrumented, instrumented.only_span(), "unmarked", tokens=TOKENS)


def test_stream_never_iterated_is_unread(instrumented, openai_client, check_outcome) -> None:
    stream = chat(openai_client, stream=True)
    del stream
    gc.collect()
    span = instrumented.only_span()
    # No chunk was read, so the provider's usage never arrived: the tokens are unknown (0).
    assert span.attributes["otel_tokens.usage.source"] == "missing"
    check_outcome(instrumented, span, "unread", tokens=0)
    assert instrumented.total(PENDING) == 0


def test_stream_iterated_and_dropped_is_unmarked(instrumented, openai_client, check_outcome) -> None:
    stream = chat(openai_client, stream=True)
    assert len(list(stream)) == 3
    assert instrumented.outcome_events() == []  # finished, but still alive: someone may judge it
    del stream
    gc.collect()
    check_outcome(instrumented, instrumented.only_span(), "unmarked", tokens=TOKENS)


def test_failed_call_resolves_as_error(instrumented, openai_client, check_outcome) -> None:
    with pytest.raises(openai.InternalServerError):
        chat(openai_client, extra_headers={"x-fake-status": "500"})
    span = instrumented.only_span()
    check_outcome(instrumented, span, "error", tokens=0)
    assert instrumented.total(names.CALLS.name, status="error") == 1
    assert instrumented.total(PENDING) == 0


def test_failed_stream_resolves_as_error(instrumented, openai_client, check_outcome) -> None:
    stream = chat(openai_client, stream=True, extra_headers={"x-fake-stream-error-after": "1"})
    with pytest.raises(openai.APIConnectionError):
        list(stream)
    check_outcome(instrumented, instrumented.only_span(), "error", tokens=0)
    assert instrumented.total(names.CALLS.name, status="error") == 1
    with pytest.warns(RuntimeWarning, match="already has an outcome"):
        otel_tokens.mark_used(stream)
