"""Cohere instrumentation: ``CohereInstrumentor().instrument()`` or the ``otel_tokens_cohere`` entry point.

Patched: API v2 ``chat``, ``chat_stream`` and ``embed`` on ``V2Client`` and ``AsyncV2Client``,
which ``ClientV2`` / ``AsyncClientV2`` (and ``Client().v2``) inherit. ``chat_stream`` is a
generator function (an async generator function on the async client): calling it sends
nothing, the request goes out on the first ``next``. So ``chat_stream`` returns a proxy of the
SDK's generator that starts the guarded call on its first ``next`` (see :mod:`.lazy_streams`):
a stream never iterated is no call, and an HTTP error surfaces, as without otel-tokens, while
iterating (the span then ends as failed).

The SDK's Bedrock, SageMaker and OCI clients inherit these methods; their calls are named for
the platform (``aws.bedrock``, ``aws.sagemaker``, ``oci.generative_ai``) and carry no server address.

Not instrumented: the v1 API (``Client.chat`` / ``generate`` / ``embed`` ...), ``rerank`` (billed
in search units), ``with_raw_response`` and ``v2.parse`` (document parsing).
"""

from __future__ import annotations

import functools
from typing import Final

from .._base import LLMInstrumentor, WrapperFactory
from .._provider import Endpoint, Library
from .._wrapper import Wrapper, make_wrapper
from . import mapping as m
from .lazy_streams import lazy_stream_wrapper

_MODULE: Final = "cohere.v2.client"


def _endpoint(qualname: str, is_async: bool) -> Endpoint:
    method = qualname.rsplit(".", 1)[1]
    read_request, read_response = {
        "chat": (m.read_chat_request, m.read_chat),
        "chat_stream": (m.read_chat_stream_request, m.read_chat),
        "embed": (m.read_embed_request, m.read_embed),
    }[method]
    return Endpoint(
        module=_MODULE,
        qualname=qualname,
        is_async=is_async,
        read_request=read_request,
        read_response=read_response,
        new_stream_state=m.ChatStreamState,
        is_stream=m.is_stream,
    )


LIBRARY: Final = Library(
    name="cohere",
    requirement="cohere >= 5.9",
    endpoints=(
        _endpoint("V2Client.chat", False),
        _endpoint("V2Client.embed", False),
        _endpoint("AsyncV2Client.chat", True),
        _endpoint("AsyncV2Client.embed", True),
    ),
    content_attributes=m.CONTENT_ATTRIBUTES,
)
# Patched apart (see the module docstring). Both are plain calls: the async one is an async
# generator function, whose call returns the stream without awaiting anything.
STREAM_ENDPOINTS: Final = (
    _endpoint("V2Client.chat_stream", False),
    _endpoint("AsyncV2Client.chat_stream", False),
)


class CohereInstrumentor(LLMInstrumentor):
    """Instruments the ``cohere`` SDK's API v2: ``chat``, ``chat_stream`` and ``embed``, sync and async.
    Tokens are Cohere's billed units (see :mod:`otel_tokens.instrumentation.cohere.mapping`).

    Example::

        CohereInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)
    """

    library = LIBRARY

    def patches(self) -> list[tuple[Endpoint, WrapperFactory]]:
        lazy = [(endpoint, functools.partial(_lazy_stream, endpoint)) for endpoint in STREAM_ENDPOINTS]
        return super().patches() + lazy


def _lazy_stream(endpoint: Endpoint) -> Wrapper:
    return lazy_stream_wrapper(make_wrapper(LIBRARY, endpoint))
