"""Reading an LLM call out of another instrumentation's span attributes. No OpenTelemetry here.

GenAI instrumentations disagree on names: current OTel semconv, its deprecated names, and
the vendor variants of OpenLLMetry and OpenInference. :data:`ALIASES` is the one table of
every name read, with where it comes from; :func:`observed_call` turns a span's attributes
into the neutral :class:`Request` / :class:`Response` / :class:`Usage` records (GenAI
semantics: input includes cache reads and writes, output includes reasoning).

Attribute values come from code we do not control: anything that is not what a row expects
(a string token count, a negative number, a bool, a list) is ignored, never trusted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final

from . import names
from .records import Request, Response, Usage

# (field, attribute, source). The first attribute present wins, in this order.
ALIASES: Final = (
    ("provider", names.GEN_AI_PROVIDER_NAME, "OTel semconv"),
    (
        "provider",
        names.GEN_AI_SYSTEM,
        "OTel semconv, deprecated (openai-v2 default mode, OpenLLMetry < 0.50)",
    ),
    ("provider", "llm.provider", "OpenInference"),
    ("provider", "llm.system", "OpenInference"),
    ("operation", names.GEN_AI_OPERATION_NAME, "OTel semconv"),
    ("operation", "llm.request.type", "OpenLLMetry < 0.50"),
    ("operation", "openinference.span.kind", "OpenInference"),
    ("request_model", names.GEN_AI_REQUEST_MODEL, "OTel semconv"),
    ("request_model", "llm.model_name", "OpenInference"),
    ("request_model", "embedding.model_name", "OpenInference"),
    ("response_model", names.GEN_AI_RESPONSE_MODEL, "OTel semconv"),
    ("response_id", names.GEN_AI_RESPONSE_ID, "OTel semconv"),
    ("input", names.GEN_AI_USAGE_INPUT_TOKENS, "OTel semconv"),
    ("input", names.GEN_AI_USAGE_PROMPT_TOKENS, "OTel semconv, deprecated; OpenLLMetry < 0.50"),
    ("input", "llm.usage.prompt_tokens", "OpenLLMetry, early releases"),
    ("input", "llm.token_count.prompt", "OpenInference"),
    ("output", names.GEN_AI_USAGE_OUTPUT_TOKENS, "OTel semconv"),
    ("output", names.GEN_AI_USAGE_COMPLETION_TOKENS, "OTel semconv, deprecated; OpenLLMetry < 0.50"),
    ("output", "llm.usage.completion_tokens", "OpenLLMetry, early releases"),
    ("output", "llm.token_count.completion", "OpenInference"),
    (
        "cache_read",
        names.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
        "OTel semconv; anthropic SDK tracing; OpenLLMetry",
    ),
    ("cache_read", "gen_ai.usage.cache_read_input_tokens", "OpenLLMetry (semconv-ai < 0.5)"),
    ("cache_read", "llm.token_count.prompt_details.cache_read", "OpenInference"),
    (
        "cache_write",
        names.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
        "anthropic SDK tracing; opentelemetry-util-genai",
    ),
    (
        "cache_write",
        "gen_ai.usage.cache_creation.input_tokens",
        "OTel semconv (python package 0.66b); OpenLLMetry",
    ),
    ("cache_write", "gen_ai.usage.cache_creation_input_tokens", "OpenLLMetry (semconv-ai < 0.5)"),
    ("cache_write", "llm.token_count.prompt_details.cache_write", "OpenInference"),
    ("reasoning", names.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, "OTel semconv; anthropic SDK tracing"),
    ("reasoning", "gen_ai.usage.reasoning_tokens", "OpenLLMetry"),
    ("reasoning", "llm.usage.reasoning_tokens", "OpenLLMetry, early releases"),
    ("reasoning", "llm.token_count.completion_details.reasoning", "OpenInference"),
)

# Operation values that are one model call (agent, tool and workflow spans aggregate calls).
CALL_OPERATIONS: Final = {
    "chat": "chat",
    "text_completion": "text_completion",
    "generate_content": "generate_content",
    "embeddings": "embeddings",
    "completion": "text_completion",  # OpenLLMetry llm.request.type
    "embedding": "embeddings",  # OpenLLMetry llm.request.type
    "llm": "chat",  # OpenInference span kind LLM
}

# Deprecated semconv gen_ai.system values and vendor names -> current gen_ai.provider.name.
PROVIDER_NAMES: Final = {
    "az.ai.inference": "azure.ai.inference",  # semconv, deprecated
    "az.ai.openai": "azure.ai.openai",  # semconv, deprecated
    "azure": "azure.ai.openai",  # OpenInference llm.provider
    "vertex_ai": "gcp.vertex_ai",  # semconv, deprecated
    "vertexai": "gcp.vertex_ai",  # OpenInference llm.system
    "gemini": "gcp.gemini",  # semconv, deprecated
    "google": "gcp.gen_ai",  # OpenInference llm.provider
    "xai": "x_ai",  # semconv, deprecated; OpenInference
    "aws": "aws.bedrock",  # OpenInference llm.provider
    "mistralai": "mistral_ai",  # OpenInference
}
UNKNOWN_PROVIDER: Final = "unknown"

# Attributes whose presence at span start marks a span that may be a model call.
START_MARKERS: Final = frozenset(
    attribute for field, attribute, _ in ALIASES if field in ("provider", "operation")
)

_FIELDS: Final = {
    field: tuple(attribute for f, attribute, _ in ALIASES if f == field) for field, _, _ in ALIASES
}
_TOKEN: Final = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,63}")
_MAX_TEXT: Final = 256
_MAX_ID: Final = 512


@dataclass(frozen=True, slots=True)
class ObservedCall:
    """One model call as another instrumentation's span described it."""

    request: Request
    response: Response
    error_type: str | None = None


