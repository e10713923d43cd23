"""Groq instrumentation: ``GroqInstrumentor().instrument()`` or the ``otel_tokens_groq`` entry point.

Patches ``chat.completions.create`` and ``embeddings.create`` of ``groq.Groq`` and
``groq.AsyncGroq`` (``with_raw_response`` and ``with_streaming_response`` go through them).
Audio transcription, translation and speech are billed per audio second or character, which
the token records cannot express, and are left alone.
"""

from __future__ import annotations

from typing import Any, Final

from .._base import LLMInstrumentor
from .._common import sync_and_async
from .._provider import Library
from . import mapping as m

_STAINLESS: Final[dict[str, Any]] = {
    "new_stream_state": m.ChatStreamState,
    "is_stream": m.is_stream,
    "raw_kind": m.raw_kind,
}

LIBRARY: Final = Library(
    name="groq",
    requirement="groq >= 0.9.0",
    endpoints=(
        *sync_and_async(
            "groq.resources.chat.completions",
            "Completions",
            ("create",),
            read_request=m.read_chat_request,
            read_response=m.read_chat_response,
            **_STAINLESS,
        ),
        *sync_and_async(
            "groq.resources.embeddings",
            "Embeddings",
            ("create",),
            read_request=m.read_embeddings_request,
            read_response=m.read_embeddings_response,
            **_STAINLESS,
        ),
    ),
    content_attributes=m.CONTENT_ATTRIBUTES,
)


class GroqInstrumentor(LLMInstrumentor):
    """Instruments the ``groq`` SDK: ``chat.completions.create`` (streamed or not) and
    ``embeddings.create``, sync and async, plain and raw.

    Example::

        GroqInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)
    """

    library = LIBRARY
