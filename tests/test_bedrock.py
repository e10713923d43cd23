"""AWS Bedrock through the real boto3 / botocore over HTTP: Converse and InvokeModel span
attributes, token types, cost, outcomes through the response dicts, errors, repeats, other AWS
calls left alone, uninstrument, and no failure inside otel-tokens breaking a call.

Every call sends ``x-fake-input-tokens: 20`` (Bedrock's *uncached* input), 5 cache-read,
7 cache-write and 10 output tokens: GenAI input is 20 + 5 + 7 = 32.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import json
import pickle
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Any

import boto3
import botocore.client
import pytest
from botocore.config import Config
from genai_prices import Usage as PriceUsage
from genai_prices import calc_price

import otel_tokens
from otel_tokens import errors, names, runtime
from otel_tokens.instrumentation.bedrock import LIBRARY, BedrockInstrumentor, calls, invoke, mapping
from otel_tokens.instrumentation.bedrock.tracking import TrackedDict
from otel_tokens.pricing import PriceBook
from otel_tokens.recorder import Recorder

MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
HEADERS = {
    "x-fake-input-tokens": "20",
    "x-fake-cached-tokens": "5",
    "x-fake-cache-write-tokens": "7",
    "x-fake-output-tokens": "10",
    "x-fake-output": "one two three",
}
# Bedrock's InvokeModel token headers for the same counts (input without the cache).
TOKEN_HEADERS = {
    "x-amzn-bedrock-input-token-count": "20",
    "x-amzn-bedrock-output-token-count": "10",
    "x-amzn-bedrock-cache-read-input-token-count": "5",
    "x-amzn-bedrock-cache-write-input-token-count": "7",
}
TOTAL = 42  # 32 input + 10 output
MESSAGES = [{"role": "user", "content": [{"text": "hello"}]}]
ANTHROPIC_BODY = json.dumps(
    {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
    }
)


class Bedrock:
    """A real boto3 ``bedrock-runtime`` client on the fake server (dummy credentials, no retries).

    ``headers`` go with every request (the fake's ``x-fake-*`` controls). ``token_headers`` are
    added to InvokeModel responses before botocore parses them: they stand in for Bedrock's
    ``x-amzn-bedrock-*-token-count`` headers, which the fake server cannot send yet."""

    def __init__(self, url: str) -> None:
        session = boto3.session.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
        )
        self.client = session.client(
            "bedrock-runtime", endpoint_url=url, config=Config(retries={"total_max_attempts": 1})
        )
        self.headers: dict[str, str] = {}
        self.token_headers: dict[str, str] = {}
        self.client.meta.events.register("before-sign.bedrock-runtime.*", self._send_headers)
        self.client.meta.events.register("before-parse.bedrock-runtime.InvokeModel", self._token_headers)

    def _send_headers(self, request: Any, **_: Any) -> None:
        for key, value in self.headers.items():
            request.headers[key] = value

    def _token_headers(self, response_dict: Any, **_: Any) -> None:
        if response_dict["status_code"] < 300:
            for key, value in self.token_headers.items():
                response_dict["headers"][key] = value

    def converse(self, model: str = MODEL, **params: Any) -> Any:
        return self.client.converse(modelId=model, messages=MESSAGES, **params)

    def invoke(self, model: str = MODEL, body: str = ANTHROPIC_BODY) -> Any:
        return self.client.invoke_model(modelId=model, body=body)


@pytest.fixture(scope="module")
def shared_bedrock(fake_llm) -> Bedrock:
    return Bedrock(fake_llm.url)


@pytest.fixture
def bedrock(shared_bedrock) -> Bedrock:
    shared_bedrock.headers = dict(HEADERS)
    shared_bedrock.token_headers = {}
    return shared_bedrock


def expected_cost(model: str = MODEL) -> float:
    usage = PriceUsage(input_tokens=32, cache_read_tokens=5, cache_write_tokens=7, output_tokens=10)
    return float(calc_price(usage, model, provider_id="aws").total_price)


def check_call_span(tel, span, *, model=MODEL, finish=("end_turn",), extra=None):
    attrs = dict(span.attributes or {})
    assert span.name == f"chat {model}"
    assert span.kind.name == "CLIENT"
    assert attrs.pop(names.SERVER_PORT) > 0
    assert attrs.pop(names.ATTR_COST_USD) == pytest.approx(expected_cost(model))
    expected = {
        names.GEN_AI_OPERATION_NAME: "chat",
        names.GEN_AI_PROVIDER_NAME: "aws.bedrock",
        names.GEN_AI_REQUEST_MODEL: model,
        names.GEN_AI_USAGE_INPUT_TOKENS: 32,
        names.GEN_AI_USAGE_OUTPUT_TOKENS: 10,
        names.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 5,
        names.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 7,
        names.SERVER_ADDRESS: "127.0.0.1",
        names.ATTR_TASK: "unlabeled",
        names.ATTR_USAGE_SOURCE: "provider",
        names.ATTR_COST_PRICED: True,
        **({names.GEN_AI_RESPONSE_FINISH_REASONS: finish} if finish else {}),
        **(extra or {}),
    }
    assert attrs == expected
    labels = {"provider": "aws.bedrock", "model": model, "operation": "chat"}
    by_type = {t: tel.total(names.TOKENS.name, token_type=t, **labels) for t in names.TOKEN_TYPES}
    assert by_type == {"input": 20, "cache_read": 5, "cache_write": 7, "output": 10, "reasoning": 0}
    assert tel.total(names.CALLS.name, status="ok", **labels) == 1
    assert tel.total(names.COST_USD.name, **labels) == pytest.approx(expected_cost(model))
    assert tel.total(names.TOKEN_USAGE.name, **{names.GEN_AI_TOKEN_TYPE: "input"}) == 32


# --- Converse ----------------------------------------------------------------------------------------


def test_converse(instrumented, bedrock) -> None:
    reply = bedrock.converse(inferenceConfig={"maxTokens": 64})
    assert reply["output"]["message"]["content"] == [{"text": "one two three"}]
    assert isinstance(reply, dict)
    assert json.loads(json.dumps(reply))["usage"]["inputTokens"] == 20  # still a real dict for json
    check_call_span(
        instrumented,
        instrumented.only_span(),
        extra={names.GEN_AI_REQUEST_MAX_TOKENS: 64, names.GEN_AI_OUTPUT_TYPE: "text"},
    )


def test_converse_request_attributes_tool_use_and_structured_output(instrumented, bedrock) -> None:
    bedrock.headers["x-fake-tool-call"] = "lookup"
    schema = {"jsonSchema": {"schema": '{"type": "object"}', "name": "reply"}}
    reply = bedrock.converse(
        inferenceConfig={"maxTokens": 64, "temperature": 0.5, "topP": 0.9, "stopSequences": ["END"]},
        outputConfig={"textFormat": {"type": "json_schema", "structure": schema}},
    )
    assert reply["output"]["message"]["content"][0]["toolUse"]["name"] == "lookup"
    attrs = instrumented.only_span().attributes
    assert attrs[names.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_use",)
    assert attrs[names.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert attrs[names.GEN_AI_REQUEST_TEMPERATURE] == 0.5
    assert attrs[names.GEN_AI_REQUEST_TOP_P] == 0.9
    assert attrs[names.GEN_AI_REQUEST_STOP_SEQUENCES] == ("END",)
    assert attrs[names.GEN_AI_OUTPUT_TYPE] == "json"


def test_inference_profile_arn_is_priced_by_its_model(instrumented, bedrock) -> None:
    profile = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
    arn = f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{profile}"
    bedrock.converse(model=arn)
    span = instrumented.only_span()
    assert span.attributes[names.GEN_AI_REQUEST_MODEL] == arn
    assert span.attributes[names.GEN_AI_RESPONSE_MODEL] == profile  # no account id in the labels
    assert span.attributes[names.ATTR_COST_USD] == pytest.approx(expected_cost(profile))
    assert instrumented.total(names.CALLS.name, model=profile) == 1


def test_unpriced_model_is_counted(instrumented, bedrock) -> None:
    bedrock.converse(model="arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123")
    attrs = instrumented.only_span().attributes
    assert attrs[names.ATTR_COST_PRICED] is False
    assert attrs[names.GEN_AI_USAGE_INPUT_TOKENS] == 32
    assert instrumented.total(names.UNPRICED_CALLS.name, provider="aws.bedrock", model="abc123") == 1
    assert instrumented.points(names.COST_USD.name) == []


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        # AWS: inputTokens excludes the cache; totalTokens adds it.
        (
            {
                "inputTokens": 20,
                "outputTokens": 10,
                "totalTokens": 42,
                "cacheReadInputTokens": 5,
                "cacheWriteInputTokens": 7,
            },
            (32, 10, 5, 7),
        ),
        # Should a response count the cache inside inputTokens, totalTokens shows it: not added twice.
        (
            {"inputTokens": 32, "outputTokens": 10, "totalTokens": 42, "cacheReadInputTokens": 5},
            (32, 10, 5, 0),
        ),
        ({"inputTokens": 3, "outputTokens": -1, "totalTokens": 2}, (3, 0, 0, 0)),
    ],
)
def test_converse_usage_semantics(usage, expected) -> None:
    got = mapping.converse_usage(usage)
    assert got is not None
    assert (got.input_tokens, got.output_tokens, got.cache_read_tokens, got.cache_write_tokens) == expected


def test_no_usage_is_missing_not_zero(instrumented, bedrock) -> None:
    bedrock.headers["x-fake-no-usage"] = "1"
    bedrock.converse()
    attrs = instrumented.only_span().attributes
    assert attrs[names.ATTR_USAGE_SOURCE] == "missing"
    assert names.GEN_AI_USAGE_INPUT_TOKENS not in attrs
    assert instrumented.points(names.TOKENS.name) == []


def test_http_error_is_one_failed_call(instrumented, bedrock) -> None:
    bedrock.headers["x-fake-status"] = "400"
    with pytest.raises(bedrock.client.exceptions.ValidationException):
        bedrock.converse()
    span = instrumented.only_span()
    assert span.attributes[names.ERROR_TYPE] == "ValidationException"
    assert span.status.status_code.name == "ERROR"
    assert instrumented.total(names.CALLS.name, status="error") == 1
    assert instrumented.total(names.OUTCOME_CALLS.name, outcome="error") == 1


# --- InvokeModel -------------------------------------------------------------------------------------


def test_invoke_model_usage_from_headers(instrumented, bedrock) -> None:
    bedrock.token_headers = dict(TOKEN_HEADERS)
    reply = bedrock.invoke()
    check_call_span(
        instrumented, instrumented.only_span(), finish=(), extra={names.GEN_AI_REQUEST_MAX_TOKENS: 64}
    )
    body = json.loads(reply["body"].read())  # the body is untouched, for the caller to read once
    assert body["content"] == [{"type": "text", "text": "one two three"}]


def test_invoke_model_usage_from_the_body(instrumented, bedrock) -> None:
    reply = bedrock.invoke()
    assert instrumented.finished_spans() == []  # the usage is in the body: the call ends with it
    body = json.loads(reply["body"].read())
    span = instrumented.only_span()
    assert span.attributes[names.GEN_AI_RESPONSE_ID] == body["id"]
    check_call_span(
        instrumented,
        span,
        extra={names.GEN_AI_REQUEST_MAX_TOKENS: 64, names.GEN_AI_RESPONSE_ID: body["id"]},
    )


@pytest.mark.parametrize(
    ("model", "operation", "output_tokens"),
    [
        ("amazon.titan-text-express-v1", "text_completion", 10),
        ("amazon.titan-embed-text-v2:0", "embeddings", 0),
    ],
)
def test_invoke_model_titan(instrumented, bedrock, model, operation, output_tokens) -> None:
    request = {"inputText": "hello", "textGenerationConfig": {"maxTokenCount": 32, "temperature": 0.1}}
    reply = bedrock.invoke(model=model, body=json.dumps(request))
    assert json.loads(reply["body"].read())["inputTextTokenCount"] == 20
    span = instrumented.only_span()
    attrs = span.attributes
    assert span.name == f"{operation} {model}"
    assert attrs[names.GEN_AI_OPERATION_NAME] == operation
    assert attrs[names.GEN_AI_REQUEST_MAX_TOKENS] == 32
    assert attrs[names.GEN_AI_REQUEST_TEMPERATURE] == 0.1
    assert attrs[names.GEN_AI_USAGE_INPUT_TOKENS] == 20
    assert attrs.get(names.GEN_AI_USAGE_OUTPUT_TOKENS, 0) == output_tokens
    usage = PriceUsage(input_tokens=20, output_tokens=output_tokens)
    assert attrs[names.ATTR_COST_USD] == pytest.approx(
        float(calc_price(usage, model, provider_id="aws").total_price)
    )
    assert instrumented.total(names.TOKENS.name, operation=operation) == 20 + output_tokens


# --- outcomes through the response dicts -------------------------------------------------------------


def test_mark_used_on_a_converse_reply(instrumented, bedrock, check_outcome) -> None:
    reply = bedrock.converse()
    otel_tokens.mark_used(reply)
    check_outcome(instrumented, instrumented.only_span(), "used", tokens=TOTAL)


READS: dict[str, Callable[[Any], Any]] = {
    "metadata_only": lambda r: (r["usage"], r.get("stopReason"), r["ResponseMetadata"], "output" in r),
    "subscript": lambda r: r["output"],
    "get": lambda r: r.get("output"),
    "json_dumps": json.dumps,
    "dict_copy": dict,
    "unpacking": lambda r: {**r},
    "items": lambda r: list(r.items()),
    "repr": repr,
    "deepcopy": copy.deepcopy,
    "pickle": pickle.dumps,
}


@pytest.mark.parametrize("read", READS)
def test_dropped_converse_reply_is_inferred(instrumented, bedrock, check_outcome, read) -> None:
    reply = bedrock.converse()
    copied = READS[read](reply)
    if read in ("dict_copy", "unpacking", "deepcopy"):
        assert type(copied) is dict  # copies are plain dicts, equal to the reply
        assert copied == reply
    del reply, copied
    gc.collect()
    check_outcome(
        instrumented,
        instrumented.only_span(),
        "unread" if read == "metadata_only" else "unmarked",
        tokens=TOTAL,
    )


@pytest.mark.parametrize("read", [False, True])
def test_invoke_model_body_access_is_the_read(instrumented, bedrock, check_outcome, read) -> None:
    bedrock.token_headers = dict(TOKEN_HEADERS)
    reply = bedrock.invoke()
    assert reply["contentType"] == "application/json"
    if read:
        assert json.loads(reply["body"].read())["type"] == "message"
    del reply
    gc.collect()
    check_outcome(instrumented, instrumented.only_span(), "unmarked" if read else "unread", tokens=TOTAL)


def test_task_run_verdict_and_ref(instrumented, bedrock) -> None:
    with otel_tokens.task("triage", team="support") as run:
        first = bedrock.converse()
        _ = first["output"]
        ref = otel_tokens.outcome_ref(bedrock.converse())
        run.mark_used()
    otel_tokens.record_outcome(ref, "discarded")
    del first
    gc.collect()
    labels = {"task": "triage", "team": "support", "provider": "aws.bedrock"}
    assert instrumented.total(names.OUTCOME_CALLS.name, outcome="used", **labels) == 1
    assert instrumented.total(names.OUTCOME_CALLS.name, outcome="discarded", **labels) == 1
    assert instrumented.total(names.OUTCOME_TOKENS.name, outcome="used", **labels) == TOTAL


def test_budget_guard_refuses_the_call_before_it_is_sent(instrumented, bedrock, fake_llm) -> None:
    with otel_tokens.task("agent", max_calls=1):
        bedrock.converse()
        sent = len(fake_llm.requests)
        with pytest.raises(otel_tokens.BudgetExceeded):
            bedrock.converse()
    assert len(fake_llm.requests) == sent
    assert instrumented.total(names.BUDGET_BLOCKS.name, task="agent") == 1


def test_without_read_tracking_the_reply_is_botocores_dict(instrument_with, bedrock) -> None:
    tel = instrument_with(track_reads=False)
    assert type(bedrock.converse()) is dict
    assert len(tel.finished_spans()) == 1
    runtime.get().tracker.flush()  # as at the TTL or shutdown: read or not, unmarked
    assert tel.total(names.OUTCOME_CALLS.name, outcome="unmarked") == 1


def test_content_capture_records_messages(instrument_with, bedrock) -> None:
    tel = instrument_with(capture_content=True)
    bedrock.converse()
    attrs = tel.only_span().attributes
    assert json.loads(attrs[names.GEN_AI_INPUT_MESSAGES]) == MESSAGES
    assert json.loads(attrs[names.GEN_AI_OUTPUT_MESSAGES]) == ["one two three"]


# --- repeats, other calls, uninstrument --------------------------------------------------------------


def test_repeats_compare_request_content_and_bytes(instrumented, bedrock) -> None:
    def image(data: bytes) -> list[dict[str, Any]]:
        return [{"role": "user", "content": [{"image": {"format": "png", "source": {"bytes": data}}}]}]

    bedrock.client.converse(modelId=MODEL, messages=image(b"cat"))
    bedrock.client.converse(modelId=MODEL, messages=image(b"dog"), requestMetadata={"k": "v"})
    bedrock.client.converse(modelId=MODEL, messages=image(b"dog"))
    for body in ('{"inputText": "a"}', '{"inputText": "b"}', '{"inputText": "b"}'):
        json.loads(bedrock.invoke(model="amazon.titan-text-express-v1", body=body)["body"].read())
    gc.collect()
    repeats = [bool((s.attributes or {}).get(names.ATTR_REPEAT)) for s in instrumented.finished_spans()]
    assert repeats == [False, False, True, False, False, True]
    assert instrumented.total(names.REPEAT_CALLS.name) == 2


def test_other_aws_calls_pass_through(instrumented, bedrock, fake_llm) -> None:
    """Not LLM calls: no span, no metric, the SDK's own error unchanged."""
    s3 = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    ).client("s3", endpoint_url=fake_llm.url, config=Config(retries={"total_max_attempts": 1}))
    with pytest.raises(botocore.exceptions.ClientError) as listing:
        s3.list_buckets()
    with pytest.raises(botocore.exceptions.ClientError) as invokes:
        bedrock.client.list_async_invokes()
    assert listing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert invokes.value.operation_name == "ListAsyncInvokes"
    assert instrumented.finished_spans() == []
    assert instrumented.points(names.CALLS.name) == []


