"""Hostile input, property-based: task and team names, label values, baggage, refs, prices override
files, and provider responses of any shape.

Misuse of the API gets a clear ``ValueError`` / ``TypeError`` naming the argument; nothing an
app, an upstream service or a provider sends makes an instrumented LLM call raise or behave
differently; label sets stay bounded whatever the values.

Example-based cases live beside the features: bad names (test_tasks.py::
test_bad_names_raise_clear_errors), single-character ref tampering, replay and expiry
(test_refs.py), misused verdicts (test_outcomes.py).
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
import yaml
from helpers_openai import normalized
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from opentelemetry import baggage, context
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics

import otel_tokens
from otel_tokens import names as n
from otel_tokens.demo import fake_payloads as payloads
from otel_tokens.demo.fakes.hostile import hostile_url
from otel_tokens.pricing import PricesFileError, load_overrides
from otel_tokens.refs import InvalidRef, RefPayload, RefSigner, _b64encode
from otel_tokens.tasks import MAX_NAME_LENGTH, LabelCap, current_labels

FAST = settings(max_examples=200, deadline=None)
E2E = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
REASONS = {"malformed", "bad_signature", "expired", "replayed"}


def _is_valid_name(value: str) -> bool:
    return bool(value.strip()) and len(value) <= MAX_NAME_LENGTH and value.isprintable()


# --- task and team names --------------------------------------------------------------------------


names_of_every_kind = st.one_of(
    st.text(max_size=200),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=20),
    st.text(st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Cs", "Co"]), min_size=1, max_size=5),
    st.text(min_size=MAX_NAME_LENGTH - 2, max_size=MAX_NAME_LENGTH + 2),
)


@FAST
@given(name=names_of_every_kind, team=st.one_of(st.none(), names_of_every_kind))
@example(name="x" * 10_000_000, team=None)  # huge: refused by its length, at once
@example(name="ok", team="line\nbreak")
def test_names_are_accepted_or_refused_with_a_clear_error(name: str, team: str | None) -> None:
    try:
        run = otel_tokens.task(name, team=team)
    except ValueError as exc:
        message = str(exc)
        assert message.startswith(("name ", "team ")), message
        wrong = "name" if not _is_valid_name(name) else "team"
        assert message.startswith(wrong)
        assert len(message) < 20 * MAX_NAME_LENGTH  # a huge name is not echoed back whole
        return
    assert _is_valid_name(name)
    assert team is None or _is_valid_name(team)
    assert (run.name, run.team) == (name, team)


@FAST
@given(
    value=st.one_of(
        st.integers(), st.floats(), st.binary(), st.lists(st.text()), st.dictionaries(st.text(), st.text())
    )
)
def test_names_that_are_not_strings_are_type_errors(value: Any) -> None:
    with pytest.raises(TypeError, match=r"^name must be a str, not "):
        otel_tokens.task(value)
    with pytest.raises(TypeError, match=r"^team must be a str, not "):
        otel_tokens.task("ok", team=value)


@FAST
@given(
    limit=st.one_of(
        st.floats(allow_nan=True), st.integers(-(10**30), 10**30), st.booleans(), st.text(max_size=3)
    )
)
def test_budget_limits_are_non_negative_numbers(limit: Any) -> None:
    valid = not isinstance(limit, (bool, str)) and limit >= 0  # NaN is not >= 0
    for argument in ("max_tokens", "max_cost_usd", "max_calls"):
        if valid:
            assert getattr(otel_tokens.task("t", **{argument: limit}), argument) == limit
        else:
            with pytest.raises(ValueError, match=f"^{argument} must be a non-negative number"):
                otel_tokens.task("t", **{argument: limit})


@FAST
@given(task_value=st.text(max_size=300), team_value=st.text(max_size=300))
def test_upstream_baggage_never_raises_and_only_valid_names_label(task_value: str, team_value: str) -> None:
    ctx = baggage.set_baggage(n.BAGGAGE_TASK, task_value, context.Context())
    ctx = baggage.set_baggage(n.BAGGAGE_TEAM, team_value, ctx)
    token = context.attach(ctx)
    try:
        task_name, team, run = current_labels()
    finally:
        context.detach(token)
    assert run is None
    assert task_name == (task_value if _is_valid_name(task_value) else n.UNLABELED_TASK)
    assert team == (team_value if _is_valid_name(team_value) else None)


# --- label values stay bounded ------------------------------------------------------------------------


@FAST
@given(values=st.lists(st.text(max_size=400), max_size=60))
def test_a_label_cap_keeps_at_most_its_limit_of_short_values(values: list[str]) -> None:
    overflows: list[str] = []
    cap = LabelCap("model", 5, overflows.append)
    mapped = [cap(value) for value in values]
    kept = set(mapped) - {n.OVERFLOW_LABEL_VALUE}
    assert len(kept) <= 5
    assert all(len(value) <= 256 for value in kept)
    assert all(m in (v, n.OVERFLOW_LABEL_VALUE) for m, v in zip(mapped, values, strict=True))
    assert len(overflows) == mapped.count(n.OVERFLOW_LABEL_VALUE)
    assert [cap(value) for value in values] == mapped  # stable: a value keeps its label


@pytest.fixture
def hostile_openai(fake_llm: Any) -> Iterator[Any]:
    client = openai.OpenAI(base_url=fake_llm.openai_base_url, api_key="test", max_retries=0)
    yield lambda spec: client.with_options(base_url=hostile_url(fake_llm.url, spec) + "/v1")
    client.close()


@pytest.fixture
def hostile_anthropic(fake_llm: Any) -> Iterator[Any]:
    client = anthropic.Anthropic(base_url=fake_llm.anthropic_base_url, api_key="test", max_retries=0)
    yield lambda spec: client.with_options(base_url=hostile_url(fake_llm.url, spec))
    client.close()


CAP = 5
label_values = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=300)


@E2E
@given(tasks=st.lists(label_values, min_size=1, max_size=4), model=label_values)
def test_label_sets_stay_bounded_whatever_the_names_and_models(
    tolerant: Any, hostile_openai: Any, tasks: list[str], model: str
) -> None:
    tel = tolerant(max_label_values=CAP)  # the first example instruments; the others reuse it
    client = hostile_openai({"set": {"model": model}})  # the provider answers with any model name
    for name in tasks:
        with contextlib.suppress(ValueError), otel_tokens.task(name, team=name):
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    for label in ("task", "team", "model"):
        values = {attrs[label] for attrs, _ in tel.points(n.CALLS.name)}
        assert len(values - {n.OVERFLOW_LABEL_VALUE}) <= CAP
        assert all(len(value) <= 256 for value in values)


# --- refs ---------------------------------------------------------------------------------------------

SIGNER_KEY = "hostile-key"
ISSUED = 1_700_000_000.0


def _ref(signer: RefSigner, **changes: Any) -> str:
    payload = RefPayload("n1", {"task": "t", "model": "m"}, 120, 0.001, 1, 2, "chatcmpl-1", ISSUED)
    return signer.issue(RefPayload(**{**payload.__dict__, **changes}))


@FAST
@given(text=st.text(max_size=600))
@example(text="ot1..")
@example(text="ot1.e30.")
@example(text="ot1." + "A" * 5000 + ".x")
def test_any_string_is_refused_as_a_ref_with_a_reason(text: str) -> None:
    signer = RefSigner(SIGNER_KEY, ttl_s=60)
    with pytest.raises(InvalidRef) as caught:
        signer.verify(text, now=ISSUED)
    assert caught.value.reason in REASONS
    assert isinstance(caught.value, ValueError)


@FAST
@given(raw=st.binary(max_size=300))
def test_random_bytes_are_refused_whatever_their_encoding(raw: bytes) -> None:
    signer = RefSigner(SIGNER_KEY, ttl_s=60)
    with pytest.raises(TypeError, match="ref must be a str"):
        signer.verify(raw, now=ISSUED)  # type: ignore[arg-type]
    with pytest.raises(InvalidRef):
        signer.verify(raw.decode("latin-1"), now=ISSUED)


def test_every_truncation_of_a_ref_is_refused() -> None:
    signer = RefSigner(SIGNER_KEY, ttl_s=60)
    ref = _ref(signer)
    for end in range(len(ref)):
        with pytest.raises(InvalidRef) as caught:
            signer.verify(ref[:end], now=ISSUED)
        assert caught.value.reason in ("malformed", "bad_signature")
    assert signer.verify(ref, now=ISSUED).tokens == 120


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**80), 2**80),
        st.floats(),
        st.text(max_size=20),
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
GOOD_BODY = {
    "n": "n1",
    "l": {"task": "t"},
    "k": 120,
    "c": 0.001,
    "t": "0" * 31 + "1",
    "s": "0" * 15 + "2",
    "i": ISSUED,
}


@FAST
@given(field=st.sampled_from(sorted(GOOD_BODY)), value=json_values)
@example(field="c", value=math.nan)
@example(field="i", value=math.inf)
@example(field="k", value=True)
@example(field="t", value="-1")
@example(field="c", value=10**400)
def test_a_signed_payload_with_any_field_changed_is_accepted_or_refused_as_malformed(
    field: str, value: Any
) -> None:
    # Only a key holder can sign: this is a buggy (or older) issuer, not an attacker.
    signer = RefSigner(SIGNER_KEY, ttl_s=10**9)
    encoded = _b64encode(json.dumps({**GOOD_BODY, field: value}).encode())
    ref = f"ot1.{encoded}.{signer._sign(encoded)}"
    try:
        payload = signer.verify(ref, now=ISSUED)
    except InvalidRef as exc:
        refused: str | None = exc.reason
    else:
        refused = None
    if refused is not None:
        assert refused in ("malformed", "expired")
        return
    # What passes is safe for the outcome metrics and the event's span context.
    assert isinstance(payload.tokens, int) and 0 <= payload.tokens < 2**53
    assert math.isfinite(payload.cost_usd) and payload.cost_usd >= 0
    assert 0 <= payload.trace_id < 2**128 and 0 <= payload.span_id < 2**64
    assert all(isinstance(v, str) for v in payload.labels.values())
    assert math.isfinite(payload.issued)


@FAST
@given(age=st.floats(-(10**7), 10**7), ttl=st.floats(1, 10**6))
def test_refs_expire_after_their_ttl_and_are_not_from_the_future(age: float, ttl: float) -> None:
    signer = RefSigner(SIGNER_KEY, ttl_s=ttl)
    ref = _ref(signer)
    now = ISSUED + age
    expired = age > ttl or age < -300  # issued in the future beyond the clock skew allowed
    assume(abs(age - ttl) > 1e-3 and abs(age + 300) > 1e-3)  # not on a boundary (float rounding)
    if expired:
        with pytest.raises(InvalidRef) as caught:
            signer.verify(ref, now=now)
        assert caught.value.reason == "expired"
    else:
        assert signer.verify(ref, now=now).nonce == "n1"


def test_a_ref_is_recorded_once_per_process_and_refused_after(instrumented: Any, openai_client: Any) -> None:
    reply = openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
    )
    ref = otel_tokens.outcome_ref(reply)
    otel_tokens.record_outcome(ref, "used")
    for _ in range(3):
        with pytest.raises(InvalidRef, match="already recorded"):
            otel_tokens.record_outcome(ref, "used")
    assert instrumented.total(n.REJECTED_REFS.name, reason="replayed") == 3
    assert instrumented.total(n.OUTCOME_CALLS.name) == 1


# --- API misuse ------------------------------------------------------------------------------------------


@FAST
@given(outcome=st.one_of(st.text(max_size=20), st.integers(), st.none(), st.binary(max_size=5)))
def test_outcomes_other_than_used_or_discarded_are_refused(outcome: Any) -> None:
    assume(outcome not in ("used", "discarded"))
    with pytest.raises((ValueError, TypeError), match="outcome"):
        otel_tokens.record_outcome(otel_tokens.task("t"), outcome)


@E2E
@given(
    target=st.one_of(
        st.integers(),
        st.binary(max_size=10),
        st.lists(st.integers(), max_size=3),
        st.floats(),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    )
)
def test_verdicts_on_what_no_call_produced_are_value_errors(tolerant: Any, target: Any) -> None:
    tolerant()
    for verdict in (otel_tokens.mark_used, otel_tokens.mark_discarded, otel_tokens.outcome_ref):
        with pytest.raises(ValueError, match="was not produced by an instrumented LLM call"):
            verdict(target)


# --- prices override files ----------------------------------------------------------------------------

yaml_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**1100),
        st.floats(),
        st.text(max_size=10),
    ),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.one_of(st.text(max_size=8), st.sampled_from(["input", "output", "cache_read", "models"])),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


def _check_prices(path: Any) -> None:
    """load_overrides gives finite non-negative per-token rates, or a PricesFileError: nothing else."""
    try:
        rates = load_overrides(path)
    except PricesFileError as exc:
        message: str | None = str(exc)
    else:
        message = None
    if message is not None:
        assert message.startswith("OTEL_TOKENS_PRICES: ")
        return
    for rate in rates.values():
        for value in (rate.input, rate.cache_read, rate.cache_write, rate.output, rate.reasoning):
            assert math.isfinite(value) and value >= 0


@FAST
@given(models=yaml_values)
@example(models={"m": {"input": float("inf"), "output": 1}})
@example(models={"m": {"input": 10**400, "output": 1}})
@example(models={"m": {"input": ".nan", "output": 1}})
def test_any_prices_document_loads_or_is_refused_clearly(tmp_path_factory: Any, models: Any) -> None:
    path = tmp_path_factory.mktemp("prices") / "prices.yaml"
    path.write_text(yaml.safe_dump({"models": models}, allow_unicode=True))
    _check_prices(path)


@FAST
@given(raw=st.binary(max_size=400))
@example(raw=b"models: &a\n  m: *a\n")  # a recursive alias
@example(raw=b"models:\n  m: {input: .inf, output: 1}\n")
@example(raw=b"\xff\xfe")
def test_any_bytes_as_a_prices_file_load_or_are_refused_clearly(tmp_path_factory: Any, raw: bytes) -> None:
    path = tmp_path_factory.mktemp("prices") / "prices.yaml"
    path.write_bytes(raw)
    _check_prices(path)


def test_every_truncation_of_a_prices_file_loads_or_is_refused_clearly(tmp_path: Any) -> None:
    full = (
        "models:\n  my-finetune: {input: 0.30, cache_read: 0.03, output: 1.20}\n"
        "  été-modèle:\n    input: 1\n    output: 2.5\n    reasoning: 3\n"
    ).encode()
    path = tmp_path / "prices.yaml"
    for end in range(len(full) + 1):
        path.write_bytes(full[:end])
        _check_prices(path)
    assert load_overrides(path)["été-modèle"].reasoning == pytest.approx(3e-6)


# --- provider responses of any shape --------------------------------------------------------------


def _built(build: Any, stream: bool) -> Any:
    body = {"model": "gpt-4o-mini", "stream": stream, "stream_options": {"include_usage": True}}
    headers = {"x-fake-cached-tokens": "2", "x-fake-reasoning-tokens": "1", "x-fake-cache-write-tokens": "3"}
    return build(payloads.parse_controls(headers, body), body, 1, 1_700_000_000)


def _events(build: Any) -> list[tuple[str | None, Any]]:
    """(SSE event name, JSON data) of a built-in stream; "[DONE]" kept as text."""
    found = []
    for event in _built(build, True):
        try:
            found.append((event.event, json.loads(event.data)))
        except ValueError:
            found.append((event.event, event.data))
    return found


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**31), 2**31),
    st.floats(),
    st.text(max_size=12),
)
any_json = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


# Ids and models that are not strings are dropped by the records (tested apart, below).
STRING_FIELDS = frozenset({"id", "model"})
strings = st.one_of(st.none(), st.text(max_size=20))


def shaped(template: Any) -> st.SearchStrategy[Any]:
    """JSON shaped like ``template``: each field kept (shaped in turn), replaced by any JSON value,
    or left out."""
    if isinstance(template, dict):
        optional = {
            k: st.one_of(st.just(v), strings) if k in STRING_FIELDS else st.one_of(shaped(v), any_json)
            for k, v in template.items()
        }
        return st.fixed_dictionaries({}, optional=optional)
    if isinstance(template, list):
        return st.lists(shaped(template[0]) if template else any_json, max_size=2)
    return st.one_of(st.just(template), any_json)


def shaped_stream(events: list[tuple[str | None, Any]]) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.tuples(
        *(shaped(data).map(lambda d, e=name: {"event": e, "data": d}) for name, data in events)
    ).map(list)


def _comparable(result: Any) -> str:
    if hasattr(result, "__next__"):
        result = list(result)
    return json.dumps(normalized(result), sort_keys=True, default=repr)


def _settled(call: Any) -> tuple[str, Any]:
    """What the caller sees: ("ok", the result as comparable text) or ("raised", exception type)."""
    try:
        return "ok", _comparable(call())
    except Exception as exc:
        return "raised", type(exc)


def _same_with_and_without_otel_tokens(tel: Any, create: Any, **kwargs: Any) -> None:
    """``create(**kwargs)`` through the instrumented method and through the original one that wrapt
    keeps as ``__wrapped__``: the caller sees the same; one span; metrics sane and exportable."""
    before = len(tel.finished_spans())
    expected = _settled(lambda: create.__wrapped__(**kwargs))
    assert len(tel.finished_spans()) == before
    assert _settled(lambda: create(**kwargs)) == expected  # the same result, or the same exception type
    gc.collect()
    [span] = tel.finished_spans()[before:]
    for key, value in (span.attributes or {}).items():
        if key.startswith("gen_ai.usage."):
            assert isinstance(value, int) and value >= 0, (key, value)
    assert all(value >= 0 for _, value in tel.points(n.TOKENS.name))
    assert all(math.isfinite(value) and value >= 0 for _, value in tel.points(n.COST_USD.name))
    encode_metrics(tel.reader.get_metrics_data())  # every metric still exports over OTLP


CHAT = _built(payloads.chat_completion, False)
RESPONSE = _built(payloads.response, False)
MESSAGE = _built(payloads.message, False)
CHAT_EVENTS = _events(payloads.chat_completion)
MESSAGE_EVENTS = _events(payloads.message)
ASK = [{"role": "user", "content": "x"}]


@E2E
@given(body=shaped(CHAT))
def test_openai_chat_fed_any_json_shaped_like_a_completion(
    tolerant: Any, hostile_openai: Any, body: Any
) -> None:
    client = hostile_openai({"body": body})
    _same_with_and_without_otel_tokens(
        tolerant(), client.chat.completions.create, model="gpt-4o-mini", messages=ASK
    )


@E2E
@given(events=shaped_stream(CHAT_EVENTS))
def test_openai_chat_stream_fed_any_json_shaped_like_chunks(
    tolerant: Any, hostile_openai: Any, events: Any
) -> None:
    client = hostile_openai({"events": events})
    _same_with_and_without_otel_tokens(
        tolerant(),
        client.chat.completions.create,
        model="gpt-4o-mini",
        messages=ASK,
        stream=True,
        stream_options={"include_usage": True},
    )


@E2E
@given(body=shaped(RESPONSE))
def test_openai_responses_fed_any_json_shaped_like_a_response(
    tolerant: Any, hostile_openai: Any, body: Any
) -> None:
    client = hostile_openai({"body": body})
    _same_with_and_without_otel_tokens(tolerant(), client.responses.create, model="gpt-4o-mini", input="x")


@E2E
@given(body=shaped(MESSAGE))
def test_anthropic_fed_any_json_shaped_like_a_message(
    tolerant: Any, hostile_anthropic: Any, body: Any
) -> None:
    client = hostile_anthropic({"body": body})
    _same_with_and_without_otel_tokens(
        tolerant(), client.messages.create, model="claude-sonnet-4-6", max_tokens=9, messages=ASK
    )


@E2E
@given(events=shaped_stream(MESSAGE_EVENTS))
def test_anthropic_stream_fed_any_json_shaped_like_events(
    tolerant: Any, hostile_anthropic: Any, events: Any
) -> None:
    client = hostile_anthropic({"events": events})
    _same_with_and_without_otel_tokens(
        tolerant(), client.messages.create, model="claude-sonnet-4-6", max_tokens=9, messages=ASK, stream=True
    )


NON_STRINGS = [1, [None], {"a": 1}]


@pytest.mark.parametrize("value", [[None], {"a": 1}], ids=repr)
def test_a_response_id_that_is_not_a_string(tolerant: Any, hostile_openai: Any, value: Any) -> None:
    tel = tolerant()
    client = hostile_openai({"body": {**CHAT, "id": value}})
    _same_with_and_without_otel_tokens(tel, client.chat.completions.create, model="gpt-4o-mini", messages=ASK)
    otel_tokens.uninstrument()  # flushes: must not raise
    assert tel.total(n.OUTCOME_CALLS.name) == 1
    assert tel.points(n.INTERNAL_ERRORS.name) == []


@pytest.mark.parametrize("value", NON_STRINGS, ids=repr)
def test_a_model_that_is_not_a_string(tolerant: Any, hostile_openai: Any, value: Any) -> None:
    tel = tolerant()
    client = hostile_openai({"body": {**CHAT, "model": value}})
    _same_with_and_without_otel_tokens(tel, client.chat.completions.create, model="gpt-4o-mini", messages=ASK)
    otel_tokens.uninstrument()
    assert tel.total(n.OUTCOME_CALLS.name) == 1
    assert {attrs["model"] for attrs, _ in tel.points(n.CALLS.name)} <= {
        "gpt-4o-mini",
        n.OVERFLOW_LABEL_VALUE,
    }


def test_an_absurd_token_count_keeps_metrics_exportable(tolerant: Any, hostile_openai: Any) -> None:
    tel = tolerant()
    client = hostile_openai({"set": {"usage.prompt_tokens": 2**64, "usage.completion_tokens": 2**63}})
    _same_with_and_without_otel_tokens(tel, client.chat.completions.create, model="gpt-4o-mini", messages=ASK)


def test_a_response_whose_output_text_fails_still_has_its_usage(tolerant: Any, hostile_openai: Any) -> None:
    tel = tolerant()
    client = hostile_openai({"set": {"output": None}})  # the SDK's output_text then raises TypeError
    _same_with_and_without_otel_tokens(tel, client.responses.create, model="gpt-4o-mini", input="x")
    [span] = tel.finished_spans()
    assert span.attributes[n.ATTR_USAGE_SOURCE] == "provider"
    assert tel.points(n.INTERNAL_ERRORS.name) == []


def test_a_user_ids_pseudonym_never_signs_a_ref(instrument_with: Any, openai_client: Any) -> None:
    # The key pseudonymizes user ids too: a user id chosen as a ref payload must not get, as its
    # pseudonym on the span, that payload's signature.
    tel = instrument_with(outcome_key=SIGNER_KEY)
    forged = _b64encode(json.dumps({**GOOD_BODY, "i": time.time(), "k": 10**6}).encode())
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=ASK, user=forged)
    [span] = tel.finished_spans()
    pseudonym = span.attributes[n.ENDUSER_ID]
    assert pseudonym != forged
    signature = _b64encode(bytes.fromhex(pseudonym))
    with pytest.raises(InvalidRef, match="forged or altered"):
        otel_tokens.record_outcome(f"ot1.{forged}.{signature}", "used")
    assert tel.total(n.REJECTED_REFS.name, reason="bad_signature") == 1
    assert tel.total(n.OUTCOME_TOKENS.name) < 10**6  # only the real call's own tokens, if resolved
