"""Groq SDK -> neutral records: chat completions and embeddings.

The ``groq`` SDK is Stainless-generated like ``openai`` and returns OpenAI's shapes, so the
OpenAI mapping reads its requests, responses, raw responses and stream types. Two differences:

- the provider defaults to ``groq`` (whatever host the client is pointed at);
- streams carry the usage in the final chunk's ``x_groq.usage`` (the SDK has no
  ``stream_options``, so otel-tokens asks for nothing and hides nothing). A top-level
  ``usage``, should Groq send one, is read too.

Groq's ``prompt_tokens`` include cached tokens (``prompt_tokens_details.cached_tokens``) and
``completion_tokens`` include reasoning, as in the GenAI conventions.
"""

from __future__ import annotations

from typing import Any, Final

from ...records import Request
from ..openai import mapping as openai_mapping

PROVIDER: Final = "groq"


# The SDK has no ``stream_options``: the call's arguments are passed on unchanged.
def read_chat_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    return openai_mapping.chat_request(instance, kwargs, PROVIDER), kwargs


def read_embeddings_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    return openai_mapping.embeddings_request(instance, kwargs, PROVIDER), kwargs


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