def test_uninstrument_restores_the_original_method(telemetry, bedrock) -> None:
    original = vars(botocore.client.BaseClient)["_make_api_call"]
    assert BedrockInstrumentor().patched() == [(botocore.client.BaseClient, "_make_api_call")]
    assert len(LIBRARY.endpoints) == 4
    [entry] = entry_points(group="opentelemetry_instrumentor", name="otel_tokens_bedrock")
    assert entry.load() is BedrockInstrumentor
    done = otel_tokens.instrument(
        telemetry.tracer_provider, telemetry.meter_provider, telemetry.logger_provider
    )
    try:
        assert "otel_tokens_bedrock" in done
        assert vars(botocore.client.BaseClient)["_make_api_call"] is not original
        assert type(bedrock.converse()) is not dict
    finally:
        otel_tokens.uninstrument()
        errors.configure(None, False)
    assert vars(botocore.client.BaseClient)["_make_api_call"] is original
    assert type(bedrock.converse()) is dict
    assert len(telemetry.finished_spans()) == 1


# --- never break the call ----------------------------------------------------------------------------


@contextlib.contextmanager
def tolerating(telemetry) -> Iterator[Callable[[], Any]]:
    """Yields ``start()``: instrument with internal errors swallowed and counted (the production
    setting); uninstrumented at exit."""

    def start() -> Any:
        otel_tokens.instrument(
            telemetry.tracer_provider,
            telemetry.meter_provider,
            telemetry.logger_provider,
            raise_internal_errors=False,
        )
        return telemetry

    try:
        yield start
    finally:
        gc.collect()
        otel_tokens.uninstrument()
        errors.configure(None, False)
        errors.reset_logged()


