"""``TokenMetricsSpanProcessor``: otel-tokens' metrics and outcomes from other instrumentations' spans.

For apps already traced by another GenAI instrumentation (the official OpenTelemetry ones,
OpenLLMetry, OpenInference, the ``anthropic`` SDK's built-in tracing): every finished
model-call span becomes the same ``otel_tokens_*`` call metrics (tokens by type, cost from
genai-prices, calls), labelled with the task and team of the context the span started in,
and is registered for outcomes by span context and ``gen_ai.response.id``, so
``record_outcome(response_id=...)``, ``mark_used(response)`` and refs work. No patching.

One call counts once:

- spans otel-tokens made itself (its instrumentation scope) are skipped;
- a foreign span that duplicates a call otel-tokens instruments is skipped: it started
  inside an instrumented call, or its parent is an otel-tokens call span, or an otel-tokens
  call span started inside it (its wrapper runs outside ours);
- nested foreign model-call spans (a framework's span around the SDK's) count once, as
  the outermost, which takes what it lacks (usage, response id, model) from the inner ones.

Example::

    tracer_provider.add_span_processor(otel_tokens.processor.TokenMetricsSpanProcessor())
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any, Final, NamedTuple

from opentelemetry import context
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import SpanContext, StatusCode

from . import errors, names, runtime
from .instrumentation._wrapper import in_call
from .span_usage import ObservedCall, may_be_call, merge, observed_call
from .tasks import TaskRun, current_labels

logger = logging.getLogger("otel_tokens")

# Spans open at once that the processor follows; past it the oldest is forgotten (a span never
# ended must not hold memory forever; forgetting one only loses its nesting information).
MAX_OPEN_SPANS: Final = 10_000

Labels = tuple[str, str | None, TaskRun | None]


class _Nested(NamedTuple):
    """A nested model-call span's call, handed to the span around it."""

    call: ObservedCall
    span_context: SpanContext
    labels: Labels | None


class _Open:
    """What on_start learned about a span that may matter at its end."""

    __slots__ = ("duplicate", "labels", "nested", "ours", "parent_id")

    def __init__(self, parent_id: int | None, *, ours: bool) -> None:
        self.parent_id = parent_id
        self.ours = ours
        # The span repeats a call otel-tokens recorded itself.
        self.duplicate = False
        self.labels: Labels | None = None
        # Nested model-call spans, counted with this one (or on their own if it is no call).
        self.nested: list[_Nested] = []


