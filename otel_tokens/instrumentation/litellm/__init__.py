"""LiteLLM instrumentation: ``LiteLLMInstrumentor().instrument()`` or the ``otel_tokens_litellm`` entry point.

``completion``, ``acompletion``, ``embedding`` and ``aembedding`` are module functions, patched
where they are called from: the ``litellm`` package (users) and ``litellm.main`` (LiteLLM
itself, e.g. ``acompletion`` running ``completion`` in a thread). Both are patched once the
package is imported: the package imports ``litellm.main`` and copies its functions
(``from .main import *``), so patching ``litellm.main`` on its own import would wrap the copies
twice. For ``openai/...`` models LiteLLM calls the ``openai`` SDK underneath; the outermost
instrumented call wins, so each logical call is one span, named with the provider LiteLLM
resolved (never ``litellm``).

Patching waits for LiteLLM's import (the base instrumentor's post-import hooks): importing
LiteLLM takes seconds and fetches a remote price map unless ``LITELLM_LOCAL_MODEL_COST_MAP`` is
set, and ``instrument()`` must cost neither. A function imported by name before it is patched
(``from litellm import completion`` before ``instrument()``) stays the unpatched one.
"""

from __future__ import annotations

from typing import Final

from .._base import LLMInstrumentor
from .._provider import Endpoint, Library
from . import mapping as m

# Attribute paths from the ``litellm`` package: its own functions and those of ``litellm.main``.
_OWNERS: Final = ("", "main.")
# function -> (is_async, read_request, read_response)
_FUNCTIONS: Final = {
    "completion": (False, m.read_completion_request, m.read_completion_response),
    "acompletion": (True, m.read_completion_request, m.read_completion_response),
    "embedding": (False, m.read_embedding_request, m.read_embedding_response),
    "aembedding": (True, m.read_embedding_request, m.read_embedding_response),
}
# The leading parameters of each function, as callers pass them positionally.
_LEADING: Final = {
    "completion": ("model", "messages"),
    "acompletion": ("model", "messages"),
    "embedding": ("model", "input"),
    "aembedding": ("model", "input"),
}

LIBRARY: Final = Library(
    name="litellm",
    requirement="litellm >= 1.60",
    endpoints=tuple(
        Endpoint(
            module="litellm",
            qualname=owner + function,
            is_async=is_async,
            read_request=read_request,
            read_response=read_response,
            new_stream_state=m.ChunkStreamState,
            is_stream=m.is_stream,
            hidden_chunk=m.hidden_usage_chunk,
            skip=m.not_a_logical_call,
            positional=_LEADING[function],
        )
        for owner in _OWNERS
        for function, (is_async, read_request, read_response) in _FUNCTIONS.items()
    ),
    content_attributes=m.CONTENT_ATTRIBUTES,
)


class LiteLLMInstrumentor(LLMInstrumentor):
    """Instruments ``litellm``: ``completion`` / ``acompletion`` (streamed or not) and
    ``embedding`` / ``aembedding``, once per logical call whatever SDK LiteLLM calls underneath.

    Example::

        LiteLLMInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)
    """

    library = LIBRARY
