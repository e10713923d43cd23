"""OpenAI instrumentation: ``OpenAIInstrumentor().instrument()`` or the ``otel_tokens_openai`` entry point."""

from __future__ import annotations

from typing import Final

from .._base import LLMInstrumentor
from .._provider import Endpoint, Library
from . import mapping as m

_CHAT: Final = "openai.resources.chat.completions.completions"
_RESPONSES: Final = "openai.resources.responses.responses"
_EMBEDDINGS: Final = "openai.resources.embeddings"
_COMPLETIONS: Final = "openai.resources.completions"


def _endpoints() -> tuple[Endpoint, ...]:
    surfaces = (
        (
            _CHAT,
            "Completions",
            ("create", "parse"),
            m.read_chat_request,
            m.read_chat_response,
            m.ChatStreamState,
            m.hidden_usage_chunk,
        ),
        (
            _RESPONSES,
            "Responses",
            ("create", "parse"),
            m.read_responses_request,
            m.read_responses_response,
            m.ResponsesStreamState,
            m.no_hidden_chunk,
        ),
        (
            _EMBEDDINGS,
            "Embeddings",
            ("create",),
            m.read_embeddings_request,
            m.read_embeddings_response,
            m.ChatStreamState,
            m.no_hidden_chunk,
        ),
        (
            _COMPLETIONS,
            "Completions",
            ("create",),
            m.read_completion_request,
            m.read_chat_response,
            m.ChatStreamState,
            m.hidden_usage_chunk,
        ),
    )
    endpoints = []
    for module, cls, methods, read_request, read_response, stream_state, hidden in surfaces:
        for prefix, is_async in (("", False), ("Async", True)):
            for method in methods:
                endpoints.append(
                    Endpoint(
                        module=module,
                        qualname=f"{prefix}{cls}.{method}",
                        is_async=is_async,
                        read_request=read_request,
                        read_response=read_response,
                        new_stream_state=stream_state,
                        is_stream=m.is_stream,
                        raw_kind=m.raw_kind,
                        hidden_chunk=hidden,
                    )
                )
    return tuple(endpoints)


LIBRARY: Final = Library(
    name="openai",
    requirement="openai >= 1.92.0",  # older: chat parse() lives under client.beta, unpatched (tests/envs/oldest-sdks.txt)
    endpoints=_endpoints(),
    content_attributes=m.CONTENT_ATTRIBUTES,
    stream_holders=("_raw_stream",),
)


class OpenAIInstrumentor(LLMInstrumentor):
    """Instruments the ``openai`` SDK: chat completions (incl. ``parse`` and ``.stream()``), the
    Responses API, embeddings and legacy completions, sync and async, streamed and raw.

    Example::

        OpenAIInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)
    """

    library = LIBRARY
