"""Request controls and provider-shaped payloads for the fake LLM server.

Everything here is pure: a request (headers + JSON body) is turned into a :class:`Controls`
value, and the builders turn that into the exact JSON / SSE shapes the real OpenAI and
Anthropic APIs return, so the official SDKs parse them unmodified. See
:mod:`otel_tokens.demo.fake_llm` for the header reference.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_OUTPUT = "Hello from the fake model."
TOOL_ARGUMENTS = '{"x": 1}'
MODEL_SUFFIX = "-2026-01-01"
EMBEDDING_DIMENSIONS = 8

JSONDict = dict[str, Any]

_OPENAI_ERRORS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "not_found"),
    409: ("invalid_request_error", "conflict"),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
}
_ANTHROPIC_ERRORS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass(frozen=True)
class Controls:
    """Per-request behaviour, resolved from ``x-fake-*`` headers and the request body."""

    output: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    cache_write_tokens: int
    status: int | None
    malformed: bool
    no_usage: bool
    chunks: int | None
    tool_call: str | None
    stream_error_after: int | None
    model: str
    n: int

    @property
    def visible_text(self) -> str:
        """What gets streamed: the completion text, or the tool call's JSON arguments."""
        return TOOL_ARGUMENTS if self.tool_call else self.output


@dataclass(frozen=True)
class SSEEvent:
    """One server-sent event; ``content`` marks the chunks counted by the stream controls."""

    data: str
    event: str | None = None
    content: bool = False

    def encode(self) -> bytes:
        head = f"event: {self.event}\n" if self.event else ""
        return f"{head}data: {self.data}\n\n".encode()


def _dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return max(0, int(raw.strip()))
    except ValueError:
        return None


def _flag(headers: Mapping[str, str], name: str) -> bool:
    return headers.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _iter_text(node: object) -> Iterator[str]:
    # Only "text"/"content" keys are walked so base64 images, tool schemas etc. never count.
    if isinstance(node, str):
        yield node
    elif isinstance(node, bool):
        return
    elif isinstance(node, int):
        yield "0"  # token-id prompts (embeddings / legacy completions): one token per id
    elif isinstance(node, list):
        for item in node:
            yield from _iter_text(item)
    elif isinstance(node, dict):
        for key in ("text", "content"):
            if key in node:
                yield from _iter_text(node[key])


def count_words(text: str) -> int:
    return len(text.split())


def request_words(body: Mapping[str, Any]) -> int:
    """Whitespace-separated words in the body's ``messages`` / ``input`` / ``prompt`` text."""
    return sum(count_words(t) for key in ("messages", "input", "prompt") for t in _iter_text(body.get(key)))


def parse_controls(headers: Mapping[str, str], body: Mapping[str, Any]) -> Controls:
    """Resolve the behaviour of one request; ``headers`` must have lower-cased keys."""
    output = headers.get("x-fake-output", DEFAULT_OUTPUT)
    tool_call = headers.get("x-fake-tool-call", "").strip() or None
    raw_n = body.get("n")
    n = raw_n if isinstance(raw_n, int) and not isinstance(raw_n, bool) and raw_n > 1 else 1
    visible = TOOL_ARGUMENTS if tool_call else output
    input_tokens = _int_header(headers, "x-fake-input-tokens")
    output_tokens = _int_header(headers, "x-fake-output-tokens")
    status = _int_header(headers, "x-fake-status")
    chunks = _int_header(headers, "x-fake-chunks")
    model = body.get("model")
    dated_model = f"{model if isinstance(model, str) else 'unknown'}{MODEL_SUFFIX}"
    return Controls(
        output=output,
        input_tokens=max(1, request_words(body)) if input_tokens is None else input_tokens,
        output_tokens=count_words(visible) * n if output_tokens is None else output_tokens,
        cached_tokens=_int_header(headers, "x-fake-cached-tokens") or 0,
        reasoning_tokens=_int_header(headers, "x-fake-reasoning-tokens") or 0,
        cache_write_tokens=_int_header(headers, "x-fake-cache-write-tokens") or 0,
        status=status if status is not None and status >= 400 else None,
        malformed=_flag(headers, "x-fake-malformed"),
        no_usage=_flag(headers, "x-fake-no-usage"),
        chunks=max(1, chunks) if chunks is not None else None,
        tool_call=tool_call,
        stream_error_after=_int_header(headers, "x-fake-stream-error-after"),
        model=headers.get("x-fake-response-model") or dated_model,
        n=n,
    )


