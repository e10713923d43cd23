"""Fake Mistral API under ``/mistral``: point the SDK there with
``Mistral(api_key="test", server_url=srv.url + "/mistral")``.

Routes: ``POST /mistral/v1/chat/completions``, ``/mistral/v1/fim/completions``,
``/mistral/v1/agents/completions`` (``"stream": true`` in the body streams SSE chunks ending in
``data: [DONE]``) and ``/mistral/v1/embeddings``. Response ids are ``cmpl-mistral-fake<n>``
(``embd-mistral-fake<n>`` for embeddings), tool calls ``call_mistral_fake<n>``.

How the ``x-fake-*`` headers map (see :mod:`otel_tokens.demo.fake_llm`):

- input tokens -> ``usage.prompt_tokens`` (a total that *includes* the cached tokens). The default
  counts the words of ``messages`` / ``prompt`` / ``input``.
- output tokens -> ``usage.completion_tokens`` (includes reasoning tokens).
- cached tokens -> ``usage.prompt_tokens_details.cached_tokens``;
  reasoning tokens -> ``usage.completion_tokens_details.reasoning_tokens`` (only when non-zero);
  cache-write tokens are not used (Mistral reports none).
- no-usage: no ``usage`` object, also not in the last stream chunk (the SDK requires ``usage`` on
  a whole response and raises ``ResponseValidationError`` without it).
- Streams: a first chunk with the role, one chunk per content piece, then a last chunk with an
  empty delta, the finish reason and the usage (as Mistral sends it), then ``[DONE]``. A stream
  error drops the connection before that last chunk.
- Agents completions answer with model ``mistral-medium-latest`` (the request names an agent, not a
  model) unless ``x-fake-response-model`` is set. Errors are Mistral's JSON error shape
  (422: FastAPI's ``detail`` list, which the SDK parses into ``HTTPValidationError``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

from ..fake_llm import Route, route
from ..fake_payloads import TOOL_ARGUMENTS, Controls, JSONDict, SSEEvent, embeddings, split_chunks

PREFIX: Final = "/mistral/v1"
AGENT_MODEL: Final = "mistral-medium-latest"


def _dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


def error(status: int, message: str) -> JSONDict:
    if status == 422:
        return {"detail": [{"type": "value_error", "loc": ["body"], "msg": message, "input": None}]}
    kind = "invalid_request_error" if status < 500 else "internal_server_error"
    return {"object": "error", "message": message, "type": kind, "param": None, "code": str(status)}


def usage(c: Controls) -> JSONDict:
    found: JSONDict = {
        "prompt_tokens": c.input_tokens,
        "completion_tokens": c.output_tokens,
        "total_tokens": c.input_tokens + c.output_tokens,
        "prompt_tokens_details": {"cached_tokens": c.cached_tokens},
    }
    if c.reasoning_tokens:
        found["completion_tokens_details"] = {"reasoning_tokens": c.reasoning_tokens}
    return found


def _tool_call(c: Controls, num: int, arguments: str) -> JSONDict:
    function = {"name": c.tool_call, "arguments": arguments}
    return {"id": f"call_mistral_fake{num}", "type": "function", "function": function, "index": 0}


def _completion(c: Controls, body: Mapping[str, Any], num: int, created: int) -> JSONDict | list[SSEEvent]:
    finish = "tool_calls" if c.tool_call else "stop"
    base: JSONDict = {"id": f"cmpl-mistral-fake{num}", "created": created, "model": c.model}
    if body.get("stream") is not True:
        message: JSONDict = {"role": "assistant", "content": c.output, "tool_calls": None, "prefix": False}
        if c.tool_call:
            message.update(content="", tool_calls=[_tool_call(c, num, TOOL_ARGUMENTS)])
        choices = [{"index": i, "message": message, "finish_reason": finish} for i in range(c.n)]
        reply = {**base, "object": "chat.completion", "choices": choices}
        return reply if c.no_usage else {**reply, "usage": usage(c)}

    base["object"] = "chat.completion.chunk"

    def chunk(
        delta: JSONDict, finish_reason: str | None, content: bool = False, tail: JSONDict | None = None
    ) -> SSEEvent:
        choices = [{"index": i, "delta": delta, "finish_reason": finish_reason} for i in range(c.n)]
        return SSEEvent(_dumps({**base, "choices": choices, **(tail or {})}), content=content)

    events = [chunk({"role": "assistant", "content": ""}, None)]
    for k, piece in enumerate(split_chunks(c.visible_text, c.chunks)):
        call = _tool_call(c, num, piece) if k == 0 else {"index": 0, "function": {"arguments": piece}}
        delta: JSONDict = {"tool_calls": [call]} if c.tool_call else {"content": piece}
        events.append(chunk(delta, None, content=True))
    events.append(chunk({"content": ""}, finish, tail=None if c.no_usage else {"usage": usage(c)}))
    return [*events, SSEEvent("[DONE]")]


def _agents_completion(
    c: Controls, body: Mapping[str, Any], num: int, created: int
) -> JSONDict | list[SSEEvent]:
    if c.model.startswith("unknown"):  # no model in the request: the agent's own
        c = replace(c, model=AGENT_MODEL)
    return _completion(c, body, num, created)


def _embeddings(c: Controls, body: Mapping[str, Any], num: int, created: int) -> JSONDict:
    reply = embeddings(c, body, num, created)  # the SDK sends ``inputs`` as ``input``, like OpenAI
    reply["id"] = f"embd-mistral-fake{num}"
    if "usage" in reply:
        reply["usage"] = {
            "prompt_tokens": c.input_tokens,
            "completion_tokens": 0,
            "total_tokens": c.input_tokens,
        }
    return reply


def _route(path: str, kind: str, build: Any) -> Route:
    return route(PREFIX + path, "mistral", kind, build, error=error)


ROUTES: Final = (
    _route("/chat/completions", "mistral_completion", _completion),
    _route("/fim/completions", "mistral_completion", _completion),
    _route("/agents/completions", "mistral_completion", _agents_completion),
    _route("/embeddings", "mistral_embedding", _embeddings),
)
