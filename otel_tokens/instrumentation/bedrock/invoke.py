"""InvokeModel / InvokeModelWithResponseStream -> neutral records. The bodies are each model
family's own JSON, so families are told apart by their keys (a model id may be an ARN).

Request attributes come from the body's decoding parameters, wherever the family keeps them
(Anthropic and Mistral at the top, Titan in ``textGenerationConfig``, Nova in
``inferenceConfig``). Usage comes from the response headers (:func:`mapping.header_usage`);
without them, from the body the caller reads (:class:`InvokeBodyState`): Anthropic ``usage``
(uncached input, like Bedrock's), Nova ``usage``, Titan ``inputTextTokenCount`` /
``tokenCount``. Streams carry Bedrock's ``amazon-bedrock-invocationMetrics`` in their last
chunk (Anthropic's ``message_start`` / ``message_delta`` usage is the fallback).
"""

from __future__ import annotations

import json
from typing import Any, Final

from ... import names as n
from ...records import Request, Response, Usage
from .._common import request_attributes
from .mapping import bedrock_request, bedrock_usage, model_name

# Request bodies larger than this (images, documents) are not parsed for attributes, and
# response bodies larger than this are not kept for their usage: bounded time and memory.
MAX_BODY: Final = 1 << 20
_TOP_LEVEL: Final = (
    ("max_tokens", n.GEN_AI_REQUEST_MAX_TOKENS),
    ("max_gen_len", n.GEN_AI_REQUEST_MAX_TOKENS),
    ("temperature", n.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", n.GEN_AI_REQUEST_TOP_P),
    ("stop_sequences", n.GEN_AI_REQUEST_STOP_SEQUENCES),
)
_NESTED: Final = {
    "textGenerationConfig": (
        ("maxTokenCount", n.GEN_AI_REQUEST_MAX_TOKENS),
        ("temperature", n.GEN_AI_REQUEST_TEMPERATURE),
        ("topP", n.GEN_AI_REQUEST_TOP_P),
        ("stopSequences", n.GEN_AI_REQUEST_STOP_SEQUENCES),
    ),
    "inferenceConfig": (
        ("max_new_tokens", n.GEN_AI_REQUEST_MAX_TOKENS),
        ("temperature", n.GEN_AI_REQUEST_TEMPERATURE),
        ("topP", n.GEN_AI_REQUEST_TOP_P),
        ("stopSequences", n.GEN_AI_REQUEST_STOP_SEQUENCES),
    ),
}
# Stream chunks worth parsing; the many content deltas between them are skipped unparsed.
_MARKERS: Final = (b'"amazon-bedrock-invocationMetrics"', b'"message_start"', b'"message_delta"')
_FINISH_KEYS: Final = ("stop_reason", "stopReason", "completionReason")


def parse_json(raw: Any) -> dict[str, Any]:
    """A JSON object from bytes or str within :data:`MAX_BODY`, else ``{}`` (file objects too)."""
    if not isinstance(raw, (bytes, bytearray, str)) or len(raw) > MAX_BODY:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _operation(model_id: str, body: dict[str, Any]) -> str:
    if "embed" in model_id.lower():
        return "embeddings"
    if "messages" not in body and ("inputText" in body or "prompt" in body):
        return "text_completion"
    return "chat"


def read_invoke_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    """``InvokeModel`` / ``InvokeModelWithResponseStream``: ``args`` are (operation, params)."""
    operation_name, params = args[0], args[1]
    body = parse_json(params.get("body"))
    operation = _operation(str(params.get("modelId") or ""), body)
    request = bedrock_request(instance, params, operation, operation_name == "InvokeModelWithResponseStream")
    request.attributes = request_attributes(body, _TOP_LEVEL)
    for key, pairs in _NESTED.items():
        nested = body.get(key)
        if isinstance(nested, dict):
            request.attributes.update(request_attributes(nested, pairs))
    request.input_messages = body.get("messages") or body.get("inputText") or body.get("prompt")
    return request, kwargs


# --- bodies -----------------------------------------------------------------------------------------
def _anthropic_usage(usage: dict[str, Any]) -> Usage:
    return bedrock_usage(
        usage.get("input_tokens"),
        usage.get("cache_read_input_tokens"),
        usage.get("cache_creation_input_tokens"),
        usage.get("output_tokens"),
    )


def body_usage(body: dict[str, Any]) -> Usage | None:
    """Usage in a response body of the families that report it; None otherwise."""
    usage = body.get("usage")
    if isinstance(usage, dict) and "input_tokens" in usage:  # Anthropic Messages
        return _anthropic_usage(usage)
    if isinstance(usage, dict) and "inputTokens" in usage:  # Amazon Nova
        return bedrock_usage(
            usage.get("inputTokens"),
            usage.get("cacheReadInputTokenCount"),
            usage.get("cacheWriteInputTokenCount"),
            usage.get("outputTokens"),
        )
    if "inputTextTokenCount" in body:  # Amazon Titan text and embeddings
        results = body.get("results")
        output = sum(r.get("tokenCount") or 0 for r in results if isinstance(r, dict)) if results else 0
        return bedrock_usage(body["inputTextTokenCount"], 0, 0, output)
    return None


def _finish_reasons(body: dict[str, Any]) -> tuple[str, ...]:
    results = body.get("results")
    sources = [body, *(r for r in results if isinstance(r, dict))] if isinstance(results, list) else [body]
    for source in sources:
        for key in _FINISH_KEYS:
            if isinstance(source.get(key), str):
                return (source[key],)
    return ()


def body_response(body: dict[str, Any], request: Request) -> Response:
    """A parsed InvokeModel response body (any family; unknown ones give an empty response)."""
    response_id = body.get("id")
    return Response(
        response_id=response_id if isinstance(response_id, str) else None,
        model=model_name(request.model),
        finish_reasons=_finish_reasons(body),
        usage=body_usage(body),
    )


class InvokeBodyState:
    """InvokeModel's body as the caller reads it (when the headers carried no usage)."""

    __slots__ = ("parts", "request", "size")

    def __init__(self, request: Request) -> None:
        self.request = request
        self.parts: list[bytes] | None = []
        self.size = 0

    def on_chunk(self, chunk: bytes) -> None:
        if self.parts is None or not chunk:
            return
        self.size += len(chunk)
        if self.size > MAX_BODY:
            self.parts = None  # too large to keep: its usage becomes missing
        else:
            self.parts.append(chunk)

    def response(self) -> Response:
        return body_response(parse_json(b"".join(self.parts or ())), self.request)


class InvokeStreamState:
    """InvokeModelWithResponseStream ``chunk`` events (JSON bytes in the model's format)."""

    __slots__ = ("anthropic", "finish", "metrics", "request", "response_id")

    def __init__(self, request: Request) -> None:
        self.request = request
        self.metrics: dict[str, Any] | None = None
        self.anthropic: dict[str, Any] = {}
        self.finish: str | None = None
        self.response_id: str | None = None

    def on_chunk(self, chunk: Any) -> None:
        data = (chunk.get("chunk") or {}).get("bytes")
        if not isinstance(data, bytes) or not any(marker in data for marker in _MARKERS):
            return
        body = parse_json(data)
        metrics = body.get("amazon-bedrock-invocationMetrics")
        if isinstance(metrics, dict):
            self.metrics = metrics
        kind = body.get("type")
        if kind == "message_start":
            message = body.get("message") or {}
            self.response_id = message.get("id")
            self.anthropic.update(message.get("usage") or {})
        elif kind == "message_delta":
            self.anthropic.update(body.get("usage") or {})
            self.finish = (body.get("delta") or {}).get("stop_reason") or self.finish
        reasons = _finish_reasons(body)
        if reasons:
            self.finish = reasons[0]

    def response(self) -> Response:
        m = self.metrics
        usage = None
        if m is not None:
            usage = bedrock_usage(
                m.get("inputTokenCount"),
                m.get("cacheReadInputTokenCount"),
                m.get("cacheWriteInputTokenCount"),
                m.get("outputTokenCount"),
            )
        elif "input_tokens" in self.anthropic:
            usage = _anthropic_usage(self.anthropic)
        return Response(
            response_id=self.response_id,
            model=model_name(self.request.model),
            finish_reasons=(self.finish,) if self.finish else (),
            usage=usage,
        )
