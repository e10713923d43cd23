"""Mistral SDK (``mistralai``) -> neutral records: chat, FIM, agents completions and embeddings.

Duck-typed on the SDK's objects (no import of ``mistralai`` here). Mistral's usage has OpenAI's
semantics, which are also the GenAI ones: ``prompt_tokens`` include the cached prompt tokens
(``prompt_tokens_details.cached_tokens``, or the older top-level ``num_cached_tokens``) and
``completion_tokens`` include reasoning (``completion_tokens_details.reasoning_tokens``). The
SDK keeps those details as plain dicts (``UsageInfo`` allows extra fields), so both shapes are read.
Streams carry the usage in their last chunk; nothing is added to the request.
"""

from __future__ import annotations

from typing import Any, Final

from ... import names as n
from ...records import Request, Response, Usage
from .._common import as_int, field_of, given, provider_for, request_attributes, url_server
from .._provider import ReadRequest
from ..openai.mapping import ChatStreamState, choices_response

PROVIDER: Final = "mistral_ai"
# The SDK's named servers (``Mistral(server="eu")``); its default is "global".
_SERVERS: Final = {
    "global": "https://api.mistral.ai",
    "eu": "https://api.eu.mistral.ai",
    "us": "https://api.us.mistral.ai",
}
# Streams are ``EventStream`` / ``EventStreamAsync`` objects; early 1.x returned bare generators.
_STREAM_TYPES: Final = frozenset({"EventStream", "EventStreamAsync", "generator", "async_generator"})
_JSON_FORMATS: Final = frozenset({"json_object", "json_schema"})

_PARAMS: Final = (
    ("max_tokens", n.GEN_AI_REQUEST_MAX_TOKENS),
    ("temperature", n.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", n.GEN_AI_REQUEST_TOP_P),
    ("frequency_penalty", n.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", n.GEN_AI_REQUEST_PRESENCE_PENALTY),
    ("stop", n.GEN_AI_REQUEST_STOP_SEQUENCES),
    ("random_seed", n.GEN_AI_REQUEST_SEED),
    ("n", n.GEN_AI_REQUEST_CHOICE_COUNT),
)


def _server(instance: Any, kwargs: dict[str, Any]) -> tuple[str | None, int | None]:
    """Host and port the call goes to: the call's ``server_url``, else the client's configuration."""
    url = given(kwargs.get("server_url"))  # ``given`` knows the Speakeasy SDK's ``UNSET`` too
    if not url:
        config = getattr(instance, "sdk_configuration", None)
        url = getattr(config, "server_url", None) or _SERVERS.get(getattr(config, "server", None) or "global")
    return url_server(url) if isinstance(url, str) else (None, None)


def _output_type(response_format: Any) -> str:
    return "json" if field_of(response_format, "type") in _JSON_FORMATS else "text"


def _request(
    instance: Any, kwargs: dict[str, Any], operation: str, stream: bool, content_key: str
) -> Request:
    host, port = _server(instance, kwargs)
    model = given(kwargs.get("model"))
    request = Request(
        provider=provider_for(host, port, PROVIDER),
        operation=operation,
        model=str(model) if model is not None else None,
        stream=stream,
        server_address=host,
        server_port=port,
    )
    request.attributes = request_attributes(kwargs, _PARAMS)
    request.input_messages = given(kwargs.get(content_key))
    return request


def request_reader(operation: str, *, stream: bool, parse: bool = False) -> ReadRequest:
    """The request reader of one surface. ``parse``: the ``chat.parse*`` helpers, whose
    ``response_format`` is a pydantic class they turn into a JSON schema (output type json)."""
    content_key = {"text_completion": "prompt", "embeddings": "inputs"}.get(operation, "messages")

    def read(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Request, dict[str, Any]]:
        request = _request(instance, kwargs, operation, stream, content_key)
        if operation == "embeddings":
            encoding = given(kwargs.get("encoding_format"))
            if isinstance(encoding, str):
                request.attributes[n.GEN_AI_REQUEST_ENCODING_FORMATS] = [encoding]
        else:
            response_format = given(kwargs.get("response_format"))
            request.attributes[n.GEN_AI_OUTPUT_TYPE] = "json" if parse else _output_type(response_format)
        return request, kwargs

    return read


# --- responses -------------------------------------------------------------------------------------
def usage_of(usage: Any) -> Usage | None:
    """Mistral usage in GenAI semantics (prompt tokens include cached ones). OpenAI's fields, read
    apart from OpenAI's ``chat_usage``: the details may be dicts, and a response whose details have
    no cached count may have the older top-level one."""
    if usage is None:
        return None
    cached = field_of(field_of(usage, "prompt_tokens_details"), "cached_tokens")
    if cached is None:
        cached = field_of(usage, "num_cached_tokens")
    reasoning = field_of(field_of(usage, "completion_tokens_details"), "reasoning_tokens")
    return Usage(
        input_tokens=as_int(getattr(usage, "prompt_tokens", 0)),
        output_tokens=as_int(getattr(usage, "completion_tokens", 0)),
        cache_read_tokens=as_int(cached),
        reasoning_tokens=as_int(reasoning),
    )


def read_completion(result: Any) -> Response:
    """Chat, FIM and agents completions (and ``chat.parse``'s parsed response)."""
    return choices_response(result, usage_of(getattr(result, "usage", None)))


def read_embeddings(result: Any) -> Response:
    return Response(
        response_id=getattr(result, "id", None),
        model=getattr(result, "model", None),
        usage=usage_of(getattr(result, "usage", None)),
    )


# --- streams ---------------------------------------------------------------------------------------
class CompletionStreamState(ChatStreamState):
    """``CompletionEvent`` items: each wraps an OpenAI-shaped chunk in ``.data``; the last one
    carries the usage."""

    __slots__ = ()

    def on_chunk(self, event: Any) -> None:
        super().on_chunk(event.data)

    def read_usage(self) -> Usage | None:
        return usage_of(self.usage)


def is_stream(result: Any) -> bool:
    return type(result).__name__ in _STREAM_TYPES


# Completions keep their output in ``choices``, embeddings in ``data``.
CONTENT_ATTRIBUTES: Final = frozenset({"choices", "data"})
