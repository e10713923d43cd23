"""Anthropic SDK -> neutral records: Messages API (``create``, ``parse``, ``stream``), plain and beta.

Duck-typed on the SDK's objects (no import of ``anthropic`` here). Anthropic reports
``input_tokens`` *without* cache reads and writes; the OTel GenAI conventions count them in,
so :func:`message_usage` sums the three. ``output_tokens`` already includes thinking tokens.
"""

from __future__ import annotations

from typing import Any, Final

from ... import names as n
from ...records import Request, Response, Usage
from .._common import as_int, given, is_stainless_stream, request_attributes, server_of, stainless_raw_kind

PROVIDER: Final = "anthropic"
# The SDK's cloud-platform clients (AnthropicBedrock, AnthropicVertex, ...) bill through the platform.
_PLATFORMS: Final = (
    ("Bedrock", "aws.bedrock"),
    ("AWS", "aws.bedrock"),
    ("Vertex", "gcp.vertex_ai"),
    ("GoogleCloud", "gcp.vertex_ai"),
)
# Usage fields a stream event may carry; later events override earlier ones with non-null values.
_USAGE_FIELDS: Final = (
    "input_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "output_tokens",
)

_PARAMS: Final = (
    ("max_tokens", n.GEN_AI_REQUEST_MAX_TOKENS),
    ("temperature", n.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", n.GEN_AI_REQUEST_TOP_P),
    ("stop_sequences", n.GEN_AI_REQUEST_STOP_SEQUENCES),
)


def _output_type(kwargs: dict[str, Any]) -> str:
    if given(kwargs.get("output_format")) is not None:
        return "json"
    config = given(kwargs.get("output_config"))
    has_format = isinstance(config, dict) and config.get("format") is not None
    return "json" if has_format else "text"


def _request(instance: Any, kwargs: dict[str, Any], stream: bool) -> Request:
    client = getattr(instance, "_client", None)
    client_type = type(client).__name__
    default = next((p for marker, p in _PLATFORMS if marker in client_type), PROVIDER)
    provider, host, port = server_of(client, default)
    model = given(kwargs.get("model"))
    metadata = given(kwargs.get("metadata"))
    user = metadata.get("user_id") if isinstance(metadata, dict) else None
    request = Request(
        provider=provider,
        operation="chat",
        model=str(model) if model is not None else None,
        stream=stream,
        server_address=host,
        server_port=port,
        end_user=user if isinstance(user, str) else None,
    )
    request.attributes = request_attributes(kwargs, _PARAMS)
    request.attributes[n.GEN_AI_OUTPUT_TYPE] = _output_type(kwargs)
    request.input_messages = given(kwargs.get("messages"))
    return request


def read_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    """``messages.create`` / ``messages.parse``: the call's arguments are passed on unchanged."""
    return _request(instance, kwargs, given(kwargs.get("stream")) is True), kwargs


def read_stream_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    """``messages.stream()``: the helper always streams."""
    return _request(instance, kwargs, True), kwargs


# --- responses -------------------------------------------------------------------------------------
def _usage(uncached: Any, cache_read: Any, cache_write: Any, output: Any, thinking: Any) -> Usage:
    read, write = as_int(cache_read), as_int(cache_write)
    return Usage(
        input_tokens=as_int(uncached) + read + write,
        output_tokens=as_int(output),
        cache_read_tokens=read,
        cache_write_tokens=write,
        reasoning_tokens=as_int(thinking),
    )


def message_usage(usage: Any) -> Usage | None:
    """Anthropic usage in GenAI semantics: input = uncached + cache read + cache write."""
    if usage is None:
        return None
    return _usage(
        getattr(usage, "input_tokens", 0),
        getattr(usage, "cache_read_input_tokens", 0),
        getattr(usage, "cache_creation_input_tokens", 0),
        getattr(usage, "output_tokens", 0),
        getattr(getattr(usage, "output_tokens_details", None), "thinking_tokens", 0),
    )


def _block(block: Any) -> Any:
    kind = getattr(block, "type", None)
    if kind == "text":
        return getattr(block, "text", None)
    if kind == "tool_use":
        return {"type": kind, "name": getattr(block, "name", None), "input": getattr(block, "input", None)}
    return {"type": kind}


def read_message(result: Any) -> Response:
    stop_reason = getattr(result, "stop_reason", None)
    return Response(
        response_id=getattr(result, "id", None),
        model=getattr(result, "model", None),
        finish_reasons=(str(stop_reason),) if stop_reason else (),
        usage=message_usage(getattr(result, "usage", None)),
        output_messages=lambda: [_block(b) for b in getattr(result, "content", None) or ()],
    )


# --- streams ---------------------------------------------------------------------------------------
class MessageStreamState:
    """Raw stream events: ``message_start`` brings id, model and input usage; ``message_delta``
    brings the stop reason and the final (cumulative) output usage."""

    __slots__ = ("model", "response_id", "stop_reason", "thinking", "usage")

    def __init__(self, request: Request) -> None:
        self.response_id: str | None = None
        self.model: str | None = None
        self.stop_reason: str | None = None
        self.usage: dict[str, Any] = {}
        self.thinking: Any = None

    def _take_usage(self, usage: Any) -> None:
        if usage is None:
            return
        for field in _USAGE_FIELDS:
            value = getattr(usage, field, None)
            if value is not None:
                self.usage[field] = value
        thinking = getattr(getattr(usage, "output_tokens_details", None), "thinking_tokens", None)
        if thinking is not None:
            self.thinking = thinking

    def on_chunk(self, chunk: Any) -> None:
        kind = getattr(chunk, "type", None)
        if kind == "message_start":
            message = chunk.message
            self.response_id = message.id
            self.model = message.model
            self._take_usage(getattr(message, "usage", None))
        elif kind == "message_delta":
            stop_reason = getattr(chunk.delta, "stop_reason", None)
            if stop_reason:
                self.stop_reason = stop_reason
            self._take_usage(getattr(chunk, "usage", None))

    def response(self) -> Response:
        u = self.usage
        usage = None
        if u:
            usage = _usage(
                u.get("input_tokens"),
                u.get("cache_read_input_tokens"),
                u.get("cache_creation_input_tokens"),
                u.get("output_tokens"),
                self.thinking,
            )
        return Response(
            response_id=self.response_id,
            model=self.model,
            finish_reasons=(self.stop_reason,) if self.stop_reason else (),
            usage=usage,
        )


# Stainless-generated like ``openai``: the same stream and raw-response types (``with_raw_response``,
# ``with_streaming_response``).
is_stream: Final = is_stainless_stream
raw_kind: Final = stainless_raw_kind

CONTENT_ATTRIBUTES: Final = frozenset({"content", "parsed_output"})
