"""The floor: what a minimal hand-written instrumentation records per call, and nothing else.

One CLIENT span with the attributes otel-tokens sets for the same call, the call counter, the
duration histogram, token counters by type, the cost counter, the token-usage histogram and
the three outcome counters. Values come from the response (or the stream's usage chunk); the
price is a constant, as a hand-written table would have it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

PRICE_PER_TOKEN = 0.3e-6


def _openai_usage(item: Any) -> tuple[int, int] | None:
    """(input, output) tokens if this response or chunk carries usage."""
    usage = item.usage
    return None if usage is None else (usage.prompt_tokens, usage.completion_tokens)


def _anthropic_usage(item: Any) -> tuple[int, int] | None:
    """(input, output) tokens of a message, or of a stream event that carries them."""
    kind = getattr(item, "type", None)
    if kind == "message_start":
        usage = item.message.usage
    elif kind in ("message", "message_delta"):
        usage = item.usage
    else:
        return None
    return usage.input_tokens or 0, usage.output_tokens


class Floor:
    def __init__(self) -> None:
        self.tracer = TracerProvider().get_tracer("floor")
        meter = MeterProvider(metric_readers=[InMemoryMetricReader()]).get_meter("floor")
        self.calls = meter.create_counter("floor.calls")
        self.tokens = meter.create_counter("floor.tokens")
        self.cost = meter.create_counter("floor.cost")
        self.outcome_calls = meter.create_counter("floor.outcome_calls")
        self.outcome_tokens = meter.create_counter("floor.outcome_tokens")
        self.outcome_cost = meter.create_counter("floor.outcome_cost")
        self.duration = meter.create_histogram("floor.duration", unit="s")
        self.usage = meter.create_histogram("floor.token.usage")

    def wrap(self, surface: str, fn: Callable[[], Any], is_async: bool) -> Callable[[], Any]:
        provider = surface.split()[0]
        model = "gpt-4o-mini" if provider == "openai" else "claude-haiku-4-5"
        stream = "stream" in surface
        usage_of = _openai_usage if provider == "openai" else _anthropic_usage

        def start() -> tuple[Any, float]:
            attrs = {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": provider,
                "otel_tokens.task": "unlabeled",
                "gen_ai.request.model": model,
                "server.address": "bench.invalid",
                "server.port": 80,
            }
            return self.tracer.start_span(
                f"chat {model}", kind=SpanKind.CLIENT, attributes=attrs
            ), time.perf_counter()

        def finish(span: Any, began: float, response: Any, usage: tuple[int, int]) -> None:
            model_out = getattr(response, "model", model)
            tokens_in, tokens_out = usage
            cost = (tokens_in + tokens_out) * PRICE_PER_TOKEN
            span.set_attributes(
                {
                    "gen_ai.output.type": "text",
                    "gen_ai.response.id": getattr(response, "id", ""),
                    "gen_ai.response.model": model_out,
                    "gen_ai.response.finish_reasons": ("stop",),
                    "otel_tokens.usage.source": "provider",
                    "gen_ai.usage.input_tokens": tokens_in,
                    "gen_ai.usage.output_tokens": tokens_out,
                    "otel_tokens.cost.usd": cost,
                    "otel_tokens.cost.priced": True,
                }
            )
            labels = {
                "provider": provider,
                "model": model_out,
                "operation": "chat",
                "task": "unlabeled",
                "team": "",
            }
            semconv = {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": provider,
                "gen_ai.request.model": model,
                "gen_ai.response.model": model_out,
                "server.address": "bench.invalid",
                "server.port": 80,
            }
            self.calls.add(1, {**labels, "status": "ok"})
            self.duration.record(time.perf_counter() - began, semconv)
            self.tokens.add(tokens_in, {**labels, "token_type": "input"})
            self.tokens.add(tokens_out, {**labels, "token_type": "output"})
            self.cost.add(cost, labels)
            self.usage.record(tokens_in, {**semconv, "gen_ai.token.type": "input"})
            self.usage.record(tokens_out, {**semconv, "gen_ai.token.type": "output"})
            outcome = {**labels, "outcome": "unread"}
            self.outcome_calls.add(1, outcome)
            self.outcome_tokens.add(tokens_in + tokens_out, outcome)
            self.outcome_cost.add(cost, outcome)
            span.end()

        def merge(seen: tuple[int, int], item: Any) -> tuple[int, int]:
            found = usage_of(item)
            if found is None:
                return seen
            return max(seen[0], found[0]), max(seen[1], found[1])

        if stream and is_async:

            async def astream() -> Any:
                span, began = start()
                chunks = await fn()

                async def track() -> Any:
                    usage, last = (0, 0), None
                    async for item in chunks:
                        usage, last = merge(usage, item), item
                        yield item
                    finish(span, began, last, usage)

                return track()

            return astream
        if stream:

            def sstream() -> Any:
                span, began = start()
                chunks = fn()

                def track() -> Any:
                    usage, last = (0, 0), None
                    for item in chunks:
                        usage, last = merge(usage, item), item
                        yield item
                    finish(span, began, last, usage)

                return track()

            return sstream
        if is_async:

            async def acall() -> Any:
                span, began = start()
                response = await fn()
                finish(span, began, response, merge((0, 0), response))
                return response

            return acall

        def call() -> Any:
            span, began = start()
            response = fn()
            finish(span, began, response, merge((0, 0), response))
            return response

        return call
