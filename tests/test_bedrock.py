"""AWS Bedrock through the real boto3 / botocore over HTTP: Converse and InvokeModel span
attributes, token types, cost, outcomes through the response dicts, errors, repeats, other AWS
calls left alone, uninstrument, and no failure inside otel-tokens breaking a call.

Every call sends ``x-fake-input-tokens: 20`` (Bedrock's *uncached* input), 5 cache-read,
7 cache-write and 10 output tokens (``helpers_bedrock``): GenAI input is 20 + 5 + 7 = 32.
"""

from __future__ import annotations

import copy
import gc
import json
import pickle
from collections.abc import Callable
from typing import Any

import boto3
import botocore.client
import pytest
from botocore.config import Config
from genai_prices import Usage as PriceUsage
from genai_prices import calc_price
from helpers_bedrock import MESSAGES, MODEL, TOTAL, Bedrock
from helpers_faults import Fault, boom, check_faults_never_break, on, on_endpoints
from helpers_providers import entry_point, request_attributes

import otel_tokens
from otel_tokens import fingerprints, names, runtime
from otel_tokens.instrumentation.bedrock import LIBRARY, BedrockInstrumentor, calls, invoke, mapping
from otel_tokens.instrumentation.bedrock.tracking import TrackedDict
from otel_tokens.pricing import PriceBook
from otel_tokens.recorder import Recorder

# Bedrock's InvokeModel token headers for the counts every call sends (input without the cache).
TOKEN_HEADERS = {
    "x-amzn-bedrock-input-token-count": "20",
    "x-amzn-bedrock-output-token-count": "10",
    "x-amzn-bedrock-cache-read-input-token-count": "5",
    "x-amzn-bedrock-cache-write-input-token-count": "7",
}


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
    span = instrumented.only_span()
    assert span.attributes[names.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_use",)
    assert request_attributes(span) == {
        names.GEN_AI_REQUEST_MODEL: MODEL,
        names.GEN_AI_REQUEST_MAX_TOKENS: 64,
        names.GEN_AI_REQUEST_TEMPERATURE: 0.5,
        names.GEN_AI_REQUEST_TOP_P: 0.9,
        names.GEN_AI_REQUEST_STOP_SEQUENCES: ("END",),
        names.GEN_AI_OUTPUT_TYPE: "json",
    }


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


def test_uninstrument_restores_the_original_method(instrument_with, bedrock) -> None:
    original = vars(botocore.client.BaseClient)["_make_api_call"]
    assert BedrockInstrumentor().patched() == [(botocore.client.BaseClient, "_make_api_call")]
    assert len(LIBRARY.endpoints) == 4
    assert entry_point("otel_tokens_bedrock") is BedrockInstrumentor
    telemetry = instrument_with()
    assert vars(botocore.client.BaseClient)["_make_api_call"] is not original
    assert type(bedrock.converse()) is not dict
    otel_tokens.uninstrument()
    assert vars(botocore.client.BaseClient)["_make_api_call"] is original
    assert type(bedrock.converse()) is dict
    assert len(telemetry.finished_spans()) == 1


# --- never break the call ----------------------------------------------------------------------------


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
ALL = ("converse", "headers", "body")
# Endpoints are read at call time from the operations' table.
ENDPOINTS = [operation.endpoint for operation in calls.OPERATIONS.values()]
FAULTS = {  # what breaks -> (how, {kind of call reached: stage counted})
    "read_request": Fault(on_endpoints(ENDPOINTS, "read_request"), dict.fromkeys(ALL, "request")),
    "fingerprint": Fault(on("canonical", fingerprints), dict.fromkeys(ALL, "fingerprint")),
    "Recorder.start": Fault(on("start", Recorder), dict.fromkeys(ALL, "recording")),
    "read_response": Fault(on_endpoints(ENDPOINTS, "read_response"), dict.fromkeys(ALL, "response")),
    "new_body_state": Fault(on_endpoints(ENDPOINTS, "new_stream_state"), {"body": "stream_chunk"}),
    "body_state.on_chunk": Fault(on("on_chunk", invoke.InvokeBodyState), {"body": "stream_chunk"}),
    "body_state.response": Fault(on("response", invoke.InvokeBodyState), {"body": "stream_end"}),
    "PriceBook.cost": Fault(on("cost", PriceBook), dict.fromkeys(ALL, "pricing")),
    "Recorder.finish": Fault(on("finish", Recorder), dict.fromkeys(ALL, "recording")),
    "tracking": Fault(
        on("__init__", TrackedDict),
        {"converse": "read_tracking", "headers": "read_tracking", "body": "response"},
    ),
}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("name", CALLS)
async def test_failures_inside_never_break_the_call(tolerant, bedrock, monkeypatch, name, fault) -> None:
    kind, call = CALLS[name]
    tel = await check_faults_never_break(
        tolerant,
        monkeypatch,
        lambda: bedrock.run(call),
        kind,
        {fault: FAULTS[fault]},
        failing=[{"x-fake-status": "400"}],
        errors=botocore.exceptions.ClientError,
    )
    # A failed call is counted, unless the fault kept the call from being recorded at all.
    assert tel.total(names.CALLS.name, status="error") == (
        0 if fault in ("read_request", "Recorder.start") else 1
    )


def test_failure_recording_an_error_keeps_the_error(tolerant, bedrock, monkeypatch) -> None:
    failing = bedrock.run(lambda b: b.converse())
    with pytest.raises(botocore.exceptions.ClientError) as expected:
        failing({"x-fake-status": "400"})
    tel = tolerant()
    monkeypatch.setattr(Recorder, "fail", boom)
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        failing({"x-fake-status": "400"})
    assert (type(caught.value), str(caught.value)) == (type(expected.value), str(expected.value))
    assert tel.total(names.INTERNAL_ERRORS.name, stage="recording") == 1