@pytest.fixture
def tolerant(telemetry) -> Iterator[Callable[[], Any]]:
    with tolerating(telemetry) as start:
        yield start


def _boom(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("injected failure inside otel-tokens")


def _without_metadata(reply: Any) -> dict[str, Any]:
    return {key: value for key, value in reply.items() if key != "ResponseMetadata"}


def _invoke_body(bedrock: Bedrock) -> dict[str, Any]:
    body = json.loads(bedrock.invoke()["body"].read())
    del body["id"]  # ids count up per call
    return body


def _invoke_with_headers(bedrock: Bedrock) -> dict[str, Any]:
    bedrock.token_headers = dict(TOKEN_HEADERS)
    return _invoke_body(bedrock)


CALLS = {  # name -> (kind, call(bedrock) -> a comparable result)
    "converse": ("converse", lambda b: _without_metadata(b.converse())),
    "invoke_model_headers": ("headers", _invoke_with_headers),
    "invoke_model_body": ("body", _invoke_body),
}


def _on_endpoints(field: str) -> Callable[[pytest.MonkeyPatch], None]:
    # Endpoints are frozen dataclasses read at call time: replace the field on each.
    def inject(mp: pytest.MonkeyPatch) -> None:
        for operation in calls.OPERATIONS.values():
            mp.setitem(vars(operation.endpoint), field, _boom)

    return inject


def _on(target: Any, name: str) -> Callable[[pytest.MonkeyPatch], None]:
    return lambda mp: mp.setattr(target, name, _boom)


ALL = {"converse", "headers", "body"}
FAULTS: dict[str, tuple[Callable[[pytest.MonkeyPatch], None], dict[str, str]]] = {
    # fault -> (inject, {kind reached: stage counted})
    "read_request": (_on_endpoints("read_request"), dict.fromkeys(ALL, "request")),
    "fingerprint": (_on(calls, "fingerprint_view"), dict.fromkeys(ALL, "fingerprint")),
    "Recorder.start": (_on(Recorder, "start"), dict.fromkeys(ALL, "recording")),
    "read_response": (_on_endpoints("read_response"), dict.fromkeys(ALL, "response")),
    "new_body_state": (_on_endpoints("new_stream_state"), {"body": "stream_chunk"}),
    "body_state.on_chunk": (_on(invoke.InvokeBodyState, "on_chunk"), {"body": "stream_chunk"}),
    "body_state.response": (_on(invoke.InvokeBodyState, "response"), {"body": "stream_end"}),
    "PriceBook.cost": (_on(PriceBook, "cost"), dict.fromkeys(ALL, "pricing")),
    "Recorder.finish": (_on(Recorder, "finish"), dict.fromkeys(ALL, "recording")),
    "tracking": (
        _on(TrackedDict, "__init__"),
        {"converse": "read_tracking", "headers": "read_tracking", "body": "response"},
    ),
}


def _failure(bedrock: Bedrock, call: Callable[[Bedrock], Any]) -> BaseException:
    bedrock.headers["x-fake-status"] = "400"
    try:
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            call(bedrock)
    finally:
        del bedrock.headers["x-fake-status"]
    return caught.value


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("name", CALLS)
def test_failures_inside_never_break_the_call(tolerant, bedrock, monkeypatch, name, fault) -> None:
    kind, call = CALLS[name]
    expected, expected_error = call(bedrock), _failure(bedrock, call)  # uninstrumented
    tel = tolerant()
    inject, stages = FAULTS[fault]
    inject(monkeypatch)
    assert call(bedrock) == expected
    error = _failure(bedrock, call)
    assert type(error) is type(expected_error)
    assert str(error) == str(expected_error)
    gc.collect()
    stage = stages.get(kind)
    if stage is None:
        assert tel.total(names.INTERNAL_ERRORS.name) == 0
    else:
        assert tel.total(names.INTERNAL_ERRORS.name, stage=stage) > 0
    assert tel.total(names.CALLS.name, status="error") == (
        0 if fault in ("read_request", "Recorder.start") else 1
    )


def test_failure_recording_an_error_keeps_the_error(tolerant, bedrock, monkeypatch) -> None:
    expected = _failure(bedrock, lambda b: b.converse())
    tel = tolerant()
    monkeypatch.setattr(Recorder, "fail", _boom)
    error = _failure(bedrock, lambda b: b.converse())
    assert (type(error), str(error)) == (type(expected), str(expected))
    assert tel.total(names.INTERNAL_ERRORS.name, stage="recording") == 1
