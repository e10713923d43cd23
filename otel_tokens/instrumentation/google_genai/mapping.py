"""Google GenAI SDK (``google-genai``) -> neutral records: ``generate_content`` (plain and
streamed; the stream state is in :mod:`.streams`) and ``embed_content``, for the Gemini
Developer API and Vertex AI.

Duck-typed on the SDK's objects (no import of ``google.genai`` here). Gemini's usage in OTel
GenAI semantics:

- input = ``prompt_token_count`` (which already includes ``cached_content_token_count``)
  + ``tool_use_prompt_token_count`` (results of server-side tools such as Google Search or
  code execution, fed back to the model and billed as input; ``total_token_count`` counts
  them apart from the prompt, and genai-prices bills them as input too);
- cache read = ``cached_content_token_count``; Gemini reports no cache writes;
- output = ``candidates_token_count`` + ``thoughts_token_count`` (candidates *exclude* the
  thoughts); reasoning = ``thoughts_token_count``.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any, Final

from ... import names as n
from ...records import Request, Response, Usage
from .._common import as_int, field_of, given, request_attributes, url_server

GEMINI: Final = "gcp.gemini"
VERTEX_AI: Final = "gcp.vertex_ai"
GENERATE_CONTENT: Final = "generate_content"  # the semconv operation for Gemini's multimodal generation
EMBEDDINGS: Final = "embeddings"

# GenerateContentConfig fields -> semconv request attributes.
_PARAMS: Final = (
    ("max_output_tokens", n.GEN_AI_REQUEST_MAX_TOKENS),
    ("temperature", n.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", n.GEN_AI_REQUEST_TOP_P),
    ("stop_sequences", n.GEN_AI_REQUEST_STOP_SEQUENCES),
    ("seed", n.GEN_AI_REQUEST_SEED),
    ("candidate_count", n.GEN_AI_REQUEST_CHOICE_COUNT),
    ("frequency_penalty", n.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", n.GEN_AI_REQUEST_PRESENCE_PENALTY),
)
_OUTPUT_MODALITIES: Final = (("IMAGE", "image"), ("AUDIO", "speech"))


# --- requests --------------------------------------------------------------------------------------
def model_name(model: Any) -> str | None:
    """The model's name without its resource path: ``models/gemini-2.5-flash`` and
    ``projects/p/locations/l/publishers/google/models/gemini-2.5-flash`` -> ``gemini-2.5-flash``
    (the name prices and dashboards know). Tuned models (``tunedModels/...``) stay as given."""
    if not isinstance(model, str) or not model:
        return None
    head, found, tail = model.rpartition("models/")
    if found and tail and (not head or head.endswith("/")):
        return tail
    return model


def _output_type(config: Any) -> str:
    mime = field_of(config, "response_mime_type")
    if mime == "application/json" or field_of(config, "response_schema") is not None:
        return "json"
    if field_of(config, "response_json_schema") is not None:
        return "json"
    modalities = [str(getattr(m, "value", m)).upper() for m in field_of(config, "response_modalities") or ()]
    return next((kind for modality, kind in _OUTPUT_MODALITIES if modality in modalities), "text")


def _request(instance: Any, kwargs: dict[str, Any], operation: str, stream: bool) -> Request:
    client = getattr(instance, "_api_client", None)
    # An HttpOptions object; a plain dict in early 1.x releases.
    base_url = field_of(getattr(client, "_http_options", None), "base_url")
    host, port = url_server(base_url) if isinstance(base_url, str) else (None, None)
    return Request(
        provider=VERTEX_AI if getattr(client, "vertexai", False) else GEMINI,
        operation=operation,
        model=model_name(kwargs.get("model")),
        stream=stream,
        server_address=host,
        server_port=port,
        input_messages=given(kwargs.get("contents")),
    )


def read_generate_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    """``models.generate_content``: the call's arguments are passed on unchanged."""
    return _generate_request(instance, kwargs, stream=False), kwargs


def read_stream_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    """``models.generate_content_stream``: always streamed."""
    return _generate_request(instance, kwargs, stream=True), kwargs


def _generate_request(instance: Any, kwargs: dict[str, Any], *, stream: bool) -> Request:
    request = _request(instance, kwargs, GENERATE_CONTENT, stream)
    config = given(kwargs.get("config"))
    if config is not None:
        request.attributes = request_attributes(
            {name: field_of(config, name) for name, _ in _PARAMS}, _PARAMS
        )
    request.attributes[n.GEN_AI_OUTPUT_TYPE] = _output_type(config)
    return request


