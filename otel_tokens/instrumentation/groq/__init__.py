"""Groq instrumentation: ``GroqInstrumentor().instrument()`` or the ``otel_tokens_groq`` entry point.

Patches ``chat.completions.create`` and ``embeddings.create`` of ``groq.Groq`` and
``groq.AsyncGroq`` (``with_raw_response`` and ``with_streaming_response`` go through them).
Audio transcription, translation and speech are billed per audio second or character, which
the token records cannot express, and are left alone.
"""

from __future__ import annotations

from typing import Final

from .._base import LLMInstrumentor
from .._provider import Endpoint, Library
from . import mapping as m

_SURFACES: Final = (
    (
        "groq.resources.chat.completions",
        "Completions",
        m.read_chat_request,
        m.read_chat_response,
    ),
    (
        "groq.resources.embeddings",
        "Embeddings",
        m.read_embeddings_request,
        m.read_embeddings_response,
    ),
)

LIBRARY: Final = Library(
    name="groq",
    requirement="groq >= 0.9.0",
    endpoints=tuple(
        Endpoint(
            module=module,
            qualname=f"{prefix}{cls}.create",
            is_async=is_async,
            read_request=read_request,
            read_response=read_response,
            new_stream_state=m.ChatStreamState,
            is_stream=m.is_stream,
            raw_kind=m.raw_kind,
        )
        for module, cls, read_request, read_response in _SURFACES
        for prefix, is_async in (("", False), ("Async", True))
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
