"""Fake Ollama API: ``POST /api/chat``, ``/api/generate`` and ``/api/embed``.

Point ``ollama.Client(host=srv.url)`` at the server. ``stream`` defaults to true on the wire,
as on a real Ollama server: streams are NDJSON (``application/x-ndjson``), one JSON object per
line, the last one ``done: true`` with the counts; errors are ``{"error": "..."}``.

How the ``x-fake-*`` headers map (see :mod:`otel_tokens.demo.fake_llm`):

- ``x-fake-input-tokens`` -> ``prompt_eval_count`` (the whole prompt, cached part included);
  ``x-fake-output-tokens`` -> ``eval_count`` (thinking included: Ollama has no reasoning
  count); ``x-fake-cached-tokens`` -> ``prompt_eval_cached_count`` when non-zero (newer
  servers send it; the ``ollama`` SDK up to 0.6.3 drops it). ``x-fake-reasoning-tokens`` and
  ``x-fake-cache-write-tokens`` are ignored. ``/api/embed`` reports ``prompt_eval_count`` only.
- ``x-fake-output`` -> ``message.content`` (chat) / ``response`` (generate);
  ``x-fake-tool-call: NAME`` -> one ``message.tool_calls`` entry with arguments ``{"x": 1}``,
  streamed whole in one line, as Ollama does.
- ``x-fake-chunks`` / ``x-fake-stream-error-after`` count the content lines; the final
  ``done`` line is not one. ``x-fake-no-usage`` leaves the counts and durations out.
- ``x-fake-malformed``: a body (or, in streams, a line after the first content line) that is
  not JSON. ``x-fake-status``: that status with ``{"error": ...}``.
- ``model`` is ``x-fake-response-model``, else the request model + ``-2026-01-01``. Durations
  (nanoseconds) derive from the counts, so responses are reproducible; ``created_at`` comes
  from the server clock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Final

from otel_tokens.demo import fake_payloads as payloads
from otel_tokens.demo.fake_llm import Builder, Route, StreamEvent, route
from otel_tokens.demo.fake_payloads import Controls, JSONDict

PROVIDER: Final = "ollama"
NDJSON: Final = "application/x-ndjson"
EMBEDDING_DIMENSIONS: Final = 8
_NS_PER_TOKEN: Final = 1_000_000  # fake durations: one millisecond per token


@dataclass(frozen=True)
class NDJSONLine:
    """One line of an NDJSON stream."""

    data: JSONDict = field(default_factory=dict)
    content: bool = False

    def encode(self) -> bytes:
        return json.dumps(self.data, separators=(",", ":")).encode() + b"\n"


@dataclass(frozen=True)
class RawLine:
    """A line that is not JSON (``x-fake-malformed`` in streams)."""

    text: bytes
    content: bool = False

    def encode(self) -> bytes:
        return self.text


def error(status: int, message: str) -> JSONDict:
    return {"error": message}


def _malformed(event: StreamEvent) -> StreamEvent:
    return RawLine(b'{"model": "fake", "message": {"content": "unterminated\n')


def _created_at(created: int) -> str:
    return datetime.fromtimestamp(created, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _streaming(body: Mapping[str, Any]) -> bool:
    return body.get("stream", True) is not False  # Ollama streams unless told not to


def _counts(c: Controls) -> JSONDict:
    if c.no_usage:
        return {}
    counts: JSONDict = {
        "total_duration": (c.input_tokens + c.output_tokens + 1) * _NS_PER_TOKEN,
        "load_duration": _NS_PER_TOKEN,
        "prompt_eval_count": c.input_tokens,
        "prompt_eval_duration": c.input_tokens * _NS_PER_TOKEN,
        "eval_count": c.output_tokens,
        "eval_duration": c.output_tokens * _NS_PER_TOKEN,
    }
    if c.cached_tokens:
        counts["prompt_eval_cached_count"] = c.cached_tokens
    return counts


def _tool_calls(c: Controls) -> list[JSONDict]:
    return [{"function": {"name": c.tool_call, "arguments": json.loads(payloads.TOOL_ARGUMENTS)}}]


def _lines(c: Controls, head: JSONDict, pieces: list[JSONDict], final: JSONDict) -> list[StreamEvent]:
    lines: list[StreamEvent] = [
        NDJSONLine({**head, **piece, "done": False}, content=True) for piece in pieces
    ]
    lines.append(NDJSONLine({**head, **final, "done": True, "done_reason": "stop", **_counts(c)}))
    return lines


def chat(c: Controls, body: Mapping[str, Any], num: int, created: int) -> JSONDict | list[StreamEvent]:
    del num  # Ollama responses carry no id
    head: JSONDict = {"model": c.model, "created_at": _created_at(created)}
    message: JSONDict = {"role": "assistant", "content": c.output}
    if c.tool_call:
        message = {"role": "assistant", "content": "", "tool_calls": _tool_calls(c)}
    if not _streaming(body):
        return {**head, "message": message, "done": True, "done_reason": "stop", **_counts(c)}
    if c.tool_call:
        pieces = [{"message": message}]
    else:
        pieces = [
            {"message": {"role": "assistant", "content": piece}}
            for piece in payloads.split_chunks(c.output, c.chunks)
        ]
    return _lines(c, head, pieces, {"message": {"role": "assistant", "content": ""}})


def generate(c: Controls, body: Mapping[str, Any], num: int, created: int) -> JSONDict | list[StreamEvent]:
    del num
    head: JSONDict = {"model": c.model, "created_at": _created_at(created)}
    context = {"context": list(range(1, c.input_tokens + c.output_tokens + 1))} if not c.no_usage else {}
    if not _streaming(body):
        return {**head, "response": c.output, "done": True, "done_reason": "stop", **context, **_counts(c)}
    pieces = [{"response": piece} for piece in payloads.split_chunks(c.output, c.chunks)]
    return _lines(c, head, pieces, {"response": "", **context})


def _vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [(b - 128) / 128 for b in digest[:EMBEDDING_DIMENSIONS]]


def embed(c: Controls, body: Mapping[str, Any], num: int, created: int) -> JSONDict:
    del num, created
    raw = body.get("input")
    inputs = raw if isinstance(raw, list) else [raw]
    result: JSONDict = {"model": c.model, "embeddings": [_vector(str(item)) for item in inputs]}
    if not c.no_usage:
        result.update(
            total_duration=(c.input_tokens + 1) * _NS_PER_TOKEN,
            load_duration=_NS_PER_TOKEN,
            prompt_eval_count=c.input_tokens,
        )
    return result


def _route(path: str, kind: str, build: Builder) -> Route:
    return route(
        path, PROVIDER, kind, build, error=error, stream_content_type=NDJSON, malformed_event=_malformed
    )


ROUTES: tuple[Route, ...] = (
    _route("/api/chat", "ollama_chat", chat),
    _route("/api/generate", "ollama_generate", generate),
    _route("/api/embed", "ollama_embed", embed),
)