def split_chunks(text: str, count: int | None) -> list[str]:
    """Split ``text`` into ``count`` pieces (default: one per word) that concatenate back to it."""
    pieces = re.findall(r"\s*\S+", text)
    if not pieces:
        pieces = [text]
    else:
        pieces[-1] += text[len("".join(pieces)) :]  # keep trailing whitespace
    if count is None or count == len(pieces):
        return pieces
    total = len(pieces)
    if count < total:
        return ["".join(pieces[i * total // count : (i + 1) * total // count]) for i in range(count)]
    length = len(text)
    return [text[i * length // count : (i + 1) * length // count] for i in range(count)]


def malformed_body() -> bytes:
    return b'{"id": "fake", "object": "chat.completion", "choices": [{"index": 0,'


def malformed_event(event: str | None) -> SSEEvent:
    return SSEEvent(data='{"type": "malformed", "delta": "unterminated', event=event)


# --------------------------------------------------------------------------- errors


def openai_error(status: int, message: str) -> JSONDict:
    err_type, code = _OPENAI_ERRORS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None)
    )
    return {"error": {"message": message, "type": err_type, "param": None, "code": code}}


def anthropic_error(status: int, message: str) -> JSONDict:
    err_type = _ANTHROPIC_ERRORS.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": err_type, "message": message}}


# --------------------------------------------------------------------------- OpenAI


def _openai_usage(c: Controls) -> JSONDict:
    return {
        "prompt_tokens": c.input_tokens,
        "completion_tokens": c.output_tokens,
        "total_tokens": c.input_tokens + c.output_tokens,
        "prompt_tokens_details": {"cached_tokens": c.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": c.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _include_usage(c: Controls, body: Mapping[str, Any]) -> bool:
    options = body.get("stream_options")
    return not c.no_usage and isinstance(options, dict) and options.get("include_usage") is True


def _finish_usage_chunks(c: Controls, body: Mapping[str, Any], base: JSONDict) -> list[SSEEvent]:
    # OpenAI: with include_usage, one extra chunk with no choices carries the usage, then [DONE].
    tail = (
        [SSEEvent(_dumps({**base, "choices": [], "usage": _openai_usage(c)}))]
        if _include_usage(c, body)
        else []
    )
    return [*tail, SSEEvent("[DONE]")]


def chat_completion(
    c: Controls, body: Mapping[str, Any], num: int, created: int
) -> JSONDict | list[SSEEvent]:
    cid = f"chatcmpl-fake-{num}"
    call_id = f"call_fake{num}"
    finish = "tool_calls" if c.tool_call else "stop"
    base: JSONDict = {
        "id": cid,
        "object": "chat.completion.chunk" if body.get("stream") is True else "chat.completion",
        "created": created,
        "model": c.model,
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    }
    if body.get("stream") is not True:
        message: JSONDict = {"role": "assistant", "content": c.output, "refusal": None, "annotations": []}
        if c.tool_call:
            function = {"name": c.tool_call, "arguments": TOOL_ARGUMENTS}
            message.update(
                content=None, tool_calls=[{"id": call_id, "type": "function", "function": function}]
            )
        choices = [
            {"index": i, "message": message, "logprobs": None, "finish_reason": finish} for i in range(c.n)
        ]
        return {**base, "choices": choices, **({} if c.no_usage else {"usage": _openai_usage(c)})}

    if _include_usage(c, body):
        base["usage"] = None  # every chunk has "usage": null when usage was requested
    pieces = split_chunks(c.visible_text, c.chunks)
    events: list[SSEEvent] = []
    for k, piece in enumerate(pieces):
        delta: JSONDict
        if c.tool_call:
            call: JSONDict = {"index": 0, "function": {"arguments": piece}}
            if k == 0:
                call.update(id=call_id, type="function", function={"name": c.tool_call, "arguments": piece})
            delta = {"tool_calls": [call]}
        else:
            delta = {"content": piece}
        if k == 0:
            delta = {"role": "assistant", "content": None, "refusal": None, **delta}
        done = finish if k == len(pieces) - 1 else None
        for i in range(c.n):
            choice = {"index": i, "delta": delta, "logprobs": None, "finish_reason": done}
            events.append(SSEEvent(_dumps({**base, "choices": [choice]}), content=True))
    return events + _finish_usage_chunks(c, body, base)


def completion(c: Controls, body: Mapping[str, Any], num: int, created: int) -> JSONDict | list[SSEEvent]:
    base: JSONDict = {
        "id": f"cmpl-fake-{num}",
        "object": "text_completion",
        "created": created,
        "model": c.model,
        "system_fingerprint": "fp_fake",
    }
    if body.get("stream") is not True:
        choices = [
            {"text": c.output, "index": i, "logprobs": None, "finish_reason": "stop"} for i in range(c.n)
        ]
        return {**base, "choices": choices, **({} if c.no_usage else {"usage": _openai_usage(c)})}

    if _include_usage(c, body):
        base["usage"] = None
    pieces = split_chunks(c.output, c.chunks)
    events: list[SSEEvent] = []
    for k, piece in enumerate(pieces):
        done = "stop" if k == len(pieces) - 1 else None
        for i in range(c.n):
            choice = {"text": piece, "index": i, "logprobs": None, "finish_reason": done}
            events.append(SSEEvent(_dumps({**base, "choices": [choice]}), content=True))
    return events + _finish_usage_chunks(c, body, base)


def _embedding_vector(text: str) -> list[float]:
    # Multiples of 1/128 in [-1, 1) are exact in float32, so float and base64 formats agree.
    digest = hashlib.sha256(text.encode()).digest()
    return [(b - 128) / 128 for b in digest[:EMBEDDING_DIMENSIONS]]


def embeddings(c: Controls, body: Mapping[str, Any], num: int, created: int) -> JSONDict:
    raw = body.get("input")
    inputs: list[object] = (
        raw if isinstance(raw, list) and not all(isinstance(x, int) for x in raw) else [raw]
    )
    data: list[JSONDict] = []
    for index, item in enumerate(inputs):
        vector = _embedding_vector(item if isinstance(item, str) else _dumps(item))
        encoded: object = vector
        if body.get("encoding_format") == "base64":
            encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    usage = {"prompt_tokens": c.input_tokens, "total_tokens": c.input_tokens}
    return {"object": "list", "data": data, "model": c.model, **({} if c.no_usage else {"usage": usage})}


def _responses_usage(c: Controls) -> JSONDict:
    return {
        "input_tokens": c.input_tokens,
        "input_tokens_details": {"cached_tokens": c.cached_tokens, "cache_write_tokens": 0},
        "output_tokens": c.output_tokens,
        "output_tokens_details": {"reasoning_tokens": c.reasoning_tokens},
        "total_tokens": c.input_tokens + c.output_tokens,
    }


def _responses_item(c: Controls, num: int, *, done: bool) -> JSONDict:
    status = "completed" if done else "in_progress"
    if c.tool_call:
        return {
            "id": f"fc_resp_fake{num}",
            "type": "function_call",
            "status": status,
            "call_id": f"call_resp_fake{num}",
            "name": c.tool_call,
            "arguments": TOOL_ARGUMENTS if done else "",
        }
    content = [_output_text(c.output)] if done else []
    return {
        "id": f"msg_resp_fake{num}",
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def _output_text(text: str) -> JSONDict:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _response_object(c: Controls, body: Mapping[str, Any], num: int, created: int, *, done: bool) -> JSONDict:
    return {
        "id": f"resp_fake{num}",
        "object": "response",
        "created_at": created,
        "status": "completed" if done else "in_progress",
        "background": False,
        "completed_at": created if done else None,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "metadata": body.get("metadata") or {},
        "model": c.model,
        "output": [_responses_item(c, num, done=True)] if done else [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
        "service_tier": "default",
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "usage": _responses_usage(c) if done and not c.no_usage else None,
        "user": None,
    }


def response(c: Controls, body: Mapping[str, Any], num: int, created: int) -> JSONDict | list[SSEEvent]:
    final = _response_object(c, body, num, created, done=True)
    if body.get("stream") is not True:
        return final
    seq = iter(range(1 << 30))
    events: list[SSEEvent] = []

    def emit(kind: str, content: bool = False, **fields: object) -> None:
        payload = {"type": kind, "sequence_number": next(seq), **fields}
        events.append(SSEEvent(_dumps(payload), event=kind, content=content))

    pending = _response_object(c, body, num, created, done=False)
    emit("response.created", response=pending)
    emit("response.in_progress", response=pending)
    item, item_id = _responses_item(c, num, done=False), final["output"][0]["id"]
    emit("response.output_item.added", output_index=0, item=item)
    pieces = split_chunks(c.visible_text, c.chunks)
    where: JSONDict = {"item_id": item_id, "output_index": 0}
    if c.tool_call:
        for piece in pieces:
            emit("response.function_call_arguments.delta", True, **where, delta=piece)
        emit("response.function_call_arguments.done", **where, arguments=TOOL_ARGUMENTS, name=c.tool_call)
    else:
        where["content_index"] = 0
        emit("response.content_part.added", **where, part=_output_text(""))
        for piece in pieces:
            emit("response.output_text.delta", True, **where, delta=piece, logprobs=[])
        emit("response.output_text.done", **where, text=c.output, logprobs=[])
        emit("response.content_part.done", **where, part=_output_text(c.output))
    emit("response.output_item.done", output_index=0, item=final["output"][0])
    emit("response.completed", response=final)
    return events


# --------------------------------------------------------------------------- Anthropic


def _anthropic_usage(c: Controls, *, output_tokens: int) -> JSONDict:
    usage: JSONDict = {
        "input_tokens": c.input_tokens,
        "cache_creation_input_tokens": c.cache_write_tokens,
        "cache_read_input_tokens": c.cached_tokens,
        "cache_creation": {"ephemeral_5m_input_tokens": c.cache_write_tokens, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }
    if c.reasoning_tokens:
        usage["output_tokens_details"] = {"thinking_tokens": c.reasoning_tokens}
    return usage


def message(c: Controls, body: Mapping[str, Any], num: int, created: int) -> JSONDict | list[SSEEvent]:
    del created  # Anthropic messages carry no timestamp
    tool_id = f"toolu_fake{num}"
    block: JSONDict = (
        {"type": "tool_use", "id": tool_id, "name": c.tool_call, "input": {"x": 1}}
        if c.tool_call
        else {"type": "text", "text": c.output}
    )
    msg: JSONDict = {
        "id": f"msg_fake{num}",
        "type": "message",
        "role": "assistant",
        "model": c.model,
        "content": [block],
        "stop_reason": "tool_use" if c.tool_call else "end_turn",
        "stop_sequence": None,
    }
    if body.get("stream") is not True:
        return msg if c.no_usage else {**msg, "usage": _anthropic_usage(c, output_tokens=c.output_tokens)}

    start = {**msg, "content": [], "stop_reason": None}
    if not c.no_usage:
        start["usage"] = _anthropic_usage(c, output_tokens=1)  # real API reports 1 output token up front
    events: list[SSEEvent] = []

    def emit(kind: str, content: bool = False, **fields: object) -> None:
        events.append(SSEEvent(_dumps({"type": kind, **fields}), event=kind, content=content))

    emit("message_start", message=start)
    empty = {**block, "input": {}} if c.tool_call else {**block, "text": ""}
    emit("content_block_start", index=0, content_block=empty)
    emit("ping")
    for piece in split_chunks(c.visible_text, c.chunks):
        delta = (
            {"type": "input_json_delta", "partial_json": piece}
            if c.tool_call
            else {"type": "text_delta", "text": piece}
        )
        emit("content_block_delta", True, index=0, delta=delta)
    emit("content_block_stop", index=0)
    final_usage: JSONDict = {"output_tokens": c.output_tokens}
    if c.reasoning_tokens:
        final_usage["output_tokens_details"] = {"thinking_tokens": c.reasoning_tokens}
    delta_fields: JSONDict = {} if c.no_usage else {"usage": final_usage}
    emit("message_delta", delta={"stop_reason": msg["stop_reason"], "stop_sequence": None}, **delta_fields)
    emit("message_stop")
    return events


def count_tokens(c: Controls, body: Mapping[str, Any], num: int, created: int) -> JSONDict:
    del body, num, created
    return {"input_tokens": c.input_tokens}
