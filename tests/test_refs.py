"""Outcome refs: recorded later, in this process or another; forged, altered, replayed or
expired refs are rejected and counted, never counted as outcomes.

Calls send ``x-fake-input-tokens: 100`` / ``x-fake-output-tokens: 20``: 120 billed tokens.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import otel_tokens
from otel_tokens import names, runtime
from otel_tokens.refs import InvalidRef, RefPayload, RefSigner

HEADERS = {"x-fake-input-tokens": "100", "x-fake-output-tokens": "20"}
TOKENS = 120
SCRIPT = Path(__file__).parent / "scripts" / "record_ref.py"
REJECTED = names.REJECTED_REFS.name
OUTCOME_CALLS = names.OUTCOME_CALLS.name


def chat(client, **kwargs):
    return client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], extra_headers=HEADERS, **kwargs
    )


def flip(ref: str, part: int) -> str:
    """``ref`` with one character changed in its payload (1) or signature (2)."""
    pieces = ref.split(".")
    text = pieces[part]
    pieces[part] = text[:5] + ("A" if text[5] != "A" else "B") + text[6:]
    return ".".join(pieces)


def record_elsewhere(outcome: str, *refs: str, key: str | None = "k", **env: str) -> dict:
    """Run tests/scripts/record_ref.py in a fresh interpreter and return its JSON report."""
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_TOKENS_")}
    child_env.update(env)
    if key is not None:
        child_env["OTEL_TOKENS_OUTCOME_KEY"] = key
    done = subprocess.run(
        [sys.executable, str(SCRIPT), outcome, *refs],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


# --- in this process -----------------------------------------------------------------------------


def test_ref_records_the_outcome_later_in_this_process(instrumented, openai_client, check_outcome) -> None:
    reply = chat(openai_client)
    assert reply.choices
    ref = otel_tokens.outcome_ref(reply)
    assert ref.startswith("ot1.")
    assert otel_tokens.outcome_ref(reply) == ref
    del reply  # released, but the ref holds the call open
    gc.collect()
    assert instrumented.outcome_events() == []
    otel_tokens.record_outcome(ref, "used")
    check_outcome(instrumented, instrumented.finished_spans()[0], "used", tokens=TOKENS)


def test_ref_of_a_stream_once_it_finished(instrumented, openai_client, check_outcome) -> None:
    stream = chat(openai_client, stream=True)
    with pytest.raises(ValueError, match="has not finished"):
        otel_tokens.outcome_ref(stream)
    assert len(list(stream)) > 0
    ref = otel_tokens.outcome_ref(stream)
    otel_tokens.record_outcome(ref, "discarded")
    check_outcome(instrumented, instrumented.finished_spans()[0], "discarded", tokens=TOKENS)


def test_no_ref_for_a_call_that_already_has_its_outcome(instrumented, openai_client) -> None:
    reply = chat(openai_client)
    otel_tokens.mark_used(reply)
    with pytest.raises(ValueError, match="already has its outcome"):
        otel_tokens.outcome_ref(reply)


def test_a_verdict_through_the_ref_after_one_on_the_response_is_ignored(instrumented, openai_client):
    reply = chat(openai_client)
    ref = otel_tokens.outcome_ref(reply)
    otel_tokens.mark_used(reply)
    with pytest.warns(RuntimeWarning, match="already has an outcome"):
        otel_tokens.record_outcome(ref, "discarded")
    assert instrumented.total(OUTCOME_CALLS) == 1
    assert instrumented.total(OUTCOME_CALLS, outcome="used") == 1


def test_replayed_ref_is_rejected_and_counted(instrumented, openai_client) -> None:
    ref = otel_tokens.outcome_ref(chat(openai_client))
    otel_tokens.record_outcome(ref, "used")
    with pytest.raises(InvalidRef, match="already recorded") as caught:
        otel_tokens.record_outcome(ref, "used")
    assert caught.value.reason == "replayed"
    assert instrumented.total(REJECTED, reason="replayed") == 1
    assert instrumented.total(OUTCOME_CALLS) == 1


@pytest.mark.parametrize(
    ("garbage", "reason"),
    [
        ("", "malformed"),
        ("chatcmpl-123", "malformed"),
        ("ot2.eyJ9.c2ln", "malformed"),
        ("ot1.eyJ9.c2ln.x", "malformed"),
        ("ot1.eyJ9.c2ln", "bad_signature"),
        ("ot1.\u00e9t\u00e9.c2ln", "malformed"),
        ("ot1." + "a" * 5000 + ".c2ln", "malformed"),
    ],
)
def test_garbage_is_rejected_and_counted(instrumented, garbage, reason) -> None:
    with pytest.raises(InvalidRef) as caught:
        otel_tokens.record_outcome(garbage, "used")
    assert isinstance(caught.value, ValueError)
    assert caught.value.reason == reason
    assert instrumented.total(REJECTED, reason=reason) == 1
    assert instrumented.total(OUTCOME_CALLS) == 0


@pytest.mark.parametrize("part", [1, 2], ids=["payload", "signature"])
def test_tampered_ref_is_rejected_and_the_real_one_still_works(instrumented, openai_client, part) -> None:
    ref = otel_tokens.outcome_ref(chat(openai_client))
    with pytest.raises(InvalidRef, match="forged or altered") as caught:
        otel_tokens.record_outcome(flip(ref, part), "used")
    assert caught.value.reason == "bad_signature"
    assert instrumented.total(REJECTED, reason="bad_signature") == 1
    otel_tokens.record_outcome(ref, "used")
    assert instrumented.total(OUTCOME_CALLS, outcome="used") == 1


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_any_single_character_change_is_rejected(data) -> None:
    signer = RefSigner("k", ttl_s=60)
    issued = 1_700_000_000.0
    ref = signer.issue(RefPayload("n1", {"task": "t"}, 120, 0.001, 1, 2, "chatcmpl-1", issued))
    position = data.draw(st.integers(0, len(ref) - 1))
    char = data.draw(st.characters(codec="utf-8").filter(lambda c: c != ref[position]))
    with pytest.raises(InvalidRef):
        signer.verify(ref[:position] + char + ref[position + 1 :], now=issued)
    assert signer.verify(ref, now=issued).tokens == 120  # the untouched ref stays valid


def test_expired_ref_is_rejected_and_its_call_inferred(instrument_with, openai_client, check_outcome):
    tel = instrument_with(ref_ttl_s=0.2)
    reply = chat(openai_client)
    assert reply.choices
    ref = otel_tokens.outcome_ref(reply)
    time.sleep(0.3)
    runtime.get().tracker.sweep()  # without a key only this process could record it: inferred
    check_outcome(tel, tel.finished_spans()[0], "unmarked", tokens=TOKENS)
    with pytest.raises(InvalidRef, match="expired") as caught:
        otel_tokens.record_outcome(ref, "used")
    assert caught.value.reason == "expired"
    assert tel.total(REJECTED, reason="expired") == 1
    assert tel.total(OUTCOME_CALLS) == 1


def test_a_local_ref_never_recorded_is_flushed_at_shutdown(instrumented, openai_client, check_outcome):
    ref = otel_tokens.outcome_ref(chat(openai_client))
    otel_tokens.uninstrument()
    check_outcome(instrumented, instrumented.finished_spans()[0], "unread", tokens=TOKENS)
    with pytest.raises(RuntimeError, match="not instrumented"):
        otel_tokens.record_outcome(ref, "used")


def test_past_max_pending_the_oldest_local_ref_is_inferred(instrument_with, openai_client) -> None:
    tel = instrument_with(max_pending=1)
    first = otel_tokens.outcome_ref(chat(openai_client))
    second = otel_tokens.outcome_ref(chat(openai_client))
    assert tel.total(OUTCOME_CALLS, outcome="unread") == 1  # the bound gave the first its outcome
    with pytest.warns(RuntimeWarning, match="already has an outcome"):
        otel_tokens.record_outcome(first, "used")
    otel_tokens.record_outcome(second, "used")
    assert tel.total(OUTCOME_CALLS) == 2
    assert tel.total(OUTCOME_CALLS, outcome="used") == 1


def test_a_shared_key_ref_is_left_to_whoever_holds_the_key(instrument_with, openai_client) -> None:
    tel = instrument_with(outcome_key="k")
    otel_tokens.outcome_ref(chat(openai_client))
    otel_tokens.uninstrument()  # another process may record it: no inferred outcome here
    assert tel.total(OUTCOME_CALLS) == 0


# --- in another process --------------------------------------------------------------------------


def test_ref_recorded_in_another_process_keeps_the_calls_labels(instrument_with, openai_client) -> None:
    tel = instrument_with(outcome_key="k")
    with otel_tokens.task("triage", team="support") as run:
        reply = chat(openai_client)
        assert reply.choices
        ref = otel_tokens.outcome_ref(reply)
        run.mark_discarded()  # the ref holds the call: the run's verdict does not apply to it
    assert tel.outcome_events() == []
    [span] = tel.finished_spans()

    report = record_elsewhere("used", ref)

    assert report["results"] == [{"ok": True}]
    labels = {
        "provider": "openai",
        "model": "gpt-4o-mini-2026-01-01",
        "operation": "chat",
        "task": "triage",
        "team": "support",
        "outcome": "used",
    }
    assert report["points"][OUTCOME_CALLS] == [[labels, 1]]
    assert report["points"][names.OUTCOME_TOKENS.name] == [[labels, TOKENS]]
    [[cost_labels, cost]] = report["points"][names.OUTCOME_COST_USD.name]
    assert cost_labels == labels
    assert cost == pytest.approx(span.attributes[names.ATTR_COST_USD])
    [event] = report["events"]
    assert (event["trace_id"], event["span_id"]) == (span.context.trace_id, span.context.span_id)
    assert event["attributes"][names.GEN_AI_EVALUATION_SCORE_LABEL] == "used"
    assert event["attributes"][names.GEN_AI_EVALUATION_SCORE_VALUE] == 1.0
    assert event["attributes"][names.GEN_AI_RESPONSE_ID] == reply.id
    otel_tokens.uninstrument()
    assert tel.total(OUTCOME_CALLS) == 0  # counted once, over there


def test_another_process_rejects_altered_garbage_and_replayed_refs(instrument_with, openai_client):
    instrument_with(outcome_key="k")
    ref = otel_tokens.outcome_ref(chat(openai_client))
    report = record_elsewhere("used", flip(ref, 1), flip(ref, 2), "garbage", ref, ref)
    assert [r.get("reason") for r in report["results"]] == [
        "bad_signature",
        "bad_signature",
        "malformed",
        None,
        "replayed",
    ]
    assert report["results"][3] == {"ok": True}
    rejected = {labels["reason"]: n for labels, n in report["points"][REJECTED]}
    assert rejected == {"bad_signature": 2, "malformed": 1, "replayed": 1}
    assert [n for _, n in report["points"][OUTCOME_CALLS]] == [1]


def test_a_ref_issued_without_a_key_is_rejected_elsewhere(instrumented, openai_client) -> None:
    ref = otel_tokens.outcome_ref(chat(openai_client))
    report = record_elsewhere("used", ref, key=None)
    [result] = report["results"]
    assert result["reason"] == "bad_signature"
    assert "valid only in the issuing process" in result["message"]
    assert report["points"][OUTCOME_CALLS] == []
    assert report["points"][REJECTED] == [[{"reason": "bad_signature"}, 1]]


def test_an_expired_ref_is_rejected_elsewhere(instrument_with, openai_client) -> None:
    instrument_with(outcome_key="k", ref_ttl_s=0.2)
    ref = otel_tokens.outcome_ref(chat(openai_client))
    time.sleep(0.3)
    report = record_elsewhere("used", ref, OTEL_TOKENS_REF_TTL="0.2")
    [result] = report["results"]
    assert result["reason"] == "expired"
    assert report["points"][OUTCOME_CALLS] == []
    assert report["points"][REJECTED] == [[{"reason": "expired"}, 1]]
