"""In-process OpenAI and Anthropic endpoints for benchmarks: SDK clients over ``MockTransport``.

Bodies come from the fake server's payload builders (``otel_tokens.demo.fake_payloads``), built
once per request shape, so a call costs the SDK's work only: no socket, no JSON building.
"""

from __future__ import annotations

import functools
import importlib
import json
from typing import Any

import openai

from otel_tokens.demo import fake_payloads as payloads

CHUNKS = 100
MESSAGES = [{"role": "user", "content": "Say hello"}]
_HEADERS = {"x-fake-output": " ".join(["w"] * CHUNKS), "x-fake-input-tokens": "12"}


def _http(sdk: Any) -> Any:
    """The HTTP client module the SDK is built on (``httpx2`` for current releases, else ``httpx``)."""
    base = importlib.import_module(f"{sdk.__name__}._base_client")
    return base.httpx2 if hasattr(base, "httpx2") else base.httpx


@functools.cache
def _body(path: str, stream: bool, include_usage: bool) -> tuple[bytes, str]:
    fields: dict[str, Any] = {"model": "bench-model", "messages": MESSAGES, "stream": stream}
    if include_usage:
        fields["stream_options"] = {"include_usage": True}
    controls = payloads.parse_controls(_HEADERS, fields)
    build = payloads.message if path.endswith("/messages") else payloads.chat_completion
    result = build(controls, fields, 1, 1)
    if isinstance(result, list):
        return b"".join(event.encode() for event in result), "text/event-stream"
    return json.dumps(result).encode(), "application/json"


def _handler(http: Any) -> Any:
    def handle(request: Any) -> Any:
        body = json.loads(request.content)
        usage = bool((body.get("stream_options") or {}).get("include_usage"))
        content, kind = _body(request.url.path, bool(body.get("stream")), usage)
        return http.Response(200, content=content, headers={"content-type": kind})

    return handle


def _async_handler(http: Any) -> Any:
    handle = _handler(http)

    async def handle_async(request: Any) -> Any:
        return handle(request)

    return handle_async


def openai_clients() -> tuple[openai.OpenAI, openai.AsyncOpenAI]:
    http = _http(openai)
    options: dict[str, Any] = {"base_url": "http://bench.invalid/v1", "api_key": "x", "max_retries": 0}
    return (
        openai.OpenAI(**options, http_client=http.Client(transport=http.MockTransport(_handler(http)))),
        openai.AsyncOpenAI(
            **options, http_client=http.AsyncClient(transport=http.MockTransport(_async_handler(http)))
        ),
    )


def anthropic_clients() -> tuple[Any, Any]:
    import anthropic  # not in the peers' environments

    http = _http(anthropic)
    options: dict[str, Any] = {"base_url": "http://bench.invalid", "api_key": "x", "max_retries": 0}
    return (
        anthropic.Anthropic(**options, http_client=http.Client(transport=http.MockTransport(_handler(http)))),
        anthropic.AsyncAnthropic(
            **options, http_client=http.AsyncClient(transport=http.MockTransport(_async_handler(http)))
        ),
    )
