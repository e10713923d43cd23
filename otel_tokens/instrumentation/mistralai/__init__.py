"""Mistral instrumentation: ``MistralAIInstrumentor().instrument()`` or the ``otel_tokens_mistralai`` entry point.

Patched (sync and ``*_async``): ``chat.complete`` / ``stream`` / ``parse`` / ``parse_stream``,
``fim.complete`` / ``stream``, ``agents.complete`` / ``stream`` and ``embeddings.create``.
``parse*`` call ``complete`` / ``stream`` underneath; the outermost call wins, so each is one
span and the caller's parsed response is the tracked one. Streams are the SDK's
``EventStream`` / ``EventStreamAsync`` (iterators and context managers). mistralai 2.x and later
keep the resources under ``mistralai.client``, 1.x directly under ``mistralai``: both are listed
and only the installed layout is found.

Not instrumented (no token usage in GenAI terms, or a different API): ``ocr`` (billed per
page), ``audio`` transcriptions (per second), ``classifiers`` (moderation / classification),
the beta ``conversations`` and ``responses`` APIs, batch jobs, and the separate Azure / GCP clients.
"""

from __future__ import annotations

from typing import Final

from .._base import LLMInstrumentor
from .._provider import Endpoint, Library
from . import mapping as m

_LAYOUTS: Final = ("mistralai.client", "mistralai")
# (module, class, method stem, operation, streams, parse helper)
_SURFACES: Final = (
    ("chat", "Chat", "complete", "chat", False, False),
    ("chat", "Chat", "stream", "chat", True, False),
    ("chat", "Chat", "parse", "chat", False, True),
    ("chat", "Chat", "parse_stream", "chat", True, True),
    ("fim", "Fim", "complete", "text_completion", False, False),
    ("fim", "Fim", "stream", "text_completion", True, False),
    ("agents", "Agents", "complete", "invoke_agent", False, False),
    ("agents", "Agents", "stream", "invoke_agent", True, False),
    ("embeddings", "Embeddings", "create", "embeddings", False, False),
)


def _endpoints() -> tuple[Endpoint, ...]:
    endpoints = []
    for layout in _LAYOUTS:
        for module, cls, stem, operation, stream, parse in _SURFACES:
            read_request = m.request_reader(operation, stream=stream, parse=parse)
            read_response = m.read_embeddings if operation == "embeddings" else m.read_completion
            for suffix, is_async in (("", False), ("_async", True)):
                endpoints.append(
                    Endpoint(
                        module=f"{layout}.{module}",
                        qualname=f"{cls}.{stem}{suffix}",
                        is_async=is_async,
                        read_request=read_request,
                        read_response=read_response,
                        new_stream_state=m.CompletionStreamState,
                        is_stream=m.is_stream,
                    )
                )
    return tuple(endpoints)


LIBRARY: Final = Library(
    name="mistralai",
    requirement="mistralai >= 1.0",
    endpoints=_endpoints(),
    content_attributes=m.CONTENT_ATTRIBUTES,
)


class MistralAIInstrumentor(LLMInstrumentor):
    """Instruments the ``mistralai`` SDK: chat (incl. ``parse``), FIM and agents completions, streamed
    or not, and embeddings; sync and async. Input tokens include cached ones, output tokens reasoning.

    Example::

        MistralAIInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)
    """

    library = LIBRARY