def read_embed_request(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Request, dict[str, Any]]:
    """``models.embed_content``."""
    return _request(instance, kwargs, EMBEDDINGS, stream=False), kwargs


# --- usage -----------------------------------------------------------------------------------------
def gemini_usage(metadata: Any) -> Usage | None:
    """One request's ``usage_metadata`` in GenAI semantics (see the module docstring)."""
    if metadata is None:
        return None
    thoughts = as_int(getattr(metadata, "thoughts_token_count", None))
    # Embedding responses name the output count ``response_token_count``.
    candidates = as_int(getattr(metadata, "candidates_token_count", None)) or as_int(
        getattr(metadata, "response_token_count", None)
    )
    return Usage(
        input_tokens=as_int(getattr(metadata, "prompt_token_count", None))
        + as_int(getattr(metadata, "tool_use_prompt_token_count", None)),
        output_tokens=candidates + thoughts,
        cache_read_tokens=as_int(getattr(metadata, "cached_content_token_count", None)),
        reasoning_tokens=thoughts,
    )


def summed(usages: Iterable[Usage | None]) -> Usage | None:
    """The sum of several requests' usage (None when none reported any)."""
    total: Usage | None = None
    for usage in usages:
        if usage is None:
            continue
        if total is None:
            total = Usage()
        total.input_tokens += usage.input_tokens
        total.output_tokens += usage.output_tokens
        total.cache_read_tokens += usage.cache_read_tokens
        total.reasoning_tokens += usage.reasoning_tokens
    return total


# --- responses -------------------------------------------------------------------------------------
def finish_reason(candidate: Any) -> str | None:
    """``FinishReason.MAX_TOKENS`` -> ``max_tokens`` (the enum's value, lower-cased)."""
    reason = getattr(candidate, "finish_reason", None)
    if reason is None:
        return None
    return str(getattr(reason, "value", reason)).lower().removeprefix("finish_reason_") or None


def _part(part: Any) -> Any:
    call = getattr(part, "function_call", None)
    if call is not None:
        return {
            "type": "function_call",
            "name": getattr(call, "name", None),
            "args": getattr(call, "args", None),
        }
    if getattr(part, "thought", None):
        return {"type": "thought"}
    return getattr(part, "text", None)


def _output(candidates: Iterable[Any]) -> list[Any]:
    return [_part(p) for c in candidates for p in getattr(getattr(c, "content", None), "parts", None) or ()]


def read_generate_response(result: Any, requests: Iterable[Any] = ()) -> Response:
    """A ``GenerateContentResponse``. ``requests``: the ``usage_metadata`` of every HTTP request
    the call made (automatic function calling sends several); their sum is the call's usage.
    Without them, the response's own usage."""
    candidates = getattr(result, "candidates", None) or ()
    usage = summed(gemini_usage(metadata) for metadata in requests)
    if usage is None:
        usage = gemini_usage(getattr(result, "usage_metadata", None))
    return Response(
        response_id=getattr(result, "response_id", None),
        model=getattr(result, "model_version", None),
        finish_reasons=tuple(r for r in map(finish_reason, candidates) if r),
        usage=usage,
        output_messages=lambda: _output(candidates),
    )


def _statistics_tokens(embeddings: Iterable[Any]) -> int | None:
    """Vertex ``:predict`` reports tokens per embedding (``statistics.token_count``, a float)."""
    counts = [getattr(getattr(e, "statistics", None), "token_count", None) for e in embeddings]
    found = [int(c) for c in counts if isinstance(c, (int, float)) and not isinstance(c, bool)]
    return sum(max(c, 0) for c in found) if found else None


def read_embed_response(result: Any) -> Response:
    """An ``EmbedContentResponse``: input tokens only."""
    usage = gemini_usage(getattr(result, "usage_metadata", None))
    if usage is None:
        tokens = _statistics_tokens(getattr(result, "embeddings", None) or ())
        usage = None if tokens is None else Usage(input_tokens=tokens)
    return Response(usage=usage)


def is_stream(result: Any) -> bool:
    """``generate_content_stream`` returns a generator (the async client: an async generator)."""
    return inspect.isgenerator(result) or inspect.isasyncgen(result)


# Reading any of these on a response counts as reading its output.
CONTENT_ATTRIBUTES: Final = frozenset(
    {
        "candidates",
        "text",
        "parts",
        "function_calls",
        "executable_code",
        "code_execution_result",
        "parsed",
        "embeddings",
    }
)
