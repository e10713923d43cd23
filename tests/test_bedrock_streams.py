"""Bedrock streams and bodies through the real botocore: ConverseStream and
InvokeModelWithResponseStream (``EventStream``) and InvokeModel bodies read for their usage
(``StreamingBody``) end their span exactly once on every path; no failure inside otel-tokens
breaks any of them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import botocore.eventstream
import botocore.exceptions
import pytest
import urllib3
from helpers_bedrock import ANTHROPIC_BODY, MODEL, TOTAL, Bedrock
from helpers_faults import Fault, check_faults_never_break, on, on_endpoints
from helpers_providers import ERROR_AFTER, leave

import otel_tokens
from otel_tokens import names
from otel_tokens.instrumentation.bedrock import calls, invoke, mapping
from otel_tokens.instrumentation.bedrock.tracking import TrackedEventStream
from otel_tokens.pricing import PriceBook
from otel_tokens.recorder import Recorder

TITAN = "amazon.titan-text-express-v1"


def converse_stream(bedrock: Bedrock) -> Any:
    return bedrock.client.converse_stream(
        modelId=MODEL, messages=[{"role": "user", "content": [{"text": "hi"}]}]
    )


def invoke_stream(bedrock: Bedrock, model: str = MODEL) -> Any:
    body = ANTHROPIC_BODY if model == MODEL else json.dumps({"inputText": "hi"})
    return bedrock.client.invoke_model_with_response_stream(modelId=model, body=body)


def text_of(event: dict[str, Any]) -> str:
    """The text a ConverseStream or (Anthropic / Titan) InvokeModelWithResponseStream event carries."""
    if "contentBlockDelta" in event:
        return str(event["contentBlockDelta"]["delta"].get("text", ""))
    if "chunk" not in event:
        return ""
    chunk = json.loads(event["chunk"]["bytes"])
    return str(chunk.get("outputText") or chunk.get("delta", {}).get("text") or "")


# --- ConverseStream and InvokeModelWithResponseStream --------------------------------------------------

STREAMS: dict[str, tuple[Callable[[Bedrock], Any], str]] = {  # name -> (call, key of the stream)
    "converse_stream": (converse_stream, "stream"),
    "invoke_stream": (invoke_stream, "body"),
    "invoke_stream_titan": (lambda b: invoke_stream(b, TITAN), "body"),
}


@pytest.mark.parametrize("name", STREAMS)
def test_exhausted_stream(instrumented, bedrock, one_call, check_outcome, name) -> None:
    call, key = STREAMS[name]
    reply = call(bedrock)
    assert isinstance(reply[key], botocore.eventstream.EventStream)
    assert "".join(text_of(event) for event in reply[key]) == "one two three"
    span = one_call(instrumented)
    attrs = span.attributes
    assert attrs[names.GEN_AI_REQUEST_MODEL] == (TITAN if name.endswith("titan") else MODEL)
    assert attrs[names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    assert attrs[names.GEN_AI_RESPONSE_FINISH_REASONS] == (
        ("FINISH",) if name.endswith("titan") else ("end_turn",)
    )
    titan = name.endswith("titan")  # Titan has no cache counts: input is the 20 uncached tokens
    assert attrs[names.GEN_AI_USAGE_INPUT_TOKENS] == (20 if titan else 32)
    assert attrs[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 10
    assert attrs.get(names.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, 0) == (0 if titan else 5)
    if name == "invoke_stream":
        assert attrs[names.GEN_AI_RESPONSE_ID].startswith("msg_fake")
    assert instrumented.total(names.TOKENS.name, token_type="output") == 10
    otel_tokens.mark_used(reply)  # the verdict finds the call through the response dict
    check_outcome(instrumented, span, "used", tokens=30 if titan else TOTAL)


def test_verdict_on_the_stream_itself_and_before_its_end(instrumented, bedrock, one_call) -> None:
    reply = converse_stream(bedrock)
    stream = reply["stream"]
    otel_tokens.mark_discarded(stream)  # before the end: applied when the stream ends
    assert instrumented.finished_spans() == []
    for _event in stream:
        pass
    one_call(instrumented)
    assert instrumented.outcome_label() == "discarded"


STREAM_ENDS = {
    "break_and_drop": "unmarked",
    "break_then_resume": "unmarked",
    "close": "unmarked",
    "gc": "unread",
    "error": "error",
    "malformed": "error",
}


@pytest.mark.parametrize("end", STREAM_ENDS)
@pytest.mark.parametrize("name", STREAMS)
async def test_stream_ends_once_on_every_path(instrumented, bedrock, one_call, name, end) -> None:
    call, key = STREAMS[name]
    if end == "error":
        bedrock.headers.update(ERROR_AFTER)
    if end == "malformed":
        bedrock.headers["x-fake-malformed"] = "1"
    reply = call(bedrock)
    stream = reply[key]
    if end == "break_then_resume":  # as in botocore, a new loop continues the same stream
        texts = []
        for event in stream:
            texts.append(text_of(event))
            break
        texts.extend(text_of(event) for event in stream)
        assert "".join(texts) == "one two three"
    elif end == "malformed":
        await leave(instrumented, stream, "error", error=botocore.eventstream.ChecksumMismatch)
    else:
        await leave(instrumented, stream, end, error=urllib3.exceptions.ProtocolError)
    del reply, stream
    outcome = STREAM_ENDS[end]
    # Anthropic's message_start already brings the (input) usage, as on Anthropic's own API.
    seen_usage = end == "break_then_resume" or (name == "invoke_stream" and end != "gc")
    source = None if outcome == "error" else "provider" if seen_usage else "missing"
    one_call(instrumented, outcome=outcome, usage_source=source)


def test_event_stream_is_no_context_manager(instrumented, bedrock, one_call) -> None:
    """botocore's EventStream does not support ``with``: neither does its proxy, same error."""
    reply = converse_stream(bedrock)
    unsupported = "'EventStream' object does not support the context manager protocol"
    with pytest.raises(TypeError, match=unsupported), reply["stream"]:
        pass
    reply["stream"].close()
    one_call(instrumented)


