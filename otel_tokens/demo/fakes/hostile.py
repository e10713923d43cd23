"""Hostile provider responses for the reliability tests: OpenAI- and Anthropic-shaped bodies with
negative counts, renamed or missing fields, or made up entirely, driven by the request.

The spec travels in the URL path (the SDKs send no custom field to every endpoint, but a
``base_url`` is kept for every call), so one client is one behaviour:

- ``/hostile/<spec>/v1/chat/completions``, ``/v1/completions``, ``/v1/responses``,
  ``/v1/embeddings`` (OpenAI shapes and errors) and ``/hostile/<spec>/v1/messages`` (Anthropic).
  Point ``OpenAI(base_url=hostile_url(server.url, spec) + "/v1")`` or
  ``Anthropic(base_url=hostile_url(server.url, spec))`` at them.
- ``/hostile-raw/<spec>/v1/...`` (same paths): the body is exactly ``spec["raw"]`` (a str, sent
  as UTF-8 with ``Content-Type: application/json``), for bodies that are not JSON objects at all.

``<spec>`` is base64url JSON (no padding; see :func:`encode_spec`) or ``-`` for none. Keys:

``body``
    A JSON object served verbatim instead of the built-in payload (non-streamed requests).
``events``
    A list of ``{"event": name or null, "data": JSON value or str}`` streamed as SSE instead of
    the built-in events (streamed requests).
``set``
    ``{"usage.prompt_tokens": -5, ...}``: dotted paths (list indexes as numbers) set in the
    built-in payload, and in each streamed event's JSON, wherever the parent exists.
``rename``
    ``{"usage": "usage_v2"}``: keys renamed at any depth (an SDK upgrade that renames a field).
``drop``
    ``["model", ...]``: keys removed at any depth.

The built-in payload is the one :mod:`otel_tokens.demo.fake_payloads` builds for the same path,
so every ``x-fake-*`` header keeps its meaning before the spec is applied: ``x-fake-output``,
``x-fake-input-tokens`` / ``x-fake-output-tokens`` / ``x-fake-cached-tokens`` /
``x-fake-reasoning-tokens`` / ``x-fake-cache-write-tokens`` (the provider's own usage fields),
``x-fake-chunks``, ``x-fake-tool-call``, ``x-fake-no-usage``, ``x-fake-response-model`` as for
``/v1/...``; ``x-fake-status`` answers with the provider's error shape; ``x-fake-malformed``
truncates the JSON body, or adds a malformed event after the first streamed one;
``x-fake-stream-error-after: N`` drops the connection after N ``events`` (all of them count as
content) or N built-in content events.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from otel_tokens.demo import fake_payloads as payloads
from otel_tokens.demo.fake_llm import Route, StreamEvent, route
from otel_tokens.demo.fake_payloads import Controls, JSONDict, SSEEvent

# base64url without padding, or "-" for no spec.
_SPEC: Final = r"(?P<hostile>-|[A-Za-z0-9_-]+)"
Build = Callable[[Controls, Mapping[str, Any], int, int], "JSONDict | Sequence[StreamEvent]"]


def encode_spec(spec: Mapping[str, Any] | None) -> str:
    """The path segment for ``spec``: ``encode_spec({"set": {"usage.prompt_tokens": -5}})``."""
    if not spec:
        return "-"
    raw = json.dumps(spec, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def hostile_url(server_url: str, spec: Mapping[str, Any] | None, *, raw: bool = False) -> str:
    """``{server_url}/hostile/<spec>``: an Anthropic ``base_url``; add ``/v1`` for OpenAI."""
    return f"{server_url}/{'hostile-raw' if raw else 'hostile'}/{encode_spec(spec)}"


def _decode_spec(text: object) -> JSONDict:
    if not isinstance(text, str) or text == "-":
        return {}
    try:
        spec = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):
        return {}
    return spec if isinstance(spec, dict) else {}


# --- transforms of a built-in payload ----------------------------------------------------------------
def _renamed(node: Any, rename: Mapping[str, str], drop: frozenset[str]) -> Any:
    if isinstance(node, dict):
        return {rename.get(k, k): _renamed(v, rename, drop) for k, v in node.items() if k not in drop}
    if isinstance(node, list):
        return [_renamed(v, rename, drop) for v in node]
    return node


def _set_path(node: Any, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        node = _child(node, part)
        if node is None:
            return
    if isinstance(node, dict) and last in node:
        node[last] = value
    elif isinstance(node, list) and last.isdigit() and int(last) < len(node):
        node[int(last)] = value


def _child(node: Any, part: str) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    return None


def _transform(node: Any, spec: Mapping[str, Any]) -> Any:
    rename = spec.get("rename")
    dropped = spec.get("drop")
    rename = rename if isinstance(rename, dict) else {}
    drop = frozenset(map(str, dropped)) if isinstance(dropped, list) else frozenset()
    node = _renamed(node, rename, drop)  # a deep copy, so the set below touches only this payload
    settings = spec.get("set")
    if isinstance(settings, dict):
        for path, value in settings.items():
            _set_path(node, str(path), value)
    return node


def _transform_event(event: StreamEvent, spec: Mapping[str, Any]) -> StreamEvent:
    if not isinstance(event, SSEEvent):
        return event
    try:
        data = json.loads(event.data)
    except ValueError:
        return event  # "[DONE]"
    dumped = json.dumps(_transform(data, spec), separators=(",", ":"))
    return SSEEvent(dumped, event=event.event, content=event.content)


def _given_events(spec: Mapping[str, Any]) -> list[StreamEvent]:
    events: list[StreamEvent] = []
    for item in spec["events"]:
        item = item if isinstance(item, dict) else {"data": item}
        data = item.get("data")
        name = item.get("event")
        text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
        events.append(SSEEvent(text, event=name if isinstance(name, str) else None, content=True))
    return events


def _hostile(build: Build) -> Build:
    def hostile(
        c: Controls, body: Mapping[str, Any], num: int, created: int
    ) -> JSONDict | Sequence[StreamEvent]:
        spec = _decode_spec(body.get("hostile"))
        streamed = body.get("stream") is True
        if streamed and isinstance(spec.get("events"), list):
            return _given_events(spec)
        if not streamed and isinstance(spec.get("body"), dict):
            return dict(spec["body"])
        built = build(c, body, num, created)
        if isinstance(built, dict):
            result: JSONDict = _transform(built, spec)
            return result
        return [_transform_event(event, spec) for event in built]

    return hostile


# --- raw bodies ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RawBody:
    """Bytes sent as they are (the route's content type is ``application/json``)."""

    data: bytes
    content: bool = True

    def encode(self) -> bytes:
        return self.data


def _raw(c: Controls, body: Mapping[str, Any], num: int, created: int) -> Sequence[StreamEvent]:
    del c, num, created
    text = _decode_spec(body.get("hostile")).get("raw")
    return [RawBody(text.encode() if isinstance(text, str) else b"")]


def _raw_malformed(event: StreamEvent) -> StreamEvent:
    return RawBody(b"", content=False)


# --- routes --------------------------------------------------------------------------------------------
_SHAPES: Final = (
    ("chat/completions", "openai", "chatcmpl", payloads.chat_completion, payloads.openai_error),
    ("completions", "openai", "cmpl", payloads.completion, payloads.openai_error),
    ("responses", "openai", "resp", payloads.response, payloads.openai_error),
    ("embeddings", "openai", "embedding", payloads.embeddings, payloads.openai_error),
    ("messages", "anthropic", "msg", payloads.message, payloads.anthropic_error),
)

ROUTES: Final[tuple[Route, ...]] = tuple(
    route(rf"/hostile/{_SPEC}/v1/{path}", provider, kind, _hostile(build), error=error)
    for path, provider, kind, build, error in _SHAPES
) + tuple(
    route(
        rf"/hostile-raw/{_SPEC}/v1/{path}",
        provider,
        kind,
        _raw,
        error=error,
        stream_content_type="application/json",
        malformed_event=_raw_malformed,
    )
    for path, provider, kind, _build, error in _SHAPES
)
