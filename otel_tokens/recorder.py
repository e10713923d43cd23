"""The only module that touches the tracer, the meter and the logger.

It opens a call's span, ends it exactly once with the response's attributes, records the
call metrics, and emits the outcome metrics and ``gen_ai.evaluation.result`` event when
``outcomes`` resolves the call.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry._logs import Logger, LoggerProvider, get_logger
from opentelemetry.metrics import Histogram, MeterProvider, get_meter
from opentelemetry.trace import NonRecordingSpan, Span, SpanKind, Status, StatusCode, TracerProvider

from . import names
from .config import Settings
from .counters import SummedCounter, gauge_source, summed_counter
from .pricing import PriceBook
from .records import MISSING_USAGE, Request, Response, Usage
from .tasks import LabelCap, TaskRun, current_labels

if TYPE_CHECKING:
    from .outcomes import PendingCall

_VERSION = "0.1.0"


class Call:
    """One in-flight LLM call: its span and what the metrics need. Ends exactly once."""

    __slots__ = (
        "ended",
        "first_chunk_at",
        "lock",
        "repeat",
        "request",
        "run",
        "span",
        "start",
        "task",
        "team",
    )

    def __init__(
        self, request: Request, span: Span, task: str, team: str | None, run: TaskRun | None
    ) -> None:
        self.request = request
        self.span = span
        self.start = time.perf_counter()
        self.task = task
        self.team = team
        self.run = run
        self.first_chunk_at: float | None = None
        self.ended = False
        self.repeat = False
        self.lock = threading.Lock()

    def claim_end(self) -> bool:
        """True for the first caller only: the span ends on exactly one path."""
        with self.lock:
            if self.ended:
                return False
            self.ended = True
            return True


class Recorder:
    def __init__(
        self,
        settings: Settings,
        tracer_provider: TracerProvider | None,
        meter_provider: MeterProvider | None,
        logger_provider: LoggerProvider | None,
        prices: PriceBook,
    ) -> None:
        self.settings = settings
        self.prices = prices
        self.tracer = trace.get_tracer(
            names.INSTRUMENTATION_NAME, _VERSION, tracer_provider, names.SCHEMA_URL
        )
        meter = get_meter(names.INSTRUMENTATION_NAME, _VERSION, meter_provider, names.SCHEMA_URL)
        self.logger: Logger = get_logger(
            names.INSTRUMENTATION_NAME, _VERSION, logger_provider, names.SCHEMA_URL
        )
        counters: dict[str, SummedCounter] = {}
        histograms: dict[str, Histogram] = {}
        for spec in names.METRICS:
            if spec.kind == "counter":
                counters[spec.name] = summed_counter(meter, spec)
            elif spec.kind == "gauge":
                self._pending = gauge_source(meter, spec)
            else:
                buckets = names.TOKEN_BUCKETS if spec.unit == "{token}" else names.DURATION_BUCKETS
                histograms[spec.name] = meter.create_histogram(
                    spec.name, spec.unit, spec.description, explicit_bucket_boundaries_advisory=list(buckets)
                )
        c = counters
        self._tokens = c[names.TOKENS.name]
        self._cost = c[names.COST_USD.name]
        self._calls = c[names.CALLS.name]
        self._outcome_tokens = c[names.OUTCOME_TOKENS.name]
        self._outcome_cost = c[names.OUTCOME_COST_USD.name]
        self._outcome_calls = c[names.OUTCOME_CALLS.name]
        self._unpriced = c[names.UNPRICED_CALLS.name]
        self._internal = c[names.INTERNAL_ERRORS.name]
        self._overflows = c[names.LABEL_OVERFLOWS.name]
        self._rejected_refs = c[names.REJECTED_REFS.name]
        self._repeat_calls = c[names.REPEAT_CALLS.name]
        self._repeat_tokens = c[names.REPEAT_TOKENS.name]
        self._runaway = c[names.RUNAWAY_RUNS.name]
        self._budget_blocks = c[names.BUDGET_BLOCKS.name]
        self._token_usage = histograms[names.TOKEN_USAGE.name]
        self._duration = histograms[names.OPERATION_DURATION.name]
        self._ttfc = histograms[names.TIME_TO_FIRST_CHUNK.name]
        limit = settings.max_label_values
        self.caps = {label: LabelCap(label, limit, self._count_overflow) for label in names.CAPPED_LABELS}

    # --- counters used by other modules ------------------------------------------------------------
    def count_internal_error(self, stage: str) -> None:
        self._internal.add(1, {names.LABEL_STAGE: stage})

    def _count_overflow(self, label: str) -> None:
        self._overflows.add(1, {names.LABEL_LABEL: label})

    def set_pending_source(self, source: Callable[[], int]) -> None:
        """How many calls await an outcome, read at collection time."""
        self._pending.source = source

    def count_rejected_ref(self, reason: str) -> None:
        self._rejected_refs.add(1, {"reason": reason})

    def count_budget_block(self, run: TaskRun) -> None:
        self._budget_blocks.add(1, self._run_labels(run))

    def count_runaway(self, run: TaskRun) -> None:
        self._runaway.add(1, self._run_labels(run))

    def _run_labels(self, run: TaskRun) -> dict[str, str]:
        return {
            names.LABEL_TASK: self.caps[names.LABEL_TASK](run.name),
            names.LABEL_TEAM: self.caps[names.LABEL_TEAM](run.team) if run.team else "",
        }

    # --- call lifecycle ----------------------------------------------------------------------------
    def start(self, request: Request, repeat: bool = False) -> Call:
        task, team, run = current_labels()
        attributes: dict[str, Any] = {
            names.GEN_AI_OPERATION_NAME: request.operation,
            names.GEN_AI_PROVIDER_NAME: request.provider,
            names.ATTR_TASK: task,
        }
        if request.model:
            attributes[names.GEN_AI_REQUEST_MODEL] = request.model
        if request.server_address:
            attributes[names.SERVER_ADDRESS] = request.server_address
        if request.server_port:
            attributes[names.SERVER_PORT] = request.server_port
        if team:
            attributes[names.ATTR_TEAM] = team
        if request.attributes:
            attributes.update(request.attributes)
        if request.end_user:
            attributes[names.ENDUSER_ID] = self._pseudonymize(request.end_user)
        if self.settings.capture_content and request.input_messages is not None:
            attributes[names.GEN_AI_INPUT_MESSAGES] = _to_json(request.input_messages)
        span_name = f"{request.operation} {request.model}" if request.model else request.operation
        if repeat:
            attributes[names.ATTR_REPEAT] = True
        span = self.tracer.start_span(span_name, kind=SpanKind.CLIENT, attributes=attributes)
        call = Call(request, span, task, team, run)
        call.repeat = repeat
        return call

    def first_chunk(self, call: Call) -> None:
        if call.first_chunk_at is None:
            call.first_chunk_at = time.perf_counter()

    def finish(
        self, call: Call, response: Response | None
    ) -> tuple[dict[str, str], Usage, float | None] | None:
        """End the call's span and record its metrics. Returns (labels, usage, cost) for outcomes."""
        if not call.claim_end():
            return None
        request = call.request
        span = call.span
        usage = response.usage if response is not None and response.usage is not None else MISSING_USAGE
        model = (response.model if response is not None else None) or request.model or "unknown"
        labels = self._labels(request, model, call.task, call.team)
        cost = self._price(request, model, usage)
        attributes: dict[str, Any] = {} if response is None else self._response_attributes(response)
        attributes[names.ATTR_USAGE_SOURCE] = usage.source.value
        if usage.source is not names.UsageSource.MISSING:
            attributes[names.GEN_AI_USAGE_INPUT_TOKENS] = usage.input_tokens
            if request.operation != "embeddings":
                attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] = usage.output_tokens
            if usage.cache_read_tokens:
                attributes[names.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = usage.cache_read_tokens
            if usage.cache_write_tokens:
                attributes[names.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] = usage.cache_write_tokens
            if usage.reasoning_tokens:
                attributes[names.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = usage.reasoning_tokens
        attributes[names.ATTR_COST_USD] = cost or 0.0
        attributes[names.ATTR_COST_PRICED] = cost is not None
        if call.first_chunk_at is not None:
            attributes[names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = call.first_chunk_at - call.start
        span.set_attributes(attributes)  # one lock round instead of one per attribute
        self._record_call_metrics(call, labels, usage, cost, model, None)
        _end(span)
        return labels, usage, cost

    def fail(self, call: Call, exc: BaseException) -> dict[str, str] | None:
        """End the call's span as failed and record its metrics. Returns the labels for the outcome."""
        if not call.claim_end():
            return None
        request = call.request
        error_type = _error_type(exc)
        labels = self._labels(request, request.model or "unknown", call.task, call.team)
        span = call.span
        span.set_attribute(names.ERROR_TYPE, error_type)
        if call.first_chunk_at is not None:
            span.set_attribute(names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, call.first_chunk_at - call.start)
        # Exception messages can quote model output (a failed parse() does): metadata only by default.
        capture = self.settings.capture_content
        span.set_status(Status(StatusCode.ERROR, str(exc)[:256] if capture else error_type))
        if isinstance(exc, Exception):
            span.record_exception(
                exc,
                attributes=None
                if capture
                else {
                    "exception.message": error_type,
                    "exception.stacktrace": "".join(traceback.format_tb(exc.__traceback__)),
                },
            )
        self._record_call_metrics(call, labels, MISSING_USAGE, None, request.model or "unknown", error_type)
        _end(span)
        return labels

    def _response_attributes(self, response: Response) -> dict[str, Any]:
        attributes: dict[str, Any] = {}
        if response.response_id:
            attributes[names.GEN_AI_RESPONSE_ID] = response.response_id
        if response.model:
            attributes[names.GEN_AI_RESPONSE_MODEL] = response.model
        if response.finish_reasons:
            attributes[names.GEN_AI_RESPONSE_FINISH_REASONS] = list(response.finish_reasons)
        if response.output_type:
            attributes[names.GEN_AI_OUTPUT_TYPE] = response.output_type
        if self.settings.capture_content and response.output_messages is not None:
            try:  # SDK properties (openai's output_text) may raise: the call keeps its usage
                attributes[names.GEN_AI_OUTPUT_MESSAGES] = _to_json(response.output_messages())
            except Exception as exc:  # noqa: BLE001
                from .errors import report

                report("response", exc)
        return attributes

    def _record_call_metrics(
        self,
        call: Call,
        labels: dict[str, str],
        usage: Usage,
        cost: float | None,
        model: str,
        error: str | None,
    ) -> None:
        request = call.request
        elapsed = time.perf_counter() - call.start
        status = names.CallStatus.ERROR.value if error else names.CallStatus.OK.value
        self._calls.add(1, {**labels, names.LABEL_STATUS: status})
        semconv: dict[str, Any] = {
            names.GEN_AI_OPERATION_NAME: request.operation,
            names.GEN_AI_PROVIDER_NAME: request.provider,
        }
        if request.model:
            semconv[names.GEN_AI_REQUEST_MODEL] = request.model
        if not error:
            semconv[names.GEN_AI_RESPONSE_MODEL] = labels[names.LABEL_MODEL]
        if request.server_address:
            semconv[names.SERVER_ADDRESS] = request.server_address
        if request.server_port:
            semconv[names.SERVER_PORT] = request.server_port
        if error:
            semconv[names.ERROR_TYPE] = error
        self._duration.record(elapsed, semconv)
        if call.first_chunk_at is not None:
            self._ttfc.record(call.first_chunk_at - call.start, semconv)
        if usage.source is names.UsageSource.MISSING:
            return
        total = self._record_usage(labels, usage, cost)
        self._token_usage.record(usage.input_tokens, {**semconv, names.GEN_AI_TOKEN_TYPE: "input"})
        if request.operation != "embeddings":
            self._token_usage.record(usage.output_tokens, {**semconv, names.GEN_AI_TOKEN_TYPE: "output"})
        if call.repeat:
            self.record_repeat(labels, total)
        run = call.run
        while run is not None:  # enclosing runs' budgets cover their inner runs' calls
            self._account_run(call, run, total, cost or 0.0)
            run = run.parent

    def _labels(self, request: Request, model: str, task: str, team: str | None) -> dict[str, str]:
        return {
            names.LABEL_PROVIDER: request.provider,
            names.LABEL_MODEL: self.caps[names.LABEL_MODEL](model),
            names.LABEL_OPERATION: request.operation,
            names.LABEL_TASK: self.caps[names.LABEL_TASK](task),
            names.LABEL_TEAM: self.caps[names.LABEL_TEAM](team) if team else "",
        }

    def _price(self, request: Request, model: str, usage: Usage) -> float | None:
        try:
            cost = self.prices.cost(request.provider, model, usage)
            if cost is None and request.model and request.model != model:
                # Dated snapshots may be missing from the price data while their alias is there.
                cost = self.prices.cost(request.provider, request.model, usage)
        except Exception as exc:  # noqa: BLE001 - pricing must not lose the call's other metrics
            from .errors import report

            report("pricing", exc)
            return None
        return cost

    def _record_usage(self, labels: dict[str, str], usage: Usage, cost: float | None) -> int:
        """Token-type and cost counters of one call with usage; returns its billed total."""
        counts = usage.counts()
        for token_type, count in zip(names.TOKEN_TYPES, counts, strict=True):
            if count:
                self._tokens.add(count, {**labels, names.LABEL_TOKEN_TYPE: token_type})
        if cost is None:
            self._unpriced.add(1, labels)
        elif cost:
            self._cost.add(cost, labels)
        return sum(counts)

    # --- calls traced by another instrumentation (otel_tokens.processor) ---------------------------
    def record_observed(
        self, request: Request, response: Response, task: str, team: str | None, error_type: str | None
    ) -> tuple[dict[str, str], Usage, float | None]:
        """Record the ``otel_tokens_*`` call metrics of a call whose span someone else made.

        No span and no semconv histograms: the instrumentation that traced the call records
        those. Returns (labels, usage, cost) for outcome registration.
        """
        usage = response.usage if response.usage is not None else MISSING_USAGE
        model = response.model or request.model or "unknown"
        labels = self._labels(request, model, task, team)
        status = names.CallStatus.ERROR.value if error_type else names.CallStatus.OK.value
        self._calls.add(1, {**labels, names.LABEL_STATUS: status})
        cost = (
            None
            if error_type or usage.source is names.UsageSource.MISSING
            else self._price(request, model, usage)
        )
        if not error_type and usage.source is not names.UsageSource.MISSING:
            self._record_usage(labels, usage, cost)
        return labels, usage, cost

    def _account_run(self, call: Call, run: TaskRun, tokens: int, cost: float) -> None:
        with run.lock:
            run.tokens += tokens
            run.cost_usd += cost
            over = run.tokens > self.settings.runaway_tokens or run.call_count > self.settings.runaway_calls
            report = over and not run.runaway_reported
            if report:
                run.runaway_reported = True
        if report:
            self.count_runaway(run)
            call.span.add_event(
                "otel_tokens.runaway_run",
                {
                    names.ATTR_TASK: run.name,
                    "otel_tokens.run.calls": run.call_count,
                    "otel_tokens.run.tokens": run.tokens,
                },
            )

    def record_repeat(self, labels: dict[str, str], tokens: int) -> None:
        self._repeat_calls.add(1, labels)
        if tokens:
            self._repeat_tokens.add(tokens, labels)

    # --- outcomes ----------------------------------------------------------------------------------
    def emit_outcome(self, pending: PendingCall, outcome: str) -> None:
        labels = {**pending.labels, names.LABEL_OUTCOME: outcome}
        self._outcome_calls.add(1, labels)
        if pending.tokens:
            self._outcome_tokens.add(pending.tokens, labels)
        if pending.cost_usd:
            self._outcome_cost.add(pending.cost_usd, labels)
        attributes: dict[str, Any] = {
            names.GEN_AI_EVALUATION_NAME: names.EVALUATION_NAME,
            names.GEN_AI_EVALUATION_SCORE_LABEL: outcome,
            names.GEN_AI_EVALUATION_SCORE_VALUE: 1.0 if outcome == names.Outcome.USED.value else 0.0,
            names.GEN_AI_OPERATION_NAME: pending.labels.get(names.LABEL_OPERATION, ""),
            names.GEN_AI_PROVIDER_NAME: pending.labels.get(names.LABEL_PROVIDER, ""),
        }
        if pending.response_id:
            attributes[names.GEN_AI_RESPONSE_ID] = pending.response_id
        ctx = None
        if pending.span_context is not None:
            ctx = trace.set_span_in_context(NonRecordingSpan(pending.span_context))
        self.logger.emit(event_name=names.GEN_AI_EVALUATION_RESULT_EVENT, context=ctx, attributes=attributes)

    def _pseudonymize(self, user: str) -> str:
        key = self.settings.outcome_key
        if not key:
            return user
        return hmac.new(key.encode(), user.encode(), hashlib.sha256).hexdigest()[:32]


def _end(span: Span) -> None:
    try:
        span.end()
    except Exception as exc:  # noqa: BLE001 - a failing span processor must not lose the call's outcome
        from .errors import report

        report("export", exc)


def _error_type(exc: BaseException) -> str:
    for attribute in ("status_code", "code"):  # google-genai and urllib use .code
        status = getattr(exc, attribute, None)
        # An HTTP error status only: Ollama stream errors carry -1, Mistral validation errors 200.
        if isinstance(status, int) and not isinstance(status, bool) and 400 <= status <= 599:
            return str(status)
    return type(exc).__qualname__


def _to_json(value: Any) -> str:
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)
