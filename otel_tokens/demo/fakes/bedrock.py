"""Fake AWS Bedrock Runtime (what botocore's ``bedrock-runtime`` client calls).

Point a client at the server with dummy credentials; the signature is ignored::

    boto3.client("bedrock-runtime", endpoint_url=srv.url, region_name="us-east-1",
                 aws_access_key_id="test", aws_secret_access_key="test")

Paths (``{modelId}`` is URL-encoded by botocore and read as the body's ``model``):
``POST /model/{modelId}/converse``, ``/converse-stream``, ``/invoke``,
``/invoke-with-response-stream``. Streams use the AWS event stream binary framing
(``application/vnd.amazon.eventstream``); each frame is one HTTP chunk.

How the ``x-fake-*`` headers map (see :mod:`otel_tokens.demo.fake_llm`); botocore sends them
when a ``before-sign`` handler adds them to the request:

- ``x-fake-input-tokens``: Converse ``usage.inputTokens``, which *excludes* cache reads and
  writes (``totalTokens`` = input + output + cache read + cache write); InvokeModel: the
  Anthropic body's ``input_tokens`` (also uncached), Titan's ``inputTextTokenCount``, and the
  stream's ``amazon-bedrock-invocationMetrics.inputTokenCount``.
- ``x-fake-cached-tokens`` / ``x-fake-cache-write-tokens``: ``cacheReadInputTokens`` /
  ``cacheWriteInputTokens`` (sent only when non-zero); Anthropic bodies as on the Anthropic API;
  ignored by Titan, which has no prompt cache.
- ``x-fake-output-tokens``: ``outputTokens``, Anthropic ``output_tokens``, Titan ``tokenCount``.
  ``x-fake-reasoning-tokens`` is ignored: Bedrock reports no reasoning count.
- ``x-fake-output``, ``x-fake-tool-call`` (a ``toolUse`` block with input ``{"x": 1}``),
  ``x-fake-chunks`` (``contentBlockDelta`` / ``chunk`` events), ``x-fake-status`` (an AWS error
  body whose ``__type`` botocore turns into e.g. ``ValidationException``),
  ``x-fake-stream-error-after`` as everywhere.
- ``x-fake-no-usage``: no ``usage`` (Converse, and the stream's ``metadata`` event keeps only its
  ``metrics``), no token counts in InvokeModel bodies, no invocation metrics in streams.
- ``x-fake-malformed``: a non-JSON body; in streams, a frame with a wrong CRC after the first
  content frame (botocore raises ``ChecksumMismatch``).
- ``x-fake-response-model``: the Anthropic InvokeModel body's ``model`` only (Converse has none).

InvokeModel bodies follow the model family: Anthropic Messages (model id containing
``anthropic``), Titan embeddings (``embed``), else Titan text. Real Bedrock also reports
InvokeModel token counts in ``x-amzn-bedrock-*-token-count`` response headers; this fake cannot
send per-route headers yet, so only the bodies carry usage.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from otel_tokens.demo import fake_payloads as payloads
from otel_tokens.demo.fake_llm import Route, StreamEvent, route
from otel_tokens.demo.fake_payloads import Controls, JSONDict

EVENT_STREAM: Final = "application/vnd.amazon.eventstream"
_STRING_HEADER: Final = 7  # header value type "string" in the event stream format
_PRELUDE: Final = struct.Struct(">II")
_ERRORS: Final = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


@dataclass(frozen=True)
class EventFrame:
    """One event stream message: prelude (total and headers length, CRC32), string headers,
    payload, CRC32 of everything before it."""

    headers: tuple[tuple[str, str], ...]
    payload: bytes
    content: bool = False
    corrupt: bool = False  # a wrong message CRC

    def encode(self) -> bytes:
        head = b"".join(_encode_header(name, value) for name, value in self.headers)
        prelude = _PRELUDE.pack(_PRELUDE.size + 4 + len(head) + len(self.payload) + 4, len(head))
        message = prelude + struct.pack(">I", zlib.crc32(prelude)) + head + self.payload
        crc = zlib.crc32(message) ^ (0xFFFFFFFF if self.corrupt else 0)
        return message + struct.pack(">I", crc)


def _encode_header(name: str, value: str) -> bytes:
    key, data = name.encode(), value.encode()
    return struct.pack(">B", len(key)) + key + struct.pack(">BH", _STRING_HEADER, len(data)) + data


def event(event_type: str, payload: JSONDict, content: bool = False) -> EventFrame:
    headers = ((":event-type", event_type), (":content-type", "application/json"), (":message-type", "event"))
    return EventFrame(headers, json.dumps(payload, separators=(",", ":")).encode(), content)


def _corrupted(frame: StreamEvent) -> StreamEvent:
    return replace(frame, content=False, corrupt=True) if isinstance(frame, EventFrame) else frame


def bedrock_error(status: int, message: str) -> JSONDict:
    code = _ERRORS.get(status, "InternalServerException" if status >= 500 else "ValidationException")
    return {"__type": code, "message": message}


# --- Converse ---------------------------------------------------------------------------------------
def _converse_usage(c: Controls) -> JSONDict:
    cache = {"cacheReadInputTokens": c.cached_tokens, "cacheWriteInputTokens": c.cache_write_tokens}
    return {
        "inputTokens": c.input_tokens,
        "outputTokens": c.output_tokens,
        "totalTokens": c.input_tokens + c.output_tokens + c.cached_tokens + c.cache_write_tokens,
        **{key: value for key, value in cache.items() if value},
    }


def _stop_reason(c: Controls) -> str:
    return "tool_use" if c.tool_call else "end_turn"


def converse(c: Controls, body: Mapping[str, Any], num: int, created: int) -> JSONDict:
    del body, created
    block: JSONDict = (
        {"toolUse": {"toolUseId": f"tooluse_fake{num}", "name": c.tool_call, "input": {"x": 1}}}
        if c.tool_call
        else {"text": c.output}
    )
    reply: JSONDict = {
        "output": {"message": {"role": "assistant", "content": [block]}},
        "stopReason": _stop_reason(c),
        "metrics": {"latencyMs": 1},
    }
    if not c.no_usage:
        reply["usage"] = _converse_usage(c)
    return reply


def converse_stream(c: Controls, body: Mapping[str, Any], num: int, created: int) -> list[StreamEvent]:
    del body, created
    frames: list[StreamEvent] = [event("messageStart", {"role": "assistant"})]
    if c.tool_call:
        start = {"toolUse": {"toolUseId": f"tooluse_fake{num}", "name": c.tool_call}}
        frames.append(event("contentBlockStart", {"contentBlockIndex": 0, "start": start}))
    for piece in payloads.split_chunks(c.visible_text, c.chunks):
        delta = {"toolUse": {"input": piece}} if c.tool_call else {"text": piece}
        frames.append(event("contentBlockDelta", {"contentBlockIndex": 0, "delta": delta}, content=True))
    frames.append(event("contentBlockStop", {"contentBlockIndex": 0}))
    frames.append(event("messageStop", {"stopReason": _stop_reason(c)}))
    metadata: JSONDict = {"metrics": {"latencyMs": 1}}
    if not c.no_usage:
        metadata["usage"] = _converse_usage(c)
    frames.append(event("metadata", metadata))
    return frames


# --- InvokeModel ------------------------------------------------------------------------------------
def _family(body: Mapping[str, Any]) -> str:
    model = str(body.get("model", ""))
    if "anthropic" in model or "anthropic_version" in body:
        return "anthropic"
    return "titan-embed" if "embed" in model else "titan"


def _invocation_metrics(c: Controls, *, cache: bool) -> JSONDict:
    metrics: JSONDict = {
        "inputTokenCount": c.input_tokens,
        "outputTokenCount": c.output_tokens,
        "invocationLatency": 1,
        "firstByteLatency": 1,
    }
    if cache and c.cached_tokens:
        metrics["cacheReadInputTokenCount"] = c.cached_tokens
    if cache and c.cache_write_tokens:
        metrics["cacheWriteInputTokenCount"] = c.cache_write_tokens
    return metrics


def _titan_text(c: Controls) -> JSONDict:
    result: JSONDict = {"outputText": c.output, "completionReason": "FINISH"}
    if c.no_usage:
        return {"results": [result]}
    return {"inputTextTokenCount": c.input_tokens, "results": [{"tokenCount": c.output_tokens, **result}]}


def _titan_embedding(c: Controls) -> JSONDict:
    vector = [0.125 * (i % 8 - 4) for i in range(payloads.EMBEDDING_DIMENSIONS)]
    return {"embedding": vector, **({} if c.no_usage else {"inputTextTokenCount": c.input_tokens})}


def invoke_model(c: Controls, body: Mapping[str, Any], num: int, created: int) -> JSONDict:
    family = _family(body)
    if family == "anthropic":
        message = payloads.message(c, {**body, "stream": False}, num, created)
        assert isinstance(message, dict)
        return message
    return _titan_embedding(c) if family == "titan-embed" else _titan_text(c)


def _chunk(payload: JSONDict, content: bool = False) -> EventFrame:
    data = base64.b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()
    return event("chunk", {"bytes": data}, content)


def _anthropic_chunks(c: Controls, body: Mapping[str, Any], num: int, created: int) -> list[StreamEvent]:
    frames: list[StreamEvent] = []
    for sse in payloads.message(c, {**body, "stream": True}, num, created):
        assert isinstance(sse, payloads.SSEEvent)
        data = json.loads(sse.data)
        if data["type"] == "ping":
            continue  # Bedrock does not forward Anthropic's keep-alive pings
        if data["type"] == "message_stop" and not c.no_usage:
            data["amazon-bedrock-invocationMetrics"] = _invocation_metrics(c, cache=True)
        frames.append(_chunk(data, sse.content))
    return frames


def _titan_chunks(c: Controls) -> list[StreamEvent]:
    frames: list[StreamEvent] = []
    for k, piece in enumerate(payloads.split_chunks(c.output, c.chunks)):
        chunk: JSONDict = {"outputText": piece, "index": 0, "completionReason": None}
        if k == 0 and not c.no_usage:
            chunk["inputTextTokenCount"] = c.input_tokens
        frames.append(_chunk(chunk, content=True))
    last: JSONDict = {"outputText": "", "index": 0, "completionReason": "FINISH"}
    if not c.no_usage:
        last["totalOutputTextTokenCount"] = c.output_tokens
        last["amazon-bedrock-invocationMetrics"] = _invocation_metrics(c, cache=False)
    frames.append(_chunk(last))
    return frames


def invoke_model_stream(c: Controls, body: Mapping[str, Any], num: int, created: int) -> list[StreamEvent]:
    if _family(body) == "anthropic":
        return _anthropic_chunks(c, body, num, created)
    return _titan_chunks(c)


Builder = Callable[[Controls, Mapping[str, Any], int, int], JSONDict | Sequence[StreamEvent]]


def _route(action: str, build: Builder, stream: bool) -> Route:
    return route(
        rf"/model/(?P<model>[^/]+)/{action}",
        "aws.bedrock",
        "bedrock",
        build,
        error=bedrock_error,
        stream_content_type=EVENT_STREAM if stream else "application/json",
        malformed_event=_corrupted if stream else None,
    )


ROUTES: Final = (
    _route("converse", converse, stream=False),
    _route("converse-stream", converse_stream, stream=True),
    _route("invoke", invoke_model, stream=False),
    _route("invoke-with-response-stream", invoke_model_stream, stream=True),
)