# --- InvokeModel bodies read for their usage -----------------------------------------------------------

BODY_READS: dict[str, Callable[[Any], Any]] = {
    "read": lambda body: json.loads(body.read()),
    "json_load": json.load,
    "read_in_pieces": lambda body: json.loads(b"".join(iter(lambda: body.read(7), b""))),
    "read_exact_length": lambda body: json.loads(body.read(int(body._content_length))),
    "iter": lambda body: json.loads(b"".join(body)),
    "iter_chunks": lambda body: json.loads(b"".join(body.iter_chunks(5))),
    "iter_lines": lambda body: json.loads(b"".join(body.iter_lines())),
    "readlines": lambda body: json.loads(b"".join(body.readlines())),
}


@pytest.mark.parametrize("read", BODY_READS)
def test_body_read_any_way_ends_the_call_with_its_usage(instrumented, bedrock, one_call, read) -> None:
    reply = bedrock.invoke()
    assert instrumented.finished_spans() == []
    message = BODY_READS[read](reply["body"])
    assert message["content"][0]["text"] == "one two three"
    assert len(instrumented.finished_spans()) == 1  # ended at the end of the body, not at release
    del reply
    span = one_call(instrumented)
    assert span.attributes[names.GEN_AI_USAGE_INPUT_TOKENS] == 32
    assert span.attributes[names.GEN_AI_RESPONSE_ID] == message["id"]
    assert names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK not in span.attributes  # not a stream
    assert instrumented.outcome_label() == "unmarked"


@pytest.mark.parametrize(("end", "outcome"), [("close", "unread"), ("gc", "unread"), ("with", "unmarked")])
def test_body_left_unread_ends_once(instrumented, bedrock, one_call, end, outcome) -> None:
    reply = bedrock.invoke()
    if end == "close":
        reply["body"].close()
    elif end == "with":  # botocore hands out its raw stream here: read, usage unseen
        with reply["body"] as raw:
            assert json.loads(raw.read())["type"] == "message"
    del reply
    span = one_call(instrumented)
    assert span.attributes[names.ATTR_USAGE_SOURCE] == "missing"
    assert instrumented.outcome_label() == outcome


def test_early_verdict_on_a_body_applies_at_its_end(instrumented, bedrock, one_call, check_outcome) -> None:
    reply = bedrock.invoke()
    otel_tokens.mark_used(reply)
    _ = reply["body"].read()
    check_outcome(instrumented, one_call(instrumented), "used", tokens=TOTAL)


def test_large_body_is_not_kept(instrumented, bedrock, one_call, monkeypatch) -> None:
    monkeypatch.setattr(invoke, "MAX_BODY", 64)
    reply = bedrock.invoke()
    assert json.loads(reply["body"].read())["type"] == "message"
    assert one_call(instrumented).attributes[names.ATTR_USAGE_SOURCE] == "missing"


# --- never break the call --------------------------------------------------------------------------------


def _events(reply: Any, key: str) -> list[Any]:
    events = []
    for event in reply[key]:
        if "chunk" in event:
            chunk = json.loads(event["chunk"]["bytes"])
            chunk.get("message", {}).pop("id", None)  # ids count up per call
            event = chunk
        events.append(event)
    return events


CALLS = {name: (lambda b, call=call, key=key: _events(call(b), key)) for name, (call, key) in STREAMS.items()}
STATES = (mapping.ConverseStreamState, invoke.InvokeStreamState)
ENDPOINTS = [operation.endpoint for operation in calls.OPERATIONS.values()]
FAULTS = {  # what breaks -> (how, the stage it is counted under)
    "read_request": (on_endpoints(ENDPOINTS, "read_request"), "request"),
    "new_stream_state": (on_endpoints(ENDPOINTS, "new_stream_state"), "stream_chunk"),
    "state.on_chunk": (on("on_chunk", *STATES), "stream_chunk"),
    "state.response": (on("response", *STATES), "stream_end"),
    "stream_proxy": (on("__init__", TrackedEventStream), "response"),
    "PriceBook.cost": (on("cost", PriceBook), "pricing"),
    "Recorder.finish": (on("finish", Recorder), "recording"),
}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("name", CALLS)
async def test_failures_inside_never_break_the_stream(tolerant, bedrock, monkeypatch, name, fault) -> None:
    inject, stage = FAULTS[fault]
    await check_faults_never_break(
        tolerant,
        monkeypatch,
        lambda: bedrock.run(CALLS[name]),
        "stream",
        {fault: Fault(inject, {"stream": stage})},
        failing=[{"x-fake-status": "400"}, ERROR_AFTER],  # refused, then dropped mid-stream
        errors=(botocore.exceptions.ClientError, urllib3.exceptions.ProtocolError),
    )


def test_titan_stream_chunks_decode_as_sent(instrumented, bedrock) -> None:
    """The fake's event stream framing round-trips through botocore's decoder (CRCs, base64)."""
    bedrock.headers["x-fake-chunks"] = "2"
    events = list(invoke_stream(bedrock, TITAN)["body"])
    chunks = [json.loads(event["chunk"]["bytes"]) for event in events]
    assert [c["outputText"] for c in chunks] == ["one", " two three", ""]
    assert chunks[-1]["amazon-bedrock-invocationMetrics"]["inputTokenCount"] == 20
