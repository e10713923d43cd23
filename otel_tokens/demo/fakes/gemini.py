"""Fake Google Gemini API (Gemini Developer API and Vertex AI paths), for the ``google-genai`` SDK.

Point ``genai.Client(api_key="test", http_options=types.HttpOptions(base_url=srv.url))`` at
the server (``vertexai=True`` works too, with an API key). Paths, any API version:

- ``/{version}/models/{model}:generateContent`` (JSON) and ``:streamGenerateContent?alt=sse``
  (SSE, ``data:`` lines only), with Vertex AI's ``[projects/P/locations/L/]publishers/google/``
  prefix as well;
- ``:batchEmbedContents`` (Gemini API and Vertex ``gemini-embedding-*``), ``:embedContent``
  and Vertex's ``:predict`` (``text-embedding-*``).

Errors are Google's shape, ``{"error": {"code", "message", "status"}}``.

How the ``x-fake-*`` headers map (see :mod:`otel_tokens.demo.fake_llm`), verbatim into
``usageMetadata``:

- ``x-fake-input-tokens`` -> ``promptTokenCount`` (Gemini's count *includes* the cached
  tokens, so keep it >= ``x-fake-cached-tokens``); default: words of the request's text
  parts (``contents`` / ``requests`` / ``instances``), minimum 1. An explicit value of 1 is
  indistinguishable from that default and reads as the word count.
- ``x-fake-output-tokens`` -> ``candidatesTokenCount`` (which *excludes* thoughts).
- ``x-fake-reasoning-tokens`` -> ``thoughtsTokenCount``; ``x-fake-cached-tokens`` ->
  ``cachedContentTokenCount``. Gemini reports no cache writes, so
  ``x-fake-cache-write-tokens`` feeds ``toolUsePromptTokenCount`` (tool results fed back as
  input) instead. ``totalTokenCount`` is the sum of prompt, candidates, thoughts and tool use.
- ``x-fake-output`` -> the candidate's text part; ``x-fake-tool-call: NAME`` -> one
  ``functionCall`` part ``{"name": NAME, "args": {"x": 1}}`` instead, unless the request's last
  turn carries a ``functionResponse`` (the SDK's automatic function calling sending the tool
  result back): then the model answers with text, as a real one would.
- Streams: one SSE event per content chunk (``x-fake-chunks``; a function call is one chunk),
  each with the cumulative ``usageMetadata`` so far (the prompt and thoughts in full,
  candidates growing), then one closing event that is not a content chunk: an empty text
  part, ``finishReason`` and the final usage. ``x-fake-stream-error-after`` drops the
  connection before that closing event at the latest.
- ``x-fake-no-usage`` leaves ``usageMetadata`` (and Vertex's embedding ``statistics``) out;
  ``x-fake-malformed``: a body, or one ``data:`` line after the first chunk, that is not JSON.
- ``modelVersion`` is ``x-fake-response-model``, else the request model + ``-2026-01-01``;
  ``responseId`` is ``gemini-fake-<n>``. Embeddings report ``promptTokenCount`` only
  (Vertex ``:predict``: ``statistics.token_count`` per instance, summing to the header).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any, Final

from otel_tokens.demo import fake_payloads as payloads
from otel_tokens.demo.fake_llm import Builder, Route, route
from otel_tokens.demo.fake_payloads import Controls, JSONDict, SSEEvent

PROVIDER: Final = "gcp.gemini"
EMBEDDING_DIMENSIONS: Final = 8
_STATUS_NAMES: Final = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
# Any API version; Vertex AI adds an optional project/location and the publisher.
_MODEL_PATH: Final = (
    r"/v[0-9][a-z0-9]*/(?:projects/[^/]+/locations/[^/]+/)?(?:publishers/[^/]+/)?models/(?P<model>[^/:]+)"
)


def error(status: int, message: str) -> JSONDict:
    name = _STATUS_NAMES.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
    return {"error": {"code": status, "message": message, "status": name}}


def _dumps(payload: JSONDict) -> str:
    return json.dumps(payload, separators=(",", ":"))


# --- request reading -------------------------------------------------------------------------------
def _texts(node: object) -> Iterator[str]:
    """Text of ``text`` fields under contents / parts (Vertex ``:predict`` instances: ``content``)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item)
    elif isinstance(node, dict):
        for key in ("text", "parts", "content", "contents"):
            if key in node:
                yield from _texts(node[key])


def _input_tokens(c: Controls, body: Mapping[str, Any]) -> int:
    if c.input_tokens != 1:  # an explicit header (the shared default finds no words in Gemini bodies)
        return c.input_tokens
    words = sum(
        payloads.count_words(t)
        for key in ("contents", "requests", "instances")
        for t in _texts(body.get(key))
    )
    return max(1, words)


def _answers_tool_result(body: Mapping[str, Any]) -> bool:
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents or not isinstance(contents[-1], dict):
        return False
    parts = contents[-1].get("parts")
    return isinstance(parts, list) and any(isinstance(p, dict) and "functionResponse" in p for p in parts)


