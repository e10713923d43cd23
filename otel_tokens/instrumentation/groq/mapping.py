"""Groq SDK -> neutral records: chat completions and embeddings.

The ``groq`` SDK is Stainless-generated like ``openai`` and returns OpenAI's shapes, so the
OpenAI mapping reads its responses, raw responses and stream types. Two differences:

- the provider defaults to ``groq`` (whatever host the client is pointed at);
- streams carry the usage in the final chunk's ``x_groq.usage`` (the SDK has no
  ``stream_options``, so otel-tokens asks for nothing and hides nothing). A top-level
  ``usage``, should Groq send one, is read too.

Groq's ``prompt_tokens`` include cached tokens (``prompt_tokens_details.cached_tokens``) and
``completion_tokens`` include reasoning, as in the GenAI conventions.
"""

from __future__ import annotations

from typing import Any, Final

from ... import names as n
from ...records import Request
from .._common import given, request_attributes, server_of
from ..openai import mapping as openai_mapping

PROVIDER: Final = "groq"


def _request(instance: Any, kwargs: dict[str, Any], operation: str) -> Request:
    provider, host, port = server_of(getattr(instance, "_client", None), PROVIDER)
    model = given(kwargs.get("model"))
    user = given(kwargs.get("user"))
    return Request(
        provider=provider,
        operation=operation,
        model=str(model) if model is not None else None,
        stream=given(kwargs.get("stream")) is True,
        server_address=host,
        server_port=port,
        end_user=user if isinstance(user, str) else None,
    )


def read_chat_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    request = _request(instance, kwargs, "chat")
    request.attributes = request_attributes(kwargs, openai_mapping._CHAT_PARAMS)
    request.attributes[n.GEN_AI_OUTPUT_TYPE] = openai_mapping._output_type(
        given(kwargs.get("response_format"))
    )
    request.input_messages = given(kwargs.get("messages"))
    return request, kwargs


def read_embeddings_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    request = _request(instance, kwargs, "embeddings")
    encoding = given(kwargs.get("encoding_format"))
    if isinstance(encoding, str):
        request.attributes = {n.GEN_AI_REQUEST_ENCODING_FORMATS: [encoding]}
    return request, kwargs


class ChatStreamState(openai_mapping.ChatStreamState):
    """OpenAI's chunk reader, plus the usage Groq sends in ``x_groq.usage``."""

    __slots__ = ()

    def on_chunk(self, chunk: Any) -> None:
        super().on_chunk(chunk)
        usage = getattr(getattr(chunk, "x_groq", None), "usage", None)
        if usage is not None:
            self.usage = usage


read_chat_response: Final = openai_mapping.read_chat_response
read_embeddings_response: Final = openai_mapping.read_embeddings_response
is_stream: Final = openai_mapping.is_stream
raw_kind: Final = openai_mapping.raw_kind
CONTENT_ATTRIBUTES: Final = openai_mapping.CONTENT_ATTRIBUTES
