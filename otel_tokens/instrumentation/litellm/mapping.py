"""LiteLLM -> neutral records: ``completion`` / ``acompletion`` (chat, streamed or not) and
``embedding`` / ``aembedding``.

Duck-typed on LiteLLM's objects (no import of ``litellm`` here). LiteLLM normalises every
provider to OpenAI-shaped objects (``ModelResponse``, ``ModelResponseStream`` chunks,
``EmbeddingResponse``) whose ``Usage`` is already in GenAI semantics: ``prompt_tokens``
include cache reads and writes (LiteLLM adds Anthropic's), ``completion_tokens`` include
reasoning. The provider is LiteLLM's own resolution of the model (``get_llm_provider``),
named with the semconv values (see :mod:`.providers`), and the request model is the one sent
to that provider (``gpt-4o`` for ``openai/gpt-4o``).
"""

from __future__ import annotations

import sys
from typing import Any, Final
from urllib.parse import urlsplit

from ... import names as n
from ...records import Request, Response, Usage
from .._common import as_int, given, request_attributes
from .providers import UNRESOLVED, semconv_provider

_STREAM_TYPE: Final = "CustomStreamWrapper"
# LiteLLM's test doubles: the call never reaches a provider and bills nothing.
_MOCKS: Final = ("mock_response", "mock_tool_calls", "mock_timeout")
# Set by acompletion / aembedding when they run the sync function as their body.
_ASYNC_BODY: Final = ("acompletion", "aembedding")

_CHAT_PARAMS: Final = (
    ("max_completion_tokens", n.GEN_AI_REQUEST_MAX_TOKENS),
    ("max_tokens", n.GEN_AI_REQUEST_MAX_TOKENS),
    ("temperature", n.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", n.GEN_AI_REQUEST_TOP_P),
    ("frequency_penalty", n.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", n.GEN_AI_REQUEST_PRESENCE_PENALTY),
    ("stop", n.GEN_AI_REQUEST_STOP_SEQUENCES),
    ("seed", n.GEN_AI_REQUEST_SEED),
    ("n", n.GEN_AI_REQUEST_CHOICE_COUNT),
)


def not_a_logical_call(kwargs: dict[str, Any]) -> bool:
    """The sync body of ``acompletion`` / ``aembedding`` (the async call is the logical one,
    even when LiteLLM runs the body in a thread without our context), or a mock response."""
    return any(kwargs.get(flag) is True for flag in _ASYNC_BODY) or any(
        kwargs.get(mock) is not None for mock in _MOCKS
    )


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], position: int, name: str) -> Any:
    """``completion(model, messages, ...)`` / ``embedding(model, input, ...)``: the first two
    parameters are the ones passed positionally in practice."""
    return args[position] if len(args) > position else given(kwargs.get(name))


def _server(api_base: Any) -> tuple[str | None, int | None]:
    if not isinstance(api_base, str) or not api_base:
        return None, None
    url = urlsplit(api_base)
    port = url.port or (443 if url.scheme == "https" else 80 if url.scheme == "http" else None)
    return url.hostname, port


def _resolve(model: Any, kwargs: dict[str, Any]) -> tuple[str | None, str, str | None, int | None]:
    """(model sent to the provider, semconv provider, host, port), from LiteLLM's own resolution."""
    api_base = given(kwargs.get("api_base")) or given(kwargs.get("base_url"))
    if not isinstance(model, str):
        return None, UNRESOLVED, *_server(api_base)
    litellm: Any = sys.modules.get("litellm")  # imported: it is the caller
    try:
        sent_model, provider, _, dynamic_base = litellm.get_llm_provider(
            model=model, custom_llm_provider=given(kwargs.get("custom_llm_provider")), api_base=api_base
        )
    except Exception:  # noqa: BLE001 - LiteLLM rejects the model too: the call fails, its span says so
        return model, UNRESOLVED, *_server(api_base)
    host, port = _server(api_base or dynamic_base)
    return str(sent_model), semconv_provider(str(provider), host, port), host, port


def _request(operation: str, model: Any, kwargs: dict[str, Any]) -> Request:
    sent_model, provider, host, port = _resolve(model, kwargs)
    user = given(kwargs.get("safety_identifier")) or given(kwargs.get("user"))
    return Request(
        provider=provider,
        operation=operation,
        model=sent_model,
        stream=given(kwargs.get("stream")) is True,
        server_address=host,
        server_port=port,
        end_user=user if isinstance(user, str) else None,
    )


def _output_type(response_format: Any) -> str:
    if response_format is None:
        return "text"
    if isinstance(response_format, dict):
        return "json" if response_format.get("type") in ("json_schema", "json_object") else "text"
    return "json"  # a pydantic model class


