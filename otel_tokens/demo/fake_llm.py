"""A loopback fake LLM HTTP server speaking the OpenAI and Anthropic wire formats.

Used by tests, benchmarks and ``otel-tokens demo``: point the real SDK clients at it
(``OpenAI(base_url=srv.openai_base_url, api_key="test")`` /
``Anthropic(base_url=srv.anthropic_base_url, api_key="test")``) and every response is
deterministic, driven only by the request. Standard library only.

Endpoints: ``POST /v1/chat/completions``, ``/v1/responses``, ``/v1/embeddings``,
``/v1/completions`` (OpenAI) and ``POST /v1/messages``, ``/v1/messages/count_tokens``
(Anthropic), plus every route of the provider modules in :mod:`otel_tokens.demo.fakes`
(each documents its paths and how it reads the headers below). Anything else is a 404 with a provider-shaped error body (Anthropic's shape
when the request carries ``anthropic-version``, OpenAI's otherwise).

Per-request controls (HTTP headers, all optional; pass them with ``extra_headers=``).
Token headers are reported *verbatim* in each provider's own fields, nothing is derived:

``x-fake-output``
    Completion text (default ``"Hello from the fake model."``); plain ASCII, as for any header.
``x-fake-input-tokens``
    Default: whitespace-separated words in the text of the body's ``messages`` / ``input`` /
    ``prompt`` (only ``text`` / ``content`` fields are read, so Anthropic ``system`` and
    Responses ``instructions`` do not count; token-id prompts count one per id), minimum 1.
    OpenAI: ``prompt_tokens`` / ``input_tokens`` (totals that *include* the cached tokens, so
    keep it >= ``x-fake-cached-tokens``). Anthropic: ``input_tokens``, which *excludes* cache
    reads and writes, i.e. the header is the uncached input there. Also ``count_tokens``.
``x-fake-output-tokens``
    Default: words of the output text (for tool calls: of ``{"x": 1}``, i.e. 2) times ``n``.
    ``completion_tokens`` / ``output_tokens`` (OpenAI totals *include* reasoning tokens).
``x-fake-cached-tokens``
    Default 0. OpenAI ``*_tokens_details.cached_tokens``; Anthropic ``cache_read_input_tokens``.
``x-fake-reasoning-tokens``
    Default 0. OpenAI ``*_tokens_details.reasoning_tokens``; Anthropic
    ``usage.output_tokens_details.thinking_tokens`` (emitted only when non-zero).
``x-fake-cache-write-tokens``
    Default 0. Anthropic ``cache_creation_input_tokens`` (and ``cache_creation`` 5m) only.
``x-fake-status``
    HTTP status >= 400 returned (streams included) with the provider's JSON error shape.
``x-fake-malformed: 1``
    200 with a body that is not JSON (both SDKs raise ``json.JSONDecodeError``); for streams,
    one malformed ``data:`` line right after the first content chunk.
``x-fake-no-usage: 1``
    No usage anywhere, also not in streams even with ``include_usage``. Anthropic: ``usage``
    is left out of the message, ``message_start`` and ``message_delta``; raw iteration works,
    but the SDK's ``messages.stream()`` accumulator then fails with ``AttributeError``.
``x-fake-chunks: N``
    Number of stream content chunks (default: one per word); they concatenate to the text.
``x-fake-tool-call: NAME``
    One function / tool call to NAME with arguments ``{"x": 1}`` instead of text.
``x-fake-stream-error-after: N``
    Streams: drop the connection abruptly (truncated chunked body) after N content chunks,
    or right after the last one if N is larger, before any finish / usage event. openai
    raises ``APIConnectionError`` mid-iteration; anthropic lets ``httpx2.RemoteProtocolError`` out.
``x-fake-response-model``
    Response ``model`` (default: request ``model`` + ``"-2026-01-01"``).

A "content chunk" is one text / tool-argument delta event (chat with ``n`` > 1: one per choice).
Response ids count up per server and kind: ``chatcmpl-fake-<n>``, ``resp_fake<n>``,
``cmpl-fake-<n>``, ``msg_fake<n>``; tool calls use ``call_fake<n>``, ``call_resp_fake<n>``
and ``toolu_fake<n>`` with the same ``<n>``.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, Protocol, Self, cast
from urllib.parse import unquote, urlsplit

from otel_tokens.demo import fake_payloads as payloads
from otel_tokens.demo import fakes
from otel_tokens.demo.fake_payloads import JSONDict

__all__ = ["FakeLLMServer", "RecordedRequest", "Route", "StreamEvent", "route"]

Builder = Callable[[payloads.Controls, Mapping[str, Any], int, int], "JSONDict | Sequence[StreamEvent]"]


class StreamEvent(Protocol):
    """One streamed event (an SSE event, an NDJSON line, a binary frame...)."""

    @property
    def content(self) -> bool:
        """Counted by the stream controls (``x-fake-chunks``, ``x-fake-stream-error-after``)."""
        ...

    def encode(self) -> bytes: ...


@dataclass(frozen=True)
class Route:
    """One fake endpoint. ``pattern`` full-matches the URL path; its named groups (URL-decoded)
    are merged into the JSON body the builder sees, so a model named in the path reads as
    ``body["model"]``. A builder returning a list streams it with ``stream_content_type``."""

    pattern: re.Pattern[str]
    provider: str  # names the error shape in logs; ``error`` builds it
    kind: str  # response id counter
    build: Builder
    error: Callable[[int, str], JSONDict]
    stream_content_type: str = "text/event-stream; charset=utf-8"
    # The event sent right after the first content event under ``x-fake-malformed``.
    malformed_event: Callable[[StreamEvent], StreamEvent] = field(
        default=lambda event: payloads.malformed_event(getattr(event, "event", None))
    )
    methods: tuple[str, ...] = ("POST",)


def route(
    pattern: str,
    provider: str,
    kind: str,
    build: Builder,
    *,
    error: Callable[[int, str], JSONDict],
    stream_content_type: str = "text/event-stream; charset=utf-8",
    malformed_event: Callable[[StreamEvent], StreamEvent] | None = None,
    methods: tuple[str, ...] = ("POST",),
) -> Route:
    """A :class:`Route` from a regular expression over the URL path."""
    if malformed_event is None:
        return Route(re.compile(pattern), provider, kind, build, error, stream_content_type, methods=methods)
    return Route(
        re.compile(pattern), provider, kind, build, error, stream_content_type, malformed_event, methods
    )


def _openai(path: str, kind: str, build: Builder) -> Route:
    return route(path, "openai", kind, build, error=payloads.openai_error)


def _anthropic(path: str, kind: str, build: Builder) -> Route:
    return route(path, "anthropic", kind, build, error=payloads.anthropic_error)


_BUILTIN_ROUTES: Final = (
    _openai("/v1/chat/completions", "chatcmpl", payloads.chat_completion),
    _openai("/v1/completions", "cmpl", payloads.completion),
    _openai("/v1/responses", "resp", payloads.response),
    _openai("/v1/embeddings", "embedding", payloads.embeddings),
    _anthropic("/v1/messages", "msg", payloads.message),
    _anthropic("/v1/messages/count_tokens", "count_tokens", payloads.count_tokens),
)


def _routes() -> tuple[Route, ...]:
    return _BUILTIN_ROUTES + fakes.routes()


def _match(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for candidate in _routes():
        found = candidate.pattern.fullmatch(path)
        if found is not None and method in candidate.methods:
            return candidate, {key: unquote(value) for key, value in found.groupdict().items()}
    return None


@dataclass
class RecordedRequest:
    """One request as received: header keys are lower-cased, ``body`` is parsed JSON or None."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


