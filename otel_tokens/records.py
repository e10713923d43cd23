"""Neutral records of one LLM call, filled by provider modules. No OpenTelemetry here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .names import TOKEN_TYPES, UsageSource


@dataclass(slots=True)
class Usage:
    """Token counts in OTel GenAI semantics.

    ``input_tokens`` includes cache reads and writes; ``output_tokens`` includes reasoning.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    source: UsageSource = UsageSource.PROVIDER

    def counts(self) -> tuple[int, int, int, int, int]:
        """Billed tokens per disjoint type, in ``names.TOKEN_TYPES`` order (negative remainders clamp to 0)."""
        uncached = self.input_tokens - self.cache_read_tokens - self.cache_write_tokens
        visible_output = self.output_tokens - self.reasoning_tokens
        return (
            uncached if uncached > 0 else 0,
            self.cache_read_tokens,
            self.cache_write_tokens,
            visible_output if visible_output > 0 else 0,
            self.reasoning_tokens,
        )

    def split(self) -> tuple[tuple[str, int], ...]:
        """(token type, count) pairs whose sum is the billed total."""
        return tuple(zip(TOKEN_TYPES, self.counts(), strict=True))

    @property
    def total(self) -> int:
        return sum(self.counts())


MISSING_USAGE = Usage(source=UsageSource.MISSING)


@dataclass(slots=True)
class Request:
    """What a provider module read from the call's arguments."""

    provider: str
    operation: str
    model: str | None
    stream: bool = False
    server_address: str | None = None
    server_port: int | None = None
    # Optional semconv request attributes (gen_ai.request.*), already keyed.
    attributes: dict[str, Any] = field(default_factory=dict)
    # Prompt content, kept only when content capture is on.
    input_messages: Any = None
    # A user id passed to the provider (``user`` / ``safety_identifier``); span only, never a metric.
    end_user: str | None = None
    # otel-tokens asked the provider for a usage chunk the caller did not ask for: hide it.
    hide_usage_chunk: bool = False


@dataclass(slots=True)
class Response:
    """What a provider module read from the call's result (or accumulated from a stream)."""

    response_id: str | None = None
    model: str | None = None
    finish_reasons: tuple[str, ...] = ()
    usage: Usage | None = None
    output_type: str | None = None
    # Builds the output content; called only when content capture is on, so the hot path of a
    # call never walks its choices for text nobody records.
    output_messages: Callable[[], Any] | None = None

    def __post_init__(self) -> None:
        # Hostile or renamed fields: an id or model that is not a string must not become a key.
        if not isinstance(self.response_id, str):
            self.response_id = None
        if not isinstance(self.model, str):
            self.model = None