# --- generateContent -------------------------------------------------------------------------------
def _usage(c: Controls, body: Mapping[str, Any], candidates: int) -> JSONDict:
    prompt = _input_tokens(c, body)
    usage: JSONDict = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt + candidates + c.reasoning_tokens + c.cache_write_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
    }
    if c.cached_tokens:
        usage["cachedContentTokenCount"] = c.cached_tokens
        usage["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": c.cached_tokens}]
    if c.reasoning_tokens:
        usage["thoughtsTokenCount"] = c.reasoning_tokens
    if c.cache_write_tokens:
        usage["toolUsePromptTokenCount"] = c.cache_write_tokens
    return usage


def _part(c: Controls, body: Mapping[str, Any], text: str) -> JSONDict:
    if c.tool_call and not _answers_tool_result(body):
        return {"functionCall": {"name": c.tool_call, "args": {"x": 1}}}
    return {"text": text}


def _chunk(
    c: Controls, body: Mapping[str, Any], num: int, part: JSONDict, candidates: int, finish: bool
) -> JSONDict:
    candidate: JSONDict = {"content": {"parts": [part], "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = "STOP"
    payload: JSONDict = {
        "candidates": [candidate],
        "modelVersion": c.model,
        "responseId": f"gemini-fake-{num}",
    }
    if not c.no_usage:
        payload["usageMetadata"] = _usage(c, body, candidates)
    return payload


def generate_content(c: Controls, body: Mapping[str, Any], num: int, created: int) -> JSONDict:
    del created  # Gemini responses carry no timestamp (Vertex's createTime is optional)
    return _chunk(c, body, num, _part(c, body, c.output), c.output_tokens, finish=True)


def stream_generate_content(c: Controls, body: Mapping[str, Any], num: int, created: int) -> list[SSEEvent]:
    del created
    calls_tool = c.tool_call is not None and not _answers_tool_result(body)
    pieces = [""] if calls_tool else payloads.split_chunks(c.output, c.chunks)
    events = [
        SSEEvent(
            _dumps(
                _chunk(c, body, num, _part(c, body, piece), c.output_tokens * (k + 1) // len(pieces), False)
            ),
            content=True,
        )
        for k, piece in enumerate(pieces)
    ]
    closing = _chunk(c, body, num, {"text": ""}, c.output_tokens, finish=True)
    return [*events, SSEEvent(_dumps(closing))]


# --- embeddings ------------------------------------------------------------------------------------
def _vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [(b - 128) / 128 for b in digest[:EMBEDDING_DIMENSIONS]]


def _embedding_usage(c: Controls, body: Mapping[str, Any]) -> JSONDict:
    if c.no_usage:
        return {}
    prompt = _input_tokens(c, body)
    return {"usageMetadata": {"promptTokenCount": prompt, "totalTokenCount": prompt}}


def batch_embed_contents(c: Controls, body: Mapping[str, Any], num: int, created: int) -> JSONDict:
    del num, created
    requests = body.get("requests")
    items = requests if isinstance(requests, list) else []
    embeddings = [{"values": _vector(" ".join(_texts(item)))} for item in items]
    return {"embeddings": embeddings, **_embedding_usage(c, body)}


def embed_content(c: Controls, body: Mapping[str, Any], num: int, created: int) -> JSONDict:
    del num, created
    return {
        "embedding": {"values": _vector(" ".join(_texts(body.get("content"))))},
        **_embedding_usage(c, body),
    }


def predict(c: Controls, body: Mapping[str, Any], num: int, created: int) -> JSONDict:
    """Vertex ``:predict`` for ``text-embedding-*``: per-instance ``statistics.token_count``."""
    del num, created
    raw = body.get("instances")
    instances = raw if isinstance(raw, list) else []
    total = _input_tokens(c, body)
    predictions = []
    for index, instance in enumerate(instances):
        embedding: JSONDict = {"values": _vector(" ".join(_texts(instance)))}
        if not c.no_usage:  # the counts sum to the header: the first instance takes the remainder
            share = total // len(instances) + (total % len(instances) if index == 0 else 0)
            embedding["statistics"] = {"truncated": False, "token_count": share}
        predictions.append({"embeddings": embedding})
    return {"predictions": predictions, "metadata": {"billableCharacterCount": total * 4}}


def _route(method: str, build: Builder, kind: str) -> Route:
    return route(f"{_MODEL_PATH}:{method}", PROVIDER, kind, build, error=error)


ROUTES: Final = (
    _route("generateContent", generate_content, "gemini"),
    _route("streamGenerateContent", stream_generate_content, "gemini"),
    _route("batchEmbedContents", batch_embed_contents, "gemini_embedding"),
    _route("embedContent", embed_content, "gemini_embedding"),
    _route("predict", predict, "gemini_embedding"),
)

__all__ = ["ROUTES", "error"]