class _StreamAbortedError(Exception):
    """Raised inside the handler to drop a stream on purpose."""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # benchmarks open many concurrent connections

    def __init__(self, address: tuple[str, int], owner: FakeLLMServer) -> None:
        self.owner = owner
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket | tuple[bytes, socket.socket]) -> None:
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any) -> None:
        # Clients resetting idle keep-alive sockets is routine, not worth a traceback on stderr.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

    def drop_connections(self) -> None:
        # Wakes handler threads parked on idle keep-alive sockets so stop() leaves nothing behind.
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the SDKs' connection pools are exercised
    disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms delayed-ACK stall
    timeout = 30  # idle keep-alive connections eventually release their thread

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        try:
            self._handle()
        except (BrokenPipeError, ConnectionResetError, _StreamAbortedError):
            self.close_connection = True

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

    @property
    def _owner(self) -> FakeLLMServer:
        return cast(_HTTPServer, self.server).owner

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            parts: list[bytes] = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(parts)
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        raw = self._read_body()
        headers = {key.lower(): value for key, value in self.headers.items()}
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        owner = self._owner
        owner._record(RecordedRequest(self.command, self.path, headers, body))
        if owner.latency_s > 0:
            time.sleep(owner.latency_s)

        matched = _match(self.command, urlsplit(self.path).path.rstrip("/"))
        if matched is None:
            make = payloads.anthropic_error if "anthropic-version" in headers else payloads.openai_error
            self._send_error(make, 404, f"Unknown endpoint: {self.command} {self.path}")
            return
        found, path_fields = matched
        fields: Mapping[str, Any] = {**(body if isinstance(body, dict) else {}), **path_fields}
        controls = payloads.parse_controls(headers, fields)
        if controls.status is not None:
            self._send_error(found.error, controls.status, f"Fake error {controls.status} (x-fake-status)")
            return
        result = found.build(controls, fields, owner._next_id(found.kind), int(time.time()))
        if not isinstance(result, dict):
            self._send_stream(result, controls, found)
        elif controls.malformed:
            self._send_bytes(200, payloads.malformed_body(), "application/json")
        else:
            self._send_bytes(200, json.dumps(result).encode(), "application/json")

    def _send_error(self, make: Callable[[int, str], JSONDict], status: int, message: str) -> None:
        self._send_bytes(status, json.dumps(make(status, message)).encode(), "application/json")

    def _start(self, status: int, content_type: str, extra: Mapping[str, str]) -> None:
        self.send_response(status)
        request_id = f"req_fake{self._owner._next_id('request')}"
        headers = {
            "Content-Type": content_type,
            "x-request-id": request_id,
            "request-id": request_id,
            **extra,
        }
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()

    def _send_bytes(self, status: int, data: bytes, content_type: str) -> None:
        self._start(status, content_type, {"Content-Length": str(len(data))})
        self.wfile.write(data)
        self.wfile.flush()

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _send_stream(self, events: Sequence[StreamEvent], controls: payloads.Controls, found: Route) -> None:
        self._start(
            200, found.stream_content_type, {"Transfer-Encoding": "chunked", "Cache-Control": "no-cache"}
        )
        total = sum(1 for event in events if event.content)
        limit = None if controls.stream_error_after is None else min(controls.stream_error_after, total)
        sent = 0
        for event in events:
            if limit is not None and sent >= limit and (event.content or sent == total):
                self._abort()
            if event.content and sent and self._owner.chunk_delay_s > 0:
                time.sleep(self._owner.chunk_delay_s)
            self._write_chunk(event.encode())
            if event.content:
                sent += 1
                if controls.malformed and sent == 1:
                    self._write_chunk(found.malformed_event(event).encode())
        self._write_chunk(b"")  # zero-length chunk terminates the body

    def _abort(self) -> None:
        # No terminating chunk: the client sees a truncated chunked body, like a dropped upstream.
        self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        raise _StreamAbortedError


class FakeLLMServer:
    """Deterministic OpenAI/Anthropic-compatible HTTP server on a daemon thread.

    >>> with FakeLLMServer() as srv:  # doctest: +SKIP
    ...     OpenAI(base_url=srv.openai_base_url, api_key="test").chat.completions.create(...)
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, latency_s: float = 0.0, chunk_delay_s: float = 0.0
    ) -> None:
        self.host = host
        self.port = port
        self.latency_s = latency_s
        self.chunk_delay_s = chunk_delay_s
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._counters: dict[str, int] = {}
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        httpd = _HTTPServer((self.host, self.port), self)
        self.port = int(httpd.server_address[1])
        self._httpd = httpd
        # A short poll interval keeps stop() fast.
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-llm-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.drop_connections()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self.port == 0:
            raise RuntimeError("FakeLLMServer is not started (no port bound yet)")
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _next_id(self, kind: str) -> int:
        with self._lock:
            self._counters[kind] = self._counters.get(kind, 0) + 1
            return self._counters[kind]
