"""Google GenAI instrumentation: ``GoogleGenAIInstrumentor().instrument()`` or the
``otel_tokens_google_genai`` entry point.

``Models`` / ``AsyncModels`` (``client.models`` / ``client.aio.models``): ``generate_content``,
``generate_content_stream`` and ``embed_content``, one span per call, for the Gemini Developer
API (``gcp.gemini``) and Vertex AI (``gcp.vertex_ai``). Chats go through ``generate_content``
and are recorded there. ``generate_content_stream`` returns a lazy generator: its span starts
at the call and the request is sent on the first ``next()``.

``generate_content`` is patched with a layer that collects the usage of each HTTP request it
makes (see :mod:`.hops`), so automatic function calling is billed for every round.
``count_tokens`` and ``compute_tokens`` are not billed and are left alone.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Final

from ...records import Response
from .._base import LLMInstrumentor, WrapperFactory
from .._provider import Endpoint, Library
from .._wrapper import Wrapper, make_wrapper
from . import hops
from . import mapping as m
from .streams import GenerateStreamState

_MODELS: Final = "google.genai.models"
_CLASSES: Final = (("Models", False), ("AsyncModels", True))


def _read_generate_response(result: Any) -> Response:
    return m.read_generate_response(result, hops.noted())


def _endpoint(cls: str, method: str, is_async: bool) -> Endpoint:
    read_request, read_response = {
        "generate_content": (m.read_generate_request, _read_generate_response),
        "generate_content_stream": (m.read_stream_request, _read_generate_response),
        "embed_content": (m.read_embed_request, m.read_embed_response),
    }[method]
    return Endpoint(
        module=_MODELS,
        qualname=f"{cls}.{method}",
        is_async=is_async,
        read_request=read_request,
        read_response=read_response,
        new_stream_state=GenerateStreamState,
        is_stream=m.is_stream,
    )


LIBRARY: Final = Library(
    name="google_genai",
    # Works from 1.0 (the GA client: ``await client.aio.models.generate_content_stream(...)``).
    # The SDK parses thoughts and tool-use prompt tokens only since 1.8 (older releases drop
    # them, so thinking models are undercounted there) and embedding usage only in recent ones.
    requirement="google-genai >= 1.0",
    endpoints=tuple(
        _endpoint(cls, method, is_async)
        for cls, is_async in _CLASSES
        for method in ("generate_content_stream", "embed_content")
    ),
    content_attributes=m.CONTENT_ATTRIBUTES,
)
# Patched apart: the guarded call inside a layer collecting each request's usage.
GENERATE: Final = tuple(_endpoint(cls, "generate_content", is_async) for cls, is_async in _CLASSES)
# The per-request methods under ``generate_content``: they note each request's usage.
REQUEST_HOOKS: Final = (
    (_MODELS, "Models._generate_content", hops.note_request),
    (_MODELS, "AsyncModels._generate_content", hops.note_async_request),
)


def _collecting(endpoint: Endpoint) -> Wrapper:
    return hops.collecting(make_wrapper(LIBRARY, endpoint), endpoint.is_async)


def _hook(hook: Wrapper) -> Wrapper:
    return hook


def _hook_endpoint(qualname: str) -> Endpoint:
    # Only module and qualname matter for a request hook: it is patched, not instrumented.
    cls = qualname.split(".")[0]
    return dataclasses.replace(_endpoint(cls, "generate_content", cls.startswith("Async")), qualname=qualname)


class GoogleGenAIInstrumentor(LLMInstrumentor):
    """Instruments the ``google-genai`` SDK: ``generate_content``, ``generate_content_stream`` and
    ``embed_content``, sync and async. Input tokens include cached and tool-use prompt tokens;
    output tokens include thoughts (reasoning).

    Example::

        GoogleGenAIInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)
    """

    library = LIBRARY

    def patches(self) -> list[tuple[Endpoint, WrapperFactory]]:
        generate = [(endpoint, functools.partial(_collecting, endpoint)) for endpoint in GENERATE]
        hooks = [
            (_hook_endpoint(qualname), functools.partial(_hook, hook))
            for _module, qualname, hook in REQUEST_HOOKS
        ]
        return super().patches() + generate + hooks


__all__ = ["GENERATE", "LIBRARY", "REQUEST_HOOKS", "GoogleGenAIInstrumentor"]
