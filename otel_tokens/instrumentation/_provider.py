"""The contract between the generic wrapper and a provider module.

A provider module maps one library's request, response and stream chunks to the neutral
records of ``otel_tokens.records``. It imports no OpenTelemetry and knows nothing of spans.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ..records import Request, Response


class StreamState(Protocol):
    """Accumulates a stream's chunks into a :class:`Response`."""

    def on_chunk(self, chunk: Any) -> None:
        """Read one chunk (hiding chunks is decided apart, by :attr:`Endpoint.hidden_chunk`)."""
        ...

    def response(self) -> Response: ...


# read_request(instance, args, kwargs) -> (request, kwargs to call with)
ReadRequest = Callable[[Any, tuple[Any, ...], dict[str, Any]], tuple[Request, dict[str, Any]]]
RawKind = Literal["eager", "lazy"]


@dataclass(frozen=True)
class Endpoint:
    """One patched method of a library."""

    module: str
    qualname: str  # "Class.method"
    is_async: bool
    read_request: ReadRequest
    read_response: Callable[[Any], Response]
    new_stream_state: Callable[[Request], StreamState]
    # The result is a stream (to iterate) rather than a finished response.
    is_stream: Callable[[Any], bool]
    # The result is a raw HTTP response wrapper: "eager" when its body is already read and
    # parse() is cheap, "lazy" when parsing would read the body; None otherwise.
    raw_kind: Callable[[Any], RawKind | None] = field(default=lambda result: None)
    # A stream chunk that exists only because otel-tokens changed the request (OpenAI's
    # usage-only chunk after it added ``include_usage``): hidden from the caller. Kept out of
    # the StreamState so a failing state never changes what the caller sees.
    hidden_chunk: Callable[[Request, Any], bool] = field(default=lambda request, chunk: False)
    # Skip instrumenting this call (e.g. a method that is not a billed LLM call for these arguments).
    skip: Callable[[dict[str, Any]], bool] = field(default=lambda kwargs: False)
    # Names of leading parameters callers may pass positionally (module functions like LiteLLM's
    # ``completion(model, messages)``): the wrapper passes them by name.
    positional: tuple[str, ...] = ()


@dataclass(frozen=True)
class Library:
    """What an instrumentor needs from a provider module."""

    name: str  # entry point suffix, e.g. "openai"
    requirement: str  # pip requirement checked by BaseInstrumentor, e.g. "openai >= 1.40"
    endpoints: tuple[Endpoint, ...]
    # Attribute names whose access on a response counts as reading its content.
    content_attributes: frozenset[str]
    # Attribute names of helper objects (like a stream manager's stream) that hold a tracked stream.
    stream_holders: tuple[str, ...] = ()
    # Module whose presence means the library is installed (default: the endpoints' top package).
    package: str | None = None

    @property
    def import_name(self) -> str:
        return self.package or self.endpoints[0].module.split(".")[0]


# Attribute names under which SDK helper objects hold a tracked stream, from every
# instrumented library's ``stream_holders`` (read by ``otel_tokens.verdicts``).
STREAM_HOLDERS: set[str] = set()
