"""Fake Groq API: ``POST /openai/v1/chat/completions`` and ``/openai/v1/embeddings``.

Point ``groq.Groq(base_url=srv.url)`` at the server (the SDK's paths carry ``/openai/v1``).
Bodies are OpenAI's shapes with Groq's additions: ``x_groq`` (``{"id": "req_fake<n>"}``), a
``usage`` with Groq's timing fields, ``service_tier: "on_demand"``; errors are OpenAI-shaped.

How the ``x-fake-*`` headers map (see :mod:`otel_tokens.demo.fake_llm`):

- ``x-fake-input-tokens`` -> ``usage.prompt_tokens`` (a total including cached tokens);
  ``x-fake-output-tokens`` -> ``usage.completion_tokens`` (including reasoning);
  ``x-fake-cached-tokens`` -> ``usage.prompt_tokens_details.cached_tokens`` and
  ``x-fake-reasoning-tokens`` -> ``usage.completion_tokens_details.reasoning_tokens``, each
  only when non-zero. ``x-fake-cache-write-tokens`` is ignored (Groq reports none).
- Streams: the usage comes as Groq sends it, in ``x_groq.usage`` of the final chunk (empty
  delta, ``finish_reason``), not as an OpenAI usage chunk; the first chunk carries
  ``x_groq.id``. Content chunks are the text deltas (``x-fake-chunks``); a tool call
  (``x-fake-tool-call``) comes whole in one chunk, as Groq streams it. ``n`` is ignored (Groq
  serves one choice). ``x-fake-stream-error-after`` drops the connection before the final chunk.
- ``x-fake-output``, ``x-fake-status``, ``x-fake-malformed``, ``x-fake-no-usage`` and
  ``x-fake-response-model`` work as for OpenAI. Embeddings: exactly OpenAI's payload.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from otel_tokens.demo import fake_payloads as payloads
from otel_tokens.demo.fake_llm import Builder, Route, route
from otel_tokens.demo.fake_payloads import Controls, JSONDict, SSEEvent

PROVIDER: Final = "groq"


def usage(c: Controls) -> JSONDict:
    """Groq's ``usage``: OpenAI's counts plus its timings (seconds), details only when non-zero."""
    result: JSONDict = {
        "queue_time": 0.01,
        "prompt_tokens": c.input_tokens,
        "prompt_time": 0.001 * c.input_tokens,
        "completion_tokens": c.output_tokens,
        "completion_time": 0.002 * c.output_tokens,
        "total_tokens": c.input_tokens + c.output_tokens,
        "total_time": 0.001 * c.input_tokens + 0.002 * c.output_tokens,
    }
    if c.cached_tokens:
        result["prompt_tokens_details"] = {"cached_tokens": c.cached_tokens}
    if c.reasoning_tokens:
        result["completion_tokens_details"] = {"reasoning_tokens": c.reasoning_tokens}
    return result


def _tool_call(c: Controls, num: int) -> JSONDict:
    function = {"name": c.tool_call, "arguments": payloads.TOOL_ARGUMENTS}
    return {"id": f"call_fake{num}", "type": "function", "function": function}


def chat_completion(
    c: Controls, body: Mapping[str, Any], num: int, created: int
) -> JSONDict | list[SSEEvent]:
    request_id = f"req_fake{num}"
    if body.get("stream") is not True:
        single = {**body, "n": 1}
        reply = payloads.chat_completion(c, single, num, created)
        assert isinstance(reply, dict)  # not streamed: one JSON body
        reply.pop("usage", None)
        extra = {} if c.no_usage else {"usage": usage(c)}
        return {**reply, **extra, "service_tier": "on_demand", "x_groq": {"id": request_id}}

    base: JSONDict = {
        "id": f"chatcmpl-fake-{num}",
        "object": "chat.completion.chunk",
        "created": created,
        "model": c.model,
        "system_fingerprint": "fp_fake",
    }

    def chunk(delta: JSONDict, finish: str | None = None, x_groq: JSONDict | None = None) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        extra = {} if x_groq is None else {"x_groq": x_groq}
        return json.dumps({**base, "choices": [choice], **extra}, separators=(",", ":"))

    deltas: list[JSONDict]
    if c.tool_call:
        deltas = [{"tool_calls": [{"index": 0, **_tool_call(c, num)}]}]
    else:
        deltas = [{"content": piece} for piece in payloads.split_chunks(c.output, c.chunks)]
    deltas[0] = {"role": "assistant", "content": None if c.tool_call else "", **deltas[0]}
    events = [
        SSEEvent(chunk(delta, x_groq={"id": request_id} if k == 0 else None), content=True)
        for k, delta in enumerate(deltas)
    ]
    final_groq: JSONDict = {"id": request_id} if c.no_usage else {"id": request_id, "usage": usage(c)}
    finish = "tool_calls" if c.tool_call else "stop"
    events.append(SSEEvent(chunk({}, finish, x_groq=final_groq)))
    events.append(SSEEvent("[DONE]"))
    return events


def _route(path: str, kind: str, build: Builder) -> Route:
    return route(path, PROVIDER, kind, build, error=payloads.openai_error)


ROUTES: tuple[Route, ...] = (
    _route("/openai/v1/chat/completions", "groq_chat", chat_completion),
    _route("/openai/v1/embeddings", "groq_embedding", payloads.embeddings),
)
