"""Ollama SDK -> neutral records: ``chat``, ``generate`` and ``embed``, streamed or not.

Duck-typed on the SDK's objects (no import of ``ollama`` here). Ollama reports
``prompt_eval_count`` (the whole prompt, tokens reused from its KV cache included, as GenAI
input tokens are) and ``eval_count`` (generated tokens, thinking included) on the final,
``done`` message. There are no response ids and no reasoning count; newer servers add
``prompt_eval_cached_count``, which the SDK (up to 0.6.3) drops, so cache reads stay 0. ``gen_ai.provider.name`` is ``ollama``: not a well-known semconv value, the
name Ollama goes by. A stream is a plain (async) generator yielding the SDK's response objects.
"""

from __future__ import annotations

import inspect
from typing import Any, Final

from ... import names as n
from ...records import Request, Response, Usage
from .._common import as_int, given, request_attributes, server_of

PROVIDER: Final = "ollama"

# Positional parameters of each method after ``self``: the wrapper passes them by name
# (``Endpoint.positional``), so the readers below see keyword arguments only.
CHAT_PARAMS: Final = ("model", "messages")
GENERATE_PARAMS: Final = ("model", "prompt", "suffix")
EMBED_PARAMS: Final = ("model", "input", "truncate", "options", "keep_alive", "dimensions")

# Semconv request attributes read from ``options`` (Ollama's sampling settings).
_OPTIONS: Final = (
    ("num_predict", n.GEN_AI_REQUEST_MAX_TOKENS),
    ("temperature", n.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", n.GEN_AI_REQUEST_TOP_P),
    ("frequency_penalty", n.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", n.GEN_AI_REQUEST_PRESENCE_PENALTY),
    ("stop", n.GEN_AI_REQUEST_STOP_SEQUENCES),
    ("seed", n.GEN_AI_REQUEST_SEED),
)


def _options(options: Any) -> dict[str, Any]:
    """``options`` as a dict: a mapping, or the SDK's ``Options`` model."""
    if hasattr(options, "model_dump"):
        dumped = options.model_dump(exclude_none=True)
        return dumped if isinstance(dumped, dict) else {}
    return options if isinstance(options, dict) else {}


def _request(instance: Any, kwargs: dict[str, Any], operation: str, stream: bool) -> Request:
    # The client's httpx base URL gives the server; the provider is Ollama whatever the host.
    _, host, port = server_of(getattr(instance, "_client", None), PROVIDER)
    model = given(kwargs.get("model"))
    request = Request(
        provider=PROVIDER,
        operation=operation,
        model=str(model) if model else None,
        stream=stream,
        server_address=host,
        server_port=port,
    )
    request.attributes = request_attributes(_options(given(kwargs.get("options"))), _OPTIONS)
    return request


def _output_type(format_: Any) -> str:
    # ``format`` is "json" or a JSON schema; unset (or "") means free text.
    return "json" if format_ == "json" or isinstance(format_, dict) else "text"


def _generation(instance: Any, kwargs: dict[str, Any], operation: str, content_key: str) -> Request:
    """``chat`` / ``generate``: their content under ``content_key``, their output type in ``format``."""
    request = _request(instance, kwargs, operation, bool(kwargs.get("stream")))
    request.attributes[n.GEN_AI_OUTPUT_TYPE] = _output_type(kwargs.get("format"))
    request.input_messages = kwargs.get(content_key)
    return request


def read_chat_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    return _generation(instance, kwargs, "chat", "messages"), kwargs


def read_generate_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    return _generation(instance, kwargs, "text_completion", "prompt"), kwargs


def read_embed_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    return _request(instance, kwargs, "embeddings", False), kwargs


# --- responses -------------------------------------------------------------------------------------
def usage_of(result: Any) -> Usage | None:
    """Ollama's counts in GenAI semantics (None when the message carries neither)."""
    prompt = getattr(result, "prompt_eval_count", None)
    generated = getattr(result, "eval_count", None)
    if prompt is None and generated is None:
        return None
    return Usage(input_tokens=as_int(prompt), output_tokens=as_int(generated))


def _output(result: Any) -> Any:
    message = getattr(result, "message", None)
    if message is not None:
        return getattr(message, "content", None)
    return getattr(result, "response", None)


def read_response(result: Any) -> Response:
    """A ``ChatResponse``, ``GenerateResponse`` or ``EmbedResponse``."""
    reason = getattr(result, "done_reason", None)
    return Response(
        model=getattr(result, "model", None),
        finish_reasons=(str(reason),) if reason else (),
        usage=usage_of(result),
        output_messages=lambda: _output(result),
    )


# --- streams ---------------------------------------------------------------------------------------
class StreamState:
    """Chat or generate parts: the model comes with every part, counts with the ``done`` one."""

    __slots__ = ("final", "model")

    def __init__(self, request: Request) -> None:
        self.model: str | None = None
        self.final: Any = None

    def on_chunk(self, part: Any) -> None:
        if self.model is None:
            self.model = part.model
        if part.done:
            self.final = part

    def response(self) -> Response:
        if self.final is not None:
            return read_response(self.final)
        return Response(model=self.model)


def is_stream(result: Any) -> bool:
    return inspect.isgenerator(result) or inspect.isasyncgen(result)


# Reading any of these on a response counts as reading its output.
CONTENT_ATTRIBUTES: Final = frozenset(
    {"message", "response", "thinking", "context", "embeddings", "logprobs", "image"}
)
