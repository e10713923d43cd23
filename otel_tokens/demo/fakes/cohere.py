"""Fake Cohere API v2: ``POST /v2/chat`` (``"stream": true`` in the body streams SSE events) and
``POST /v2/embed``. Point the SDK at the server root: ``cohere.ClientV2(api_key="test", base_url=srv.url)``.

Cohere reports two sets of counts: ``billed_units`` (what is charged) and ``tokens`` (what the
model processed, which adds Cohere's own prompt template to the input). How the ``x-fake-*``
headers map (see :mod:`otel_tokens.demo.fake_llm`):

- input tokens -> ``billed_units.input_tokens``; chat's ``tokens.input_tokens`` is that plus
  :data:`TEMPLATE_TOKENS`, so a test can tell which one was read. The default counts the words
  of chat ``messages``; embed ``texts`` / ``inputs`` are not counted (1).
- output tokens -> ``billed_units.output_tokens`` and ``tokens.output_tokens``.
- cached tokens -> ``usage.cached_tokens`` (embed: ``meta.cached_tokens``), only when non-zero.
- reasoning and cache-write tokens are not used (Cohere's usage has no such fields).
- no-usage: no ``usage`` (embed: no ``meta``), also not in ``message-end``.
- response model: not used; Cohere's responses do not name the model.
- Streams: ``message-start``, ``content-start``, one ``content-delta`` per piece, ``content-end``,
  ``message-end`` (finish reason and usage under ``delta``); tool calls stream ``tool-plan-delta``,
  ``tool-call-start``, ``tool-call-delta`` pieces and ``tool-call-end`` instead. Every SSE
  event is named (``event:``) like its ``type``. A stream error drops the connection before
  ``message-end``.

Response ids are ``cohere-fake-<n>`` (embed: ``cohere-embed-fake-<n>``), tool calls
``cohere_call_fake<n>``. Errors carry Cohere's ``{"message": ...}`` body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from ..fake_llm import route
from ..fake_payloads import EMBEDDING_DIMENSIONS, TOOL_ARGUMENTS, Controls, JSONDict, SSEEvent, split_chunks

# Tokens Cohere adds to every prompt (its template); counted in ``tokens``, never billed.
TEMPLATE_TOKENS: Final = 60


def error(status: int, message: str) -> JSONDict:
    return {"id": f"cohere-error-{status}", "message": message}


def usage(c: Controls) -> JSONDict:
    found: JSONDict = {
        "billed_units": {"input_tokens": c.input_tokens, "output_tokens": c.output_tokens},
        "tokens": {"input_tokens": c.input_tokens + TEMPLATE_TOKENS, "output_tokens": c.output_tokens},
    }
    if c.cached_tokens:
        found["cached_tokens"] = c.cached_tokens
    return found


def _tool_call(c: Controls, num: int, arguments: str) -> JSONDict:
    return {
        "id": f"cohere_call_fake{num}",
        "type": "function",
        "function": {"name": c.tool_call, "arguments": arguments},
    }


def _event(kind: str, content: bool = False, **fields: Any) -> SSEEvent:
    return SSEEvent(json.dumps({"type": kind, **fields}, separators=(",", ":")), event=kind, content=content)


def chat(c: Controls, body: Mapping[str, Any], num: int, created: int) -> JSONDict | list[SSEEvent]:
    del created  # Cohere responses carry no timestamp
    finish = "TOOL_CALL" if c.tool_call else "COMPLETE"
    if body.get("stream") is not True:
        message: JSONDict = {"role": "assistant", "content": [{"type": "text", "text": c.output}]}
        if c.tool_call:
            message = {
                "role": "assistant",
                "tool_plan": f"I will call {c.tool_call}.",
                "tool_calls": [_tool_call(c, num, TOOL_ARGUMENTS)],
            }
        reply: JSONDict = {"id": f"cohere-fake-{num}", "finish_reason": finish, "message": message}
        return reply if c.no_usage else {**reply, "usage": usage(c)}

    start = {
        "message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}
    }
    events = [_event("message-start", id=f"cohere-fake-{num}", delta=start)]
    pieces = split_chunks(c.visible_text, c.chunks)
    if c.tool_call:
        plan = {"message": {"tool_plan": f"I will call {c.tool_call}."}}
        events.append(_event("tool-plan-delta", delta=plan))
        call = _tool_call(c, num, "")
        events.append(_event("tool-call-start", index=0, delta={"message": {"tool_calls": call}}))
        for piece in pieces:
            delta = {"message": {"tool_calls": {"function": {"arguments": piece}}}}
            events.append(_event("tool-call-delta", True, index=0, delta=delta))
        events.append(_event("tool-call-end", index=0))
    else:
        empty = {"message": {"content": {"type": "text", "text": ""}}}
        events.append(_event("content-start", index=0, delta=empty))
        for piece in pieces:
            events.append(
                _event("content-delta", True, index=0, delta={"message": {"content": {"text": piece}}})
            )
        events.append(_event("content-end", index=0))
    end: JSONDict = {"finish_reason": finish, **({} if c.no_usage else {"usage": usage(c)})}
    events.append(_event("message-end", delta=end))
    return events


def _vectors(kind: str, count: int) -> list[Any]:
    if kind == "base64":
        return ["AAAAAA=="] * count
    if kind != "float":  # int8, uint8, binary, ubinary
        return [[k % 2 for k in range(EMBEDDING_DIMENSIONS)] for _ in range(count)]
    return [[((i + k) % 8 - 4) / 8 for k in range(EMBEDDING_DIMENSIONS)] for i in range(count)]


def embed(c: Controls, body: Mapping[str, Any], num: int, created: int) -> JSONDict:
    del created
    texts = body.get("texts")
    count = len(texts) if isinstance(texts, list) else len(body.get("inputs") or body.get("images") or [None])
    kinds = body.get("embedding_types") or ["float"]
    reply: JSONDict = {
        "id": f"cohere-embed-fake-{num}",
        "response_type": "embeddings_by_type",
        "embeddings": {str(kind): _vectors(str(kind), count) for kind in kinds},
        "texts": texts if isinstance(texts, list) else [],
    }
    if c.no_usage:
        return reply
    meta: JSONDict = {
        "api_version": {"version": "2"},
        "billed_units": {"input_tokens": c.input_tokens},
        "tokens": {"input_tokens": c.input_tokens},
    }
    if c.cached_tokens:
        meta["cached_tokens"] = c.cached_tokens
    return {**reply, "meta": meta}


ROUTES: Final = (
    route("/v2/chat", "cohere", "cohere_chat", chat, error=error),
    route("/v2/embed", "cohere", "cohere_embed", embed, error=error),
)
