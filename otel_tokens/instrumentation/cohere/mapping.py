"""Cohere SDK (``cohere``) -> neutral records: API v2 ``chat``, ``chat_stream`` and ``embed``.

Duck-typed on the SDK's objects (no import of ``cohere`` here). Cohere reports two sets of
counts: ``usage.billed_units`` (what Cohere charges) and ``usage.tokens`` (what the model
processed, which adds Cohere's own prompt template to the input). otel-tokens counts billed
tokens (its token metrics sum to the billed total and its cost is computed from the same
counts), so the GenAI input / output tokens are the ``billed_units``; ``tokens`` is the fallback
when a response has no ``billed_units``, and only then is ``cached_tokens`` read as cache reads
(cache hits are counted over the processed prompt, not the billed one). This is how genai-prices
reads Cohere usage too. Counts arrive as floats (``20.0``) and are read as whole tokens.
Responses do not name the model: the request's model is used.
"""

from __future__ import annotations

import math
from typing import Any, Final

from ... import names as n
from ...records import Request, Response, Usage
from .._common import as_int, field_of, given, provider_for, request_attributes, url_server

PROVIDER: Final = "cohere"
# The SDK's cloud clients inherit ``ClientV2`` but reach their platform (their base URL is unused).
# Bedrock is a semconv well-known provider; SageMaker and OCI are not, so they get their own names.
_PLATFORMS: Final = (("Bedrock", "aws.bedrock"), ("Sagemaker", "aws.sagemaker"), ("Oci", "oci.generative_ai"))
_STREAM_TYPES: Final = frozenset({"generator", "async_generator"})

_PARAMS: Final = (
    ("max_tokens", n.GEN_AI_REQUEST_MAX_TOKENS),
    ("temperature", n.GEN_AI_REQUEST_TEMPERATURE),
    ("p", n.GEN_AI_REQUEST_TOP_P),
    ("frequency_penalty", n.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", n.GEN_AI_REQUEST_PRESENCE_PENALTY),
    ("stop_sequences", n.GEN_AI_REQUEST_STOP_SEQUENCES),
    ("seed", n.GEN_AI_REQUEST_SEED),
)


def _server(instance: Any) -> tuple[str | None, int | None]:
    # ClientV2 holds the client wrapper itself; a bare V2Client (``Client().v2``) through its raw client.
    wrapper = getattr(instance, "_client_wrapper", None) or getattr(
        getattr(instance, "_raw_client", None), "_client_wrapper", None
    )
    get_base_url = getattr(wrapper, "get_base_url", None)
    url = get_base_url() if callable(get_base_url) else None
    return url_server(url) if isinstance(url, str) else (None, None)


def _request(instance: Any, kwargs: dict[str, Any], operation: str, stream: bool) -> Request:
    client_type = type(instance).__name__
    platform = next((name for marker, name in _PLATFORMS if marker in client_type), None)
    host, port = (None, None) if platform else _server(instance)
    model = given(kwargs.get("model"))  # ``given`` knows the Fern SDK's ``OMIT`` (``...``) too
    request = Request(
        provider=platform or provider_for(host, port, PROVIDER),
        operation=operation,
        model=str(model) if model is not None else None,
        stream=stream,
        server_address=host,
        server_port=port,
    )
    request.attributes = request_attributes(kwargs, _PARAMS)
    return request


def _output_type(response_format: Any) -> str:
    return "json" if field_of(response_format, "type") == "json_object" else "text"


def _read_chat(instance: Any, kwargs: dict[str, Any], stream: bool) -> tuple[Request, dict[str, Any]]:
    request = _request(instance, kwargs, "chat", stream)
    request.attributes[n.GEN_AI_OUTPUT_TYPE] = _output_type(given(kwargs.get("response_format")))
    request.input_messages = given(kwargs.get("messages"))
    return request, kwargs


def read_chat_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    return _read_chat(instance, kwargs, stream=False)


def read_chat_stream_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    return _read_chat(instance, kwargs, stream=True)


def read_embed_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    request = _request(instance, kwargs, "embeddings", stream=False)
    types = given(kwargs.get("embedding_types"))
    if isinstance(types, (list, tuple)) and types:
        request.attributes[n.GEN_AI_REQUEST_ENCODING_FORMATS] = [str(t) for t in types]
    request.input_messages = given(kwargs.get("texts")) or given(kwargs.get("inputs"))
    return request, kwargs


# --- responses -------------------------------------------------------------------------------------
def count(value: Any) -> int:
    """A Cohere count (a float such as ``20.0``) as whole tokens."""
    if isinstance(value, float):
        return as_int(round(value)) if math.isfinite(value) else 0
    return as_int(value)


def usage_of(usage: Any) -> Usage | None:
    """Chat usage (``usage``) or embed metadata (``meta``): billed units, else processed tokens."""
    if usage is None:
        return None
    billed = getattr(usage, "billed_units", None)
    if billed is not None and (billed.input_tokens is not None or billed.output_tokens is not None):
        return Usage(input_tokens=count(billed.input_tokens), output_tokens=count(billed.output_tokens))
    tokens = getattr(usage, "tokens", None)
    if tokens is None:
        return None
    input_tokens = count(tokens.input_tokens)
    return Usage(
        input_tokens=input_tokens,
        output_tokens=count(tokens.output_tokens),
        cache_read_tokens=min(count(getattr(usage, "cached_tokens", None)), input_tokens),
    )


def _output(message: Any) -> Any:
    content = getattr(message, "content", None)
    if content:
        return [getattr(item, "text", None) for item in content]
    calls = getattr(message, "tool_calls", None) or ()
    return [{"type": "tool_call", "name": getattr(call.function, "name", None)} for call in calls]


def read_chat(result: Any) -> Response:
    finish = getattr(result, "finish_reason", None)
    return Response(
        response_id=getattr(result, "id", None),
        finish_reasons=(str(finish),) if finish else (),
        usage=usage_of(getattr(result, "usage", None)),
        output_messages=lambda: _output(getattr(result, "message", None)),
    )


def read_embed(result: Any) -> Response:
    return Response(response_id=getattr(result, "id", None), usage=usage_of(getattr(result, "meta", None)))


# --- streams ---------------------------------------------------------------------------------------
class ChatStreamState:
    """v2 chat events: ``message-start`` brings the id, ``message-end`` the finish reason and usage."""

    __slots__ = ("finish", "response_id", "usage")

    def __init__(self, request: Request) -> None:
        self.response_id: str | None = None
        self.finish: str | None = None
        self.usage: Any = None

    def on_chunk(self, event: Any) -> None:
        kind = event.type
        if kind == "message-start":
            self.response_id = event.id
        elif kind == "message-end" and event.delta is not None:
            self.finish = event.delta.finish_reason
            self.usage = event.delta.usage

    def response(self) -> Response:
        return Response(
            response_id=self.response_id,
            finish_reasons=(str(self.finish),) if self.finish else (),
            usage=usage_of(self.usage),
        )


def is_stream(result: Any) -> bool:
    """``chat_stream`` is a generator function (an async one on the async client)."""
    return type(result).__name__ in _STREAM_TYPES


# Chat output is in ``message``; embeddings in ``embeddings``.
CONTENT_ATTRIBUTES: Final = frozenset({"message", "embeddings"})
