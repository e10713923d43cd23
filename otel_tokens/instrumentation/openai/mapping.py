"""OpenAI SDK -> neutral records: chat completions, Responses API, embeddings, legacy completions.

Duck-typed on the SDK's objects (no import of ``openai`` here), so it serves every supported
SDK version and OpenAI-compatible servers reached through it.
"""

from __future__ import annotations

import weakref
from typing import Any, Final

from ... import names as n
from ...records import Request, Response, Usage
from .._common import as_int, given, request_attributes, server_of
from .._provider import RawKind

PROVIDER: Final = "openai"
_STREAM_TYPES: Final = frozenset({"Stream", "AsyncStream"})

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
_RESPONSES_PARAMS: Final = (
    ("max_output_tokens", n.GEN_AI_REQUEST_MAX_TOKENS),
    ("temperature", n.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", n.GEN_AI_REQUEST_TOP_P),
)


def _base_request(instance: Any, kwargs: dict[str, Any], operation: str) -> Request:
    provider, host, port = server_of(getattr(instance, "_client", None), PROVIDER)
    model = given(kwargs.get("model"))
    stream = given(kwargs.get("stream")) is True
    user = given(kwargs.get("safety_identifier")) or given(kwargs.get("user"))
    return Request(
        provider=provider,
        operation=operation,
        model=str(model) if model is not None else None,
        stream=stream,
        server_address=host,
        server_port=port,
        end_user=user if isinstance(user, str) else None,
    )


def _with_usage_chunk(request: Request, kwargs: dict[str, Any]) -> dict[str, Any]:
    # Ask for the usage chunk only when the caller set no stream_options, and hide it later.
    if request.stream and given(kwargs.get("stream_options")) is None:
        request.hide_usage_chunk = True
        return {**kwargs, "stream_options": {"include_usage": True}}
    return kwargs


def _output_type(response_format: Any) -> str:
    if response_format is None:
        return "text"
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    return "json" if kind in ("json_schema", "json_object") or kind is None else "text"


def read_chat_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    request = _base_request(instance, kwargs, "chat")
    request.attributes = request_attributes(kwargs, _CHAT_PARAMS)
    request.attributes[n.GEN_AI_OUTPUT_TYPE] = _output_type(given(kwargs.get("response_format")))
    request.input_messages = given(kwargs.get("messages"))
    return request, _with_usage_chunk(request, kwargs)


def read_completion_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    request = _base_request(instance, kwargs, "text_completion")
    request.attributes = request_attributes(kwargs, _CHAT_PARAMS)
    request.input_messages = given(kwargs.get("prompt"))
    return request, _with_usage_chunk(request, kwargs)


def read_responses_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    request = _base_request(instance, kwargs, "chat")
    request.attributes = request_attributes(kwargs, _RESPONSES_PARAMS)
    request.input_messages = given(kwargs.get("input"))
    return request, kwargs


def read_embeddings_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    request = _base_request(instance, kwargs, "embeddings")
    encoding = given(kwargs.get("encoding_format"))
    if isinstance(encoding, str):
        request.attributes = {n.GEN_AI_REQUEST_ENCODING_FORMATS: [encoding]}
    return request, kwargs


# --- responses -------------------------------------------------------------------------------------
def chat_usage(usage: Any) -> Usage | None:
    """Chat/legacy/embeddings usage: prompt_tokens include cached, completion_tokens include reasoning."""
    if usage is None:
        return None
    prompt_details = getattr(usage, "prompt_tokens_details", None)
    completion_details = getattr(usage, "completion_tokens_details", None)
    return Usage(
        input_tokens=as_int(getattr(usage, "prompt_tokens", 0)),
        output_tokens=as_int(getattr(usage, "completion_tokens", 0)),
        cache_read_tokens=as_int(getattr(prompt_details, "cached_tokens", 0)),
        reasoning_tokens=as_int(getattr(completion_details, "reasoning_tokens", 0)),
    )


def responses_usage(usage: Any) -> Usage | None:
    if usage is None:
        return None
    return Usage(
        input_tokens=as_int(getattr(usage, "input_tokens", 0)),
        output_tokens=as_int(getattr(usage, "output_tokens", 0)),
        cache_read_tokens=as_int(getattr(getattr(usage, "input_tokens_details", None), "cached_tokens", 0)),
        reasoning_tokens=as_int(
            getattr(getattr(usage, "output_tokens_details", None), "reasoning_tokens", 0)
        ),
    )


def read_chat_response(result: Any) -> Response:
    choices = getattr(result, "choices", None) or ()
    return Response(
        response_id=getattr(result, "id", None),
        model=getattr(result, "model", None),
        finish_reasons=tuple(str(c.finish_reason) for c in choices if getattr(c, "finish_reason", None)),
        usage=chat_usage(getattr(result, "usage", None)),
        output_messages=lambda: [_choice_text(c) for c in choices],
    )


def _choice_text(choice: Any) -> Any:
    message = getattr(choice, "message", None)
    return getattr(message, "content", None) if message is not None else getattr(choice, "text", None)


def read_responses_response(result: Any) -> Response:
    status = getattr(result, "status", None)
    return Response(
        response_id=getattr(result, "id", None),
        model=getattr(result, "model", None),
        finish_reasons=(str(status),) if status else (),
        usage=responses_usage(getattr(result, "usage", None)),
        output_messages=lambda: getattr(result, "output_text", None),
    )


def read_embeddings_response(result: Any) -> Response:
    return Response(model=getattr(result, "model", None), usage=chat_usage(getattr(result, "usage", None)))


# --- streams ---------------------------------------------------------------------------------------
class ChatStreamState:
    """Chat and legacy completion chunks; the usage chunk has no choices."""

    __slots__ = ("finish", "model", "request", "response_id", "usage")

    def __init__(self, request: Request) -> None:
        self.request = request
        self.response_id: str | None = None
        self.model: str | None = None
        self.finish: dict[int, str] = {}
        self.usage: Any = None

    def on_chunk(self, chunk: Any) -> None:
        if self.response_id is None:
            self.response_id = chunk.id
            self.model = chunk.model
        for choice in chunk.choices:
            if choice.finish_reason:
                self.finish[choice.index] = choice.finish_reason
        if chunk.usage is not None:
            self.usage = chunk.usage

    def response(self) -> Response:
        return Response(
            response_id=self.response_id,
            model=self.model,
            finish_reasons=tuple(self.finish[i] for i in sorted(self.finish)),
            usage=chat_usage(self.usage),
        )


class ResponsesStreamState:
    """Responses API events: the final response carries usage."""

    __slots__ = ("final", "model", "response_id")

    _FINAL: Final = frozenset({"response.completed", "response.incomplete", "response.failed"})

    def __init__(self, request: Request) -> None:
        self.final: Any = None
        self.response_id: str | None = None
        self.model: str | None = None

    def on_chunk(self, event: Any) -> None:
        kind = event.type
        if kind == "response.created":
            self.response_id = event.response.id
            self.model = event.response.model
        elif kind in self._FINAL:
            self.final = event.response

    def response(self) -> Response:
        if self.final is not None:
            return read_responses_response(self.final)
        return Response(response_id=self.response_id, model=self.model)


def hidden_usage_chunk(request: Request, chunk: Any) -> bool:
    """The usage-only chunk (no choices) that otel-tokens asked for; the caller did not."""
    if not request.hide_usage_chunk or chunk.choices:
        return False
    extra = getattr(chunk, "model_extra", None) or {}  # a renamed usage field is still ours to hide
    return chunk.usage is not None or any("usage" in key for key in extra)


def no_hidden_chunk(request: Request, chunk: Any) -> bool:
    return False


def is_stream(result: Any) -> bool:
    cls = type(result)
    try:
        return _stream_classes[cls]
    except KeyError:
        pass
    except TypeError:  # an unhashable class: decide without the cache
        return _is_stream_class(cls)
    found = _stream_classes[cls] = _is_stream_class(cls)
    return found


def _is_stream_class(cls: type) -> bool:
    # A peer's stream wrapper (OpenLLMetry's, openai-v2's) around the SDK's stream hides its type.
    # (hasattr on a pydantic model class raises inside its metaclass: worth caching per class.)
    return cls.__name__ in _STREAM_TYPES or hasattr(cls, "__next__") or hasattr(cls, "__anext__")


_stream_classes: weakref.WeakKeyDictionary[type, bool] = weakref.WeakKeyDictionary()


def raw_kind(result: Any) -> RawKind | None:
    name = type(result).__name__
    if name == "LegacyAPIResponse":
        return "eager"
    if name in ("APIResponse", "AsyncAPIResponse"):
        return "lazy"
    return None


def no_stream(request: Request) -> ChatStreamState:
    return ChatStreamState(request)


CONTENT_ATTRIBUTES: Final = frozenset({"choices", "output", "output_text", "output_parsed", "data", "text"})
