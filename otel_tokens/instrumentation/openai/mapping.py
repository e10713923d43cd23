"""OpenAI SDK -> neutral records: chat completions, Responses API, embeddings, legacy completions.

Duck-typed on the SDK's objects (no import of ``openai`` here), so it serves every supported
SDK version and OpenAI-compatible servers reached through it. The OpenAI-shaped pieces (chat
request parameters, chat usage, completions with ``choices`` and their stream chunks) serve the
SDKs that mirror OpenAI's API too: groq, mistralai, litellm.
"""

from __future__ import annotations

from typing import Any, Final

from ... import names as n
from ...records import Request, Response, Usage
from .._common import as_int, given, is_stainless_stream, request_attributes, server_of, stainless_raw_kind

PROVIDER: Final = "openai"

# Chat (and legacy completion) call arguments -> semconv request attributes.
CHAT_PARAMS: Final = (
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


def _base_request(instance: Any, kwargs: dict[str, Any], operation: str, default_provider: str) -> Request:
    provider, host, port = server_of(getattr(instance, "_client", None), default_provider)
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


def ask_for_usage_chunk(request: Request, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments, with ``stream_options.include_usage`` added when the caller streams
    and set no ``stream_options``; the usage chunk it brings is then hidden from the caller."""
    if request.stream and given(kwargs.get("stream_options")) is None:
        request.hide_usage_chunk = True
        return {**kwargs, "stream_options": {"include_usage": True}}
    return kwargs


def _output_type(response_format: Any) -> str:
    if response_format is None:
        return "text"
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    return "json" if kind in ("json_schema", "json_object") or kind is None else "text"


def chat_request(instance: Any, kwargs: dict[str, Any], default_provider: str) -> Request:
    """A ``chat.completions.create`` request of a Stainless SDK with OpenAI's API (openai, groq)."""
    request = _base_request(instance, kwargs, "chat", default_provider)
    request.attributes = request_attributes(kwargs, CHAT_PARAMS)
    request.attributes[n.GEN_AI_OUTPUT_TYPE] = _output_type(given(kwargs.get("response_format")))
    request.input_messages = given(kwargs.get("messages"))
    return request


def embeddings_request(instance: Any, kwargs: dict[str, Any], default_provider: str) -> Request:
    """An ``embeddings.create`` request of a Stainless SDK with OpenAI's API (openai, groq)."""
    request = _base_request(instance, kwargs, "embeddings", default_provider)
    encoding = given(kwargs.get("encoding_format"))
    if isinstance(encoding, str):
        request.attributes = {n.GEN_AI_REQUEST_ENCODING_FORMATS: [encoding]}
    return request


def read_chat_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    request = chat_request(instance, kwargs, PROVIDER)
    return request, ask_for_usage_chunk(request, kwargs)


def read_completion_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    request = _base_request(instance, kwargs, "text_completion", PROVIDER)
    request.attributes = request_attributes(kwargs, CHAT_PARAMS)
    request.input_messages = given(kwargs.get("prompt"))
    return request, ask_for_usage_chunk(request, kwargs)


def read_responses_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    request = _base_request(instance, kwargs, "chat", PROVIDER)
    request.attributes = request_attributes(kwargs, _RESPONSES_PARAMS)
    request.input_messages = given(kwargs.get("input"))
    return request, kwargs


def read_embeddings_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    return embeddings_request(instance, kwargs, PROVIDER), kwargs


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


def choices_response(result: Any, usage: Usage | None) -> Response:
    """A completion with OpenAI's shape (``id``, ``model``, ``choices``); ``usage``: its usage,
    read by the caller's SDK's rules."""
    choices = getattr(result, "choices", None) or ()
    return Response(
        response_id=getattr(result, "id", None),
        model=getattr(result, "model", None),
        finish_reasons=tuple(str(c.finish_reason) for c in choices if getattr(c, "finish_reason", None)),
        usage=usage,
        output_messages=lambda: [_choice_text(c) for c in choices],
    )


def read_chat_response(result: Any) -> Response:
    """Chat and legacy completions."""
    return choices_response(result, chat_usage(getattr(result, "usage", None)))


def _choice_text(choice: Any) -> Any:
    # A chat choice holds a message; a legacy completion choice, the text itself.
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
    """Chunks with OpenAI's shape (groq, mistralai and litellm ones too): the first chunk brings
    id and model, each choice its finish reason, one chunk (the last, without choices) the usage.
    Subclasses read the usage by their SDK's rules (:meth:`read_usage`)."""

    __slots__ = ("finish", "model", "response_id", "usage")

    def __init__(self, request: Request) -> None:
        self.response_id: str | None = None
        self.model: str | None = None
        self.finish: dict[int, str] = {}
        self.usage: Any = None

    def on_chunk(self, chunk: Any) -> None:
        if self.response_id is None:
            self.response_id = chunk.id or None  # an empty id (some LiteLLM providers') waits for the next
            self.model = chunk.model or None
        for choice in chunk.choices:
            if choice.finish_reason:
                self.finish[choice.index] = choice.finish_reason
        usage = getattr(chunk, "usage", None)  # LiteLLM deletes the field from chunks without usage
        if usage is not None:
            self.usage = usage

    def read_usage(self) -> Usage | None:
        return chat_usage(self.usage)

    def response(self) -> Response:
        return Response(
            response_id=self.response_id,
            model=self.model,
            finish_reasons=tuple(self.finish[i] for i in sorted(self.finish)),
            usage=self.read_usage(),
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


# The SDK's stream and raw-response types are Stainless's, as anthropic's and groq's are.
is_stream: Final = is_stainless_stream
raw_kind: Final = stainless_raw_kind


CONTENT_ATTRIBUTES: Final = frozenset({"choices", "output", "output_text", "output_parsed", "data", "text"})
