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

from ... import names as n
from ...records import Request, Response, Usage
from .._common import as_int, given, request_attributes, url_server
from ..openai.mapping import CHAT_PARAMS, ChatStreamState, ask_for_usage_chunk, chat_usage, choices_response
from .providers import UNRESOLVED, semconv_provider

_STREAM_TYPE: Final = "CustomStreamWrapper"
# LiteLLM's test doubles: the call never reaches a provider and bills nothing.
_MOCKS: Final = ("mock_response", "mock_tool_calls", "mock_timeout")
# Set by acompletion / aembedding when they run the sync function as their body.
_ASYNC_BODY: Final = ("acompletion", "aembedding")


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
    return url_server(api_base) if isinstance(api_base, str) and api_base else (None, None)


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


def read_completion_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    """``completion`` / ``acompletion``."""
    request = _request("chat", _argument(args, kwargs, 0, "model"), kwargs)
    request.attributes = request_attributes(kwargs, CHAT_PARAMS)
    request.attributes[n.GEN_AI_OUTPUT_TYPE] = _output_type(given(kwargs.get("response_format")))
    request.input_messages = _argument(args, kwargs, 1, "messages")
    # LiteLLM only asks OpenAI itself for stream usage; asking every provider is safe (LiteLLM
    # never rejects ``stream_options``), and the usage chunk it adds is hidden.
    return request, ask_for_usage_chunk(request, kwargs)


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
    """LiteLLM ``Usage`` in GenAI semantics: OpenAI's, with cache reads and writes also where
    LiteLLM puts Anthropic's. All zeros means the provider sent none (LiteLLM fills in an empty
    ``Usage``; no real call has zero input tokens)."""
    result = chat_usage(value)
    if result is None or not (result.input_tokens or result.output_tokens):
        return None
    if not result.cache_read_tokens:
        result.cache_read_tokens = as_int(getattr(value, "cache_read_input_tokens", 0))
    result.cache_write_tokens = as_int(getattr(value, "cache_creation_input_tokens", 0)) or as_int(
        getattr(getattr(value, "prompt_tokens_details", None), "cache_creation_tokens", 0)
    )
    return result


def read_completion_response(result: Any) -> Response:
    return choices_response(result, usage(getattr(result, "usage", None)))


def read_embedding_response(result: Any) -> Response:
    return Response(model=getattr(result, "model", None) or None, usage=usage(getattr(result, "usage", None)))


# --- streams ---------------------------------------------------------------------------------------
class ChunkStreamState(ChatStreamState):
    """``CustomStreamWrapper`` chunks (``ModelResponseStream``, OpenAI-shaped): LiteLLM strips usage
    from every chunk and, with ``include_usage``, adds one last chunk carrying the total."""

    __slots__ = ()

    def read_usage(self) -> Usage | None:
        return usage(self.usage)


def hidden_usage_chunk(request: Request, chunk: Any) -> bool:
    """The usage chunk otel-tokens asked for; the caller did not."""
    return request.hide_usage_chunk and getattr(chunk, "usage", None) is not None


def is_stream(result: Any) -> bool:
    # ``__class__``, not ``type()``: the sync stream reaches here behind a proxy (see __init__).
    return getattr(result.__class__, "__name__", None) == _STREAM_TYPE


# Dict-style reads (``response["choices"]``, ``.get("choices")``) are how much LiteLLM code reads
# content; the proxy cannot see the key, so any subscript counts as a read.
CONTENT_ATTRIBUTES: Final = frozenset({"choices", "data", "__getitem__", "get"})
