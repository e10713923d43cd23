"""Ollama instrumentation: ``OllamaInstrumentor().instrument()`` or the ``otel_tokens_ollama`` entry point.

Patches ``chat``, ``generate`` and ``embed`` of ``ollama.Client`` and ``ollama.AsyncClient``,
and the module functions (``ollama.chat(...)``): those are methods bound to a module-level
client when ``ollama`` is imported, so patching the class does not reach them. A name imported
from ``ollama`` before instrumenting (``from ollama import chat``) keeps the unpatched method.
``embeddings`` (deprecated, its response has no token counts) and the model management calls
are not LLM calls worth recording and are left alone.
"""

from __future__ import annotations

from typing import Final

from .._base import LLMInstrumentor
from .._provider import Endpoint, Library, ReadRequest
from . import mapping as m

_CLIENT_MODULE: Final = "ollama._client"
# (method, its request reader, its positional parameters)
_METHODS: Final[tuple[tuple[str, ReadRequest, tuple[str, ...]], ...]] = (
    ("chat", m.read_chat_request, m.CHAT_PARAMS),
    ("generate", m.read_generate_request, m.GENERATE_PARAMS),
    ("embed", m.read_embed_request, m.EMBED_PARAMS),
)
# (module, owner prefix, is_async): the clients' methods, then the module functions.
_OWNERS: Final = (
    (_CLIENT_MODULE, "Client.", False),
    (_CLIENT_MODULE, "AsyncClient.", True),
    ("ollama", "", False),
)

LIBRARY: Final = Library(
    name="ollama",
    requirement="ollama >= 0.4.0",  # typed response objects (ChatResponse, ...) since 0.4
    endpoints=tuple(
        Endpoint(
            module=module,
            qualname=f"{prefix}{method}",
            is_async=is_async,
            read_request=read_request,
            read_response=m.read_response,
            new_stream_state=m.StreamState,
            is_stream=m.is_stream,
            positional=positional,
        )
        for module, prefix, is_async in _OWNERS
        for method, read_request, positional in _METHODS
    ),
    content_attributes=m.CONTENT_ATTRIBUTES,
)


class OllamaInstrumentor(LLMInstrumentor):
    """Instruments the ``ollama`` SDK: ``chat``, ``generate`` and ``embed`` on ``Client``,
    ``AsyncClient`` and the module functions, streamed (``stream=True``) or not. Local models
    have no price: their calls count in ``otel_tokens_unpriced_calls_total`` unless the
    ``OTEL_TOKENS_PRICES`` file prices them.

    Example::

        OllamaInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)
    """

    library = LIBRARY