class TokenMetricsSpanProcessor(SpanProcessor):
    """Derive otel-tokens' call metrics and outcomes from finished GenAI client spans.

    Uses the active otel-tokens runtime; when there is none it creates one with these
    providers (global ones when None) and settings (keyword arguments as for ``instrument()``).

    Example::

        tracer_provider.add_span_processor(TokenMetricsSpanProcessor())
        ...
        otel_tokens.record_outcome(outcome="used", response_id=reply.id)
    """

    def __init__(self, meter_provider: Any = None, logger_provider: Any = None, **settings: Any) -> None:
        runtime.ensure(None, meter_provider, logger_provider, **settings)
        self._lock = threading.Lock()
        self._open: OrderedDict[int, _Open] = OrderedDict()
        self._closed = False
        self._reported_scopes: set[str] = set()

    # --- SpanProcessor --------------------------------------------------------------------------
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self._closed:
            return
        try:
            self._start(span, parent_context)
        except Exception as exc:  # noqa: BLE001 - on_start runs inside the app's span start
            errors.report("processor", exc)

    def on_end(self, span: ReadableSpan) -> None:
        if self._closed:
            return
        try:
            self._end(span)
        except Exception as exc:  # noqa: BLE001 - on_end runs inside the app's span end
            errors.report("processor", exc)

    def shutdown(self) -> None:
        """Stop deriving metrics (the tracer provider shuts down, or otel-tokens uninstruments)."""
        self._closed = True
        with self._lock:
            self._open.clear()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    # --- start: remember what the end cannot know ----------------------------------------------
    def _start(self, span: Span, parent_context: Context | None) -> None:
        ours = _is_ours(span)
        attributes = span.attributes or {}
        if not ours and not may_be_call(attributes):
            return
        parent = span.parent
        entry = _Open(parent.span_id if parent is not None else None, ours=ours)
        inside_ours = False
        if not ours:
            inside_ours, entry.labels = _start_facts(parent_context)
        with self._lock:
            parent_entry = self._open.get(entry.parent_id) if entry.parent_id is not None else None
            if ours:
                if parent_entry is not None and not parent_entry.ours:
                    parent_entry.duplicate = True  # a peer's wrapper runs outside ours
            else:
                entry.duplicate = inside_ours or (parent_entry is not None and parent_entry.ours)
            self._remember(span.context.span_id, entry)

    def _remember(self, span_id: int, entry: _Open) -> None:
        self._open[span_id] = entry
        while len(self._open) > MAX_OPEN_SPANS:
            self._open.popitem(last=False)

    # --- end: count the call once ----------------------------------------------------------------
    def _end(self, span: ReadableSpan) -> None:
        span_context = span.context
        if span_context is None:
            return
        with self._lock:
            entry = self._open.pop(span_context.span_id, None)
        if _is_ours(span):
            return
        if entry is not None and entry.duplicate:
            self._note_duplicate(span)
            return
        failed = span.status is not None and span.status.status_code is StatusCode.ERROR
        call = observed_call(span.attributes or {}, failed=failed)
        labels = entry.labels if entry is not None else None
        nested = entry.nested if entry is not None else []
        if call is None:
            for inner in nested:  # an agent or tool span around calls: they count on their own
                self._record(*inner)
            return
        if nested:
            call = merge(call, [n.call for n in nested])
        parent_id = entry.parent_id if entry is not None else None
        if parent_id is not None and self._nest(parent_id, _Nested(call, span_context, labels)):
            return
        self._record(call, span_context, labels)

    def _nest(self, parent_id: int, inner: _Nested) -> bool:
        """Hand a call to the enclosing open model-call span, which counts it; False if none."""
        with self._lock:
            parent = self._open.get(parent_id)
            if parent is None or parent.ours:
                return False
            parent.nested.append(inner)
        return True

    def _record(self, call: ObservedCall, span_context: SpanContext, labels: Labels | None) -> None:
        rt = runtime.get()
        if rt is None or not rt.active:
            return
        # A span ending in another context (stream finalizer, worker thread) keeps its start's labels.
        task, team, run = labels if labels is not None else current_labels()
        # No read tracking without patching: an unjudged output is "unmarked", never "unread".
        rt.observe(
            call.request,
            call.response,
            task=task,
            team=team,
            run=run,
            span_context=span_context,
            error_type=call.error_type,
            read=True,
        )

    def _note_duplicate(self, span: ReadableSpan) -> None:
        scope = span.instrumentation_scope.name if span.instrumentation_scope is not None else ""
        if scope in self._reported_scopes or len(self._reported_scopes) > 32:
            return
        self._reported_scopes.add(scope)
        logger.info(
            "otel-tokens: %r also traces LLM calls that otel-tokens instruments; its spans are kept "
            "but not counted again",
            scope,
        )


def _is_ours(span: ReadableSpan) -> bool:
    scope = span.instrumentation_scope
    return scope is not None and scope.name == names.INSTRUMENTATION_NAME


def _start_facts(parent_context: Context | None) -> tuple[bool, Labels]:
    """Of the context a span started in: inside an otel-tokens call? and its (task, team, run)."""
    if parent_context is None:
        return in_call(), current_labels()
    token = context.attach(parent_context)
    try:
        return in_call(), current_labels()
    finally:
        context.detach(token)


__all__ = ["MAX_OPEN_SPANS", "TokenMetricsSpanProcessor"]
