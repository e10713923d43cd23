"""OpenAI instrumentation: ``OpenAIInstrumentor().instrument()`` or the ``otel_tokens_openai`` entry point."""

from __future__ import annotations

from typing import Any, Final

from .._base import LLMInstrumentor
from .._common import sync_and_async
from .._provider import Library
from . import mapping as m

_STAINLESS: Final[dict[str, Any]] = {"is_stream": m.is_stream, "raw_kind": m.raw_kind}
_CHAT: Final[dict[str, Any]] = {
    "read_response": m.read_chat_response,
    "new_stream_state": m.ChatStreamState,
    "hidden_chunk": m.hidden_usage_chunk,
    **_STAINLESS,
}

LIBRARY: Final = Library(
    name="openai",
    requirement="openai >= 1.92.0",  # older: chat parse() lives under client.beta, unpatched (tests/envs/oldest-sdks.txt)
    endpoints=(
        *sync_and_async(
            "openai.resources.chat.completions.completions",
            "Completions",
            ("create", "parse"),
            read_request=m.read_chat_request,
            **_CHAT,
        ),
        *sync_and_async(
            "openai.resources.completions",
            "Completions",
            ("create",),
            read_request=m.read_completion_request,
            **_CHAT,
        ),
        *sync_and_async(
            "openai.resources.responses.responses",
            "Responses",
            ("create", "parse"),
            read_request=m.read_responses_request,
            read_response=m.read_responses_response,
            new_stream_state=m.ResponsesStreamState,
            **_STAINLESS,
        ),
        *sync_and_async(
            "openai.resources.embeddings",
            "Embeddings",
            ("create",),
            read_request=m.read_embeddings_request,
            read_response=m.read_embeddings_response,
            new_stream_state=m.ChatStreamState,  # never streams; the field is required
            **_STAINLESS,
        ),
    ),
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