def _with_usage_chunk(request: Request, kwargs: dict[str, Any]) -> dict[str, Any]:
    # LiteLLM only asks OpenAI itself for stream usage; ask every provider when the caller set
    # no stream_options (LiteLLM never rejects it), and hide the usage chunk it adds.
    if request.stream and given(kwargs.get("stream_options")) is None:
        request.hide_usage_chunk = True
        return {**kwargs, "stream_options": {"include_usage": True}}
    return kwargs


def read_completion_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    """``completion`` / ``acompletion``."""
    request = _request("chat", _argument(args, kwargs, 0, "model"), kwargs)
    request.attributes = request_attributes(kwargs, _CHAT_PARAMS)
    request.attributes[n.GEN_AI_OUTPUT_TYPE] = _output_type(given(kwargs.get("response_format")))
    request.input_messages = _argument(args, kwargs, 1, "messages")
    return request, _with_usage_chunk(request, kwargs)


def read_embedding_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    """``embedding`` / ``aembedding``."""
    request = _request("embeddings", _argument(args, kwargs, 0, "model"), kwargs)
    encoding = given(kwargs.get("encoding_format"))
    if isinstance(encoding, str):
        request.attributes = {n.GEN_AI_REQUEST_ENCODING_FORMATS: [encoding]}
    return request, kwargs


# --- responses -------------------------------------------------------------------------------------
def usage(value: Any) -> Usage | None:
    """LiteLLM ``Usage`` in GenAI semantics. All zeros means the provider sent none (LiteLLM
    fills in an empty ``Usage``; no real call has zero input tokens)."""
    if value is None:
        return None
    prompt_details = getattr(value, "prompt_tokens_details", None)
    completion_details = getattr(value, "completion_tokens_details", None)
    result = Usage(
        input_tokens=as_int(getattr(value, "prompt_tokens", 0)),
        output_tokens=as_int(getattr(value, "completion_tokens", 0)),
        cache_read_tokens=as_int(getattr(prompt_details, "cached_tokens", 0))
        or as_int(getattr(value, "cache_read_input_tokens", 0)),
        cache_write_tokens=as_int(getattr(value, "cache_creation_input_tokens", 0))
        or as_int(getattr(prompt_details, "cache_creation_tokens", 0)),
        reasoning_tokens=as_int(getattr(completion_details, "reasoning_tokens", 0)),
    )
    return result if result.input_tokens or result.output_tokens else None


def _message_text(choice: Any) -> Any:
    message = getattr(choice, "message", None)
    return getattr(message, "content", None)


def read_completion_response(result: Any) -> Response:
    choices = getattr(result, "choices", None) or ()
    return Response(
        response_id=getattr(result, "id", None),
        model=getattr(result, "model", None) or None,
        finish_reasons=tuple(str(c.finish_reason) for c in choices if getattr(c, "finish_reason", None)),
        usage=usage(getattr(result, "usage", None)),
        output_messages=lambda: [_message_text(c) for c in choices],
    )


def read_embedding_response(result: Any) -> Response:
    return Response(model=getattr(result, "model", None) or None, usage=usage(getattr(result, "usage", None)))


# --- streams ---------------------------------------------------------------------------------------
class ChunkStreamState:
    """``CustomStreamWrapper`` chunks (``ModelResponseStream``): LiteLLM strips usage from every
    chunk and, with ``include_usage``, adds one last chunk carrying the total."""

    __slots__ = ("finish", "model", "response_id", "usage")

    def __init__(self, request: Request) -> None:
        self.response_id: str | None = None
        self.model: str | None = None
        self.finish: dict[int, str] = {}
        self.usage: Any = None

    def on_chunk(self, chunk: Any) -> None:
        if self.response_id is None:
            self.response_id = chunk.id or None
            self.model = chunk.model or None
        for choice in chunk.choices:
            if choice.finish_reason:
                self.finish[choice.index] = choice.finish_reason
        total = getattr(chunk, "usage", None)
        if total is not None:
            self.usage = total

    def response(self) -> Response:
        return Response(
            response_id=self.response_id,
            model=self.model,
            finish_reasons=tuple(self.finish[i] for i in sorted(self.finish)),
            usage=usage(self.usage),
        )


def hidden_usage_chunk(request: Request, chunk: Any) -> bool:
    """The usage chunk otel-tokens asked for; the caller did not."""
    return request.hide_usage_chunk and getattr(chunk, "usage", None) is not None


def is_stream(result: Any) -> bool:
    # ``__class__``, not ``type()``: the sync stream reaches here behind a proxy (see __init__).
    return getattr(result.__class__, "__name__", None) == _STREAM_TYPE


# Dict-style reads (``response["choices"]``, ``.get("choices")``) are how much LiteLLM code reads
# content; the proxy cannot see the key, so any subscript counts as a read.
CONTENT_ATTRIBUTES: Final = frozenset({"choices", "data", "__getitem__", "get"})
