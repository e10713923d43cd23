"""Mistral SDK (``mistralai``) -> neutral records: chat, FIM, agents completions and embeddings.

Duck-typed on the SDK's objects (no import of ``mistralai`` here). Mistral's usage has OpenAI's
semantics, which are also the GenAI ones: ``prompt_tokens`` include the cached prompt tokens
(``prompt_tokens_details.cached_tokens``, or the older top-level ``num_cached_tokens``) and
``completion_tokens`` include reasoning (``completion_tokens_details.reasoning_tokens``). The
SDK keeps those details as plain dicts (``UsageInfo`` allows extra fields), so both shapes are read.
Streams carry the usage in their last chunk; nothing is added to the request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final
from urllib.parse import urlsplit

from ... import names as n
from ...records import Request, Response, Usage
from .._common import as_int, given, provider_for, request_attributes

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


def _given(value: Any) -> Any:
    """:func:`given`, also for the Speakeasy SDK's ``UNSET`` sentinel."""
    return None if type(value).__name__ == "Unset" else given(value)


def _server(instance: Any, kwargs: dict[str, Any]) -> tuple[str | None, int | None]:
    """Host and port the call goes to: the call's ``server_url``, else the client's configuration."""
    url = _given(kwargs.get("server_url"))
    if not url:
        config = getattr(instance, "sdk_configuration", None)
        url = getattr(config, "server_url", None) or _SERVERS.get(getattr(config, "server", None) or "global")
    if not isinstance(url, str):
        return None, None
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.hostname, port


def _output_type(response_format: Any) -> str:
    kind = (
        response_format.get("type")
        if isinstance(response_format, dict)
        else getattr(response_format, "type", None)
    )
    return "json" if kind in _JSON_FORMATS else "text"


def _request(
    instance: Any, kwargs: dict[str, Any], operation: str, stream: bool, content_key: str
) -> Request:
    host, port = _server(instance, kwargs)
    model = _given(kwargs.get("model"))
    request = Request(
        provider=provider_for(host, port, PROVIDER),
        operation=operation,
        model=str(model) if model is not None else None,
        stream=stream,
        server_address=host,
        server_port=port,
    )
    request.attributes = request_attributes({k: _given(v) for k, v in kwargs.items()}, _PARAMS)
    request.input_messages = _given(kwargs.get(content_key))
    return request


ReadRequest = Callable[[Any, tuple[Any, ...], dict[str, Any]], tuple[Request, dict[str, Any]]]


def request_reader(operation: str, *, stream: bool, parse: bool = False) -> ReadRequest:
    """The request reader of one surface. ``parse``: the ``chat.parse*`` helpers, whose
    ``response_format`` is a pydantic class they turn into a JSON schema (output type json)."""
    content_key = {"text_completion": "prompt", "embeddings": "inputs"}.get(operation, "messages")

    def read(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Request, dict[str, Any]]:
        request = _request(instance, kwargs, operation, stream, content_key)
        if operation == "embeddings":
            encoding = _given(kwargs.get("encoding_format"))
            if isinstance(encoding, str):
                request.attributes[n.GEN_AI_REQUEST_ENCODING_FORMATS] = [encoding]
        else:
            response_format = _given(kwargs.get("response_format"))
            request.attributes[n.GEN_AI_OUTPUT_TYPE] = "json" if parse else _output_type(response_format)
        return request, kwargs

    return read


# --- responses -------------------------------------------------------------------------------------
def _detail(container: Any, key: str) -> Any:
    """A usage detail, kept by the SDK as a dict (extra field) or, in other versions, a model."""
    if isinstance(container, dict):
        return container.get(key)
    return getattr(container, key, None)


def usage_of(usage: Any) -> Usage | None:
    """Mistral usage in GenAI semantics (prompt tokens include cached ones)."""
    if usage is None:
        return None
    cached = _detail(_detail(usage, "prompt_tokens_details"), "cached_tokens")
    if cached is None:
        cached = _detail(usage, "num_cached_tokens")
    reasoning = _detail(_detail(usage, "completion_tokens_details"), "reasoning_tokens")
    return Usage(
        input_tokens=as_int(getattr(usage, "prompt_tokens", 0)),
        output_tokens=as_int(getattr(usage, "completion_tokens", 0)),
        cache_read_tokens=as_int(cached),
        reasoning_tokens=as_int(reasoning),
    )


def _choice_output(choice: Any) -> Any:
    message = getattr(choice, "message", None)
    return getattr(message, "content", None)


def read_completion(result: Any) -> Response:
    """Chat, FIM and agents completions (and ``chat.parse``'s parsed response)."""
    choices = getattr(result, "choices", None) or ()
    return Response(
        response_id=getattr(result, "id", None),
        model=getattr(result, "model", None),
        finish_reasons=tuple(str(c.finish_reason) for c in choices if getattr(c, "finish_reason", None)),
        usage=usage_of(getattr(result, "usage", None)),
        output_messages=lambda: [_choice_output(c) for c in choices],
    )


def read_embeddings(result: Any) -> Response:
    return Response(
        response_id=getattr(result, "id", None),
        model=getattr(result, "model", None),
        usage=usage_of(getattr(result, "usage", None)),
    )


# --- streams ---------------------------------------------------------------------------------------
class CompletionStreamState:
    """``CompletionEvent`` items: each wraps a chunk in ``.data``; the last one carries the usage."""

    __slots__ = ("finish", "model", "response_id", "usage")

    def __init__(self, request: Request) -> None:
        self.response_id: str | None = None
        self.model: str | None = None
        self.finish: dict[int, str] = {}
        self.usage: Any = None

    def on_chunk(self, event: Any) -> None:
        chunk = event.data
        if self.response_id is None:
            self.response_id = chunk.id
            self.model = chunk.model
        for choice in chunk.choices:
            if choice.finish_reason:
                self.finish[choice.index] = str(choice.finish_reason)
        if chunk.usage is not None:
            self.usage = chunk.usage

    def response(self) -> Response:
        return Response(
            response_id=self.response_id,
            model=self.model,
            finish_reasons=tuple(self.finish[i] for i in sorted(self.finish)),
            usage=usage_of(self.usage),
        )


def is_stream(result: Any) -> bool:
    return type(result).__name__ in _STREAM_TYPES


# Completions keep their output in ``choices``, embeddings in ``data``.
CONTENT_ATTRIBUTES: Final = frozenset({"choices", "data"})