def observed_call(attributes: Mapping[str, object], *, failed: bool = False) -> ObservedCall | None:
    """The call a finished span describes, or None when it is not one model call.

    ``failed``: the span's status is ERROR. Example::

        call = observed_call({"gen_ai.operation.name": "chat", "gen_ai.system": "openai", ...})
    """
    operation = call_operation(attributes)
    if operation is None:
        return None
    request = Request(
        provider=_provider(attributes),
        operation=operation,
        model=_text(attributes, "request_model", _MAX_TEXT),
        server_address=_plain(attributes.get(names.SERVER_ADDRESS), _MAX_TEXT),
        server_port=_count(attributes.get(names.SERVER_PORT)),
    )
    response = Response(
        response_id=_text(attributes, "response_id", _MAX_ID),
        model=_text(attributes, "response_model", _MAX_TEXT),
        usage=usage_of(attributes),
    )
    error = attributes.get(names.ERROR_TYPE)
    error_type = None
    if failed or error is not None:
        error_type = _plain(error, _MAX_TEXT) or "error"
    return ObservedCall(request, response, error_type)


def call_operation(attributes: Mapping[str, object]) -> str | None:
    """The semconv operation of a model-call span, or None (not a call, or an agent/tool span)."""
    for attribute in _FIELDS["operation"]:
        value = attributes.get(attribute)
        if isinstance(value, str):
            return CALL_OPERATIONS.get(value.strip().lower())
    return None


def may_be_call(attributes: Mapping[str, object]) -> bool:
    """At span start: GenAI attributes are there and no operation rules a model call out."""
    if not any(attribute in attributes for attribute in START_MARKERS):
        return False
    has_operation = any(attribute in attributes for attribute in _FIELDS["operation"])
    return not has_operation or call_operation(attributes) is not None


def usage_of(attributes: Mapping[str, object]) -> Usage | None:
    """Token counts in GenAI semantics, or None when the span reports neither input nor output."""
    input_tokens = _first_count(attributes, "input")
    output_tokens = _first_count(attributes, "output")
    if input_tokens is None and output_tokens is None:
        return None
    cache_read = _first_count(attributes, "cache_read") or 0
    cache_write = _first_count(attributes, "cache_write") or 0
    reasoning = _first_count(attributes, "reasoning") or 0
    input_tokens = input_tokens or 0
    output_tokens = output_tokens or 0
    # An inclusive total is never below its parts: a smaller one is the uncached remainder
    # (Anthropic's raw input_tokens) or visible output only, so the parts are added back.
    if cache_read + cache_write > input_tokens:
        input_tokens += cache_read + cache_write
    if reasoning > output_tokens:
        output_tokens += reasoning
    return Usage(input_tokens, output_tokens, cache_read, cache_write, reasoning)


def merge(outer: ObservedCall, inner: Sequence[ObservedCall]) -> ObservedCall:
    """``outer`` (a framework's span around the SDK's) with what it lacks taken from ``inner``."""
    response = outer.response
    for call in inner:
        if response.usage is None and call.response.usage is not None:
            response = replace(response, usage=call.response.usage)
        if response.response_id is None and call.response.response_id is not None:
            response = replace(response, response_id=call.response.response_id)
        if response.model is None and call.response.model is not None:
            response = replace(response, model=call.response.model)
    request = outer.request
    if request.model is None:
        request = replace(request, model=next((c.request.model for c in inner if c.request.model), None))
    return ObservedCall(request, response, outer.error_type)


def _provider(attributes: Mapping[str, object]) -> str:
    for attribute in _FIELDS["provider"]:
        value = attributes.get(attribute)
        if isinstance(value, str):
            name = value.strip().lower()
            name = PROVIDER_NAMES.get(name, name)
            # A metric label: only plain short names, so a buggy peer cannot explode cardinality.
            return name if _TOKEN.fullmatch(name) else UNKNOWN_PROVIDER
    return UNKNOWN_PROVIDER


def _text(attributes: Mapping[str, object], field: str, limit: int) -> str | None:
    for attribute in _FIELDS[field]:
        value = _plain(attributes.get(attribute), limit)
        if value is not None:
            return value
    return None


def _plain(value: object, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > limit or not value.isprintable():
        return None
    return value


def _first_count(attributes: Mapping[str, object], field: str) -> int | None:
    for attribute in _FIELDS[field]:
        count = _count(attributes.get(attribute))
        if count is not None:
            return count
    return None


_MAX_COUNT: Final = 10**12  # far above any real call; larger values are corrupt, not usage


def _count(value: object) -> int | None:
    """A token count: a non-negative int (or integral float) below a sanity bound, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return None
        value = int(value)
    if isinstance(value, int) and 0 <= value <= _MAX_COUNT:
        return value
    return None
