"""Per-chunk stream overhead, isolated from the SDK's parsing and from per-stream fixed costs.

The SDK's own chunk objects (parsed once from the in-process endpoint) are replayed through
otel-tokens' real stream proxy, as the instrumented ``create(stream=True)`` builds it (the
endpoint's request mapping, stream state and hidden-chunk check, a real span and metrics), and
through nothing for the baseline. Two stream lengths (``short`` and ``long`` chunks) cancel what
a stream costs once (span, metrics, time-to-first-chunk); the rest, divided by the extra chunks,
is the cost per chunk. End-to-end streams cannot resolve this: one openai chunk costs the SDK
~90 us to parse, so 1 us per chunk is ~1% of a stream, under the run-to-run noise.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

from otel_tokens import runtime as runtime_module
from otel_tokens.instrumentation import _wrapper
from otel_tokens.instrumentation._provider import Endpoint, Library


def _endpoint(library: Library, qualname: str) -> Endpoint:
    return next(e for e in library.endpoints if e.qualname == qualname and not e.is_async)


def _replay(chunks: list[Any], n: int) -> Iterator[Any]:
    # The last chunk carries the usage (openai) or ends the message (anthropic): keep it last.
    body, last = chunks[:-1], chunks[-1]
    for i in range(n - 1):
        yield body[i % len(body)]
    yield last


def _plain(chunks: list[Any], n: int) -> None:
    for _chunk in _replay(chunks, n):
        pass


def _tracked(endpoint: Endpoint, instance: Any, kwargs: dict[str, Any], chunks: list[Any], n: int) -> None:
    runtime = runtime_module.get()
    assert runtime is not None, "otel-tokens is not instrumented"
    request, _ = endpoint.read_request(instance, (), kwargs)
    call = runtime.begin(request)
    for _chunk in _wrapper._track_stream(runtime, endpoint, call, _replay(chunks, n)):
        pass


def per_chunk_us(
    library: Library,
    qualname: str,
    instance: Any,
    kwargs: dict[str, Any],
    chunks: list[Any],
    *,
    rounds: int = 15,
    short: int = 100,
    long: int = 1100,
) -> float:
    """Median per-chunk overhead in microseconds (call while otel-tokens is instrumented)."""
    endpoint = _endpoint(library, qualname)
    samples: dict[tuple[str, int], list[float]] = {}
    runs: dict[str, Callable[[int], None]] = {
        "plain": lambda n: _plain(chunks, n),
        "tracked": lambda n: _tracked(endpoint, instance, kwargs, chunks, n),
    }
    for _ in range(rounds):
        for name, run in runs.items():
            for n in (short, long):
                for _ in range(5):
                    start = time.perf_counter_ns()
                    run(n)
                    samples.setdefault((name, n), []).append((time.perf_counter_ns() - start) / 1000)
    median = {key: statistics.median(values) for key, values in samples.items()}
    short_overhead = median[("tracked", short)] - median[("plain", short)]
    long_overhead = median[("tracked", long)] - median[("plain", long)]
    return (long_overhead - short_overhead) / (long - short)
