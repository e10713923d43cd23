"""The active instrumentation: settings, recorder, outcome tracker and ref signer, wired once.

``instrument()`` creates it; instrumentors and the public outcome API share it.
"""

from __future__ import annotations

import atexit
import threading
from typing import Any

from opentelemetry._logs import LoggerProvider
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import SpanContext, TracerProvider

from . import config, errors, outcomes
from .fingerprints import RepeatDetector
from .names import Outcome
from .outcomes import OutcomeTracker, PendingCall
from .pricing import PriceBook, PricesFileError, load_overrides
from .recorder import Call, Recorder
from .records import Request, Response
from .refs import RefSigner
from .tasks import BudgetExceeded, TaskRun, current_run


class Runtime:
    def __init__(
        self,
        settings: config.Settings,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        logger_provider: LoggerProvider | None = None,
    ) -> None:
        self.settings = settings
        errors.configure(None, settings.raise_internal_errors)
        overrides, prices_error = None, None
        if settings.prices_file:
            try:
                overrides = load_overrides(settings.prices_file)
            except PricesFileError as exc:  # bundled prices still apply; reported once counting works
                prices_error = exc
        self.recorder = Recorder(
            settings, tracer_provider, meter_provider, logger_provider, PriceBook(overrides)
        )
        errors.configure(self.recorder.count_internal_error, settings.raise_internal_errors)
        if prices_error is not None:
            errors.report("pricing", prices_error)
        self.tracker = OutcomeTracker(
            self.recorder,
            ttl_s=settings.outcome_ttl_s,
            max_pending=settings.max_pending,
            track_reads=settings.track_reads,
        )
        self.signer = RefSigner(settings.outcome_key, settings.ref_ttl_s)
        key = settings.outcome_key.encode() if settings.outcome_key else None
        self.repeats = RepeatDetector(settings.repeat_window_s, settings.max_pending, key)
        self.active = True

    # --- call lifecycle (used by the wrapper) ------------------------------------------------------
    def begin(self, request: Request, repeat: bool = False) -> Call:
        """Open the call's span. Budget checks happen before, in :meth:`check_budget`."""
        return self.recorder.start(request, repeat)

    def check_budget(self) -> TaskRun | None:
        """Raise :class:`BudgetExceeded` if a run on the context can no longer afford a call."""
        run = current_run()
        node = run
        while node is not None:
            limit = _exceeded(node)
            if limit is not None:
                self.recorder.count_budget_block(node)
                raise BudgetExceeded(node.name, *limit)
            node = node.parent
        node = run
        while node is not None:
            with node.lock:
                node.call_count += 1
            node = node.parent
        return run

    def complete(
        self, call: Call, response: Response | None, *, read: bool = False, verdict: str | None = None
    ) -> PendingCall | None:
        """End a successful call and register it for its outcome."""
        finished = self.recorder.finish(call, response)
        if finished is None:
            return None
        labels, usage, cost = finished
        pending = PendingCall(
            labels,
            usage.total,
            cost or 0.0,
            call.span.get_span_context(),
            response.response_id if response is not None else None,
            call.run,
        )
        pending.read = read
        run = call.run
        if run is not None and not run.ended:
            with run.lock:
                run.calls.append(pending)
        # A call that finishes after its run ended keeps the run: its verdict still applies at release.
        self.tracker.register(pending)
        if verdict is not None:
            self.tracker.verdict(pending, verdict)
        return pending

    def observe(
        self,
        request: Request,
        response: Response,
        *,
        task: str,
        team: str | None,
        run: TaskRun | None,
        span_context: SpanContext | None,
        error_type: str | None = None,
        read: bool = False,
    ) -> PendingCall | None:
        """Record a call another instrumentation traced and register it for its outcome."""
        labels, usage, cost = self.recorder.record_observed(request, response, task, team, error_type)
        pending = PendingCall(labels, usage.total, cost or 0.0, span_context, response.response_id, run)
        pending.read = read
        if error_type is not None:
            self.tracker.resolve(pending, Outcome.ERROR.value)
            return None
        if run is not None and not run.ended:
            with run.lock:
                run.calls.append(pending)
        self.tracker.register(pending)
        return pending

    def fail(self, call: Call, exc: BaseException) -> None:
        labels = self.recorder.fail(call, exc)
        if labels is not None:
            pending = PendingCall(labels, 0, 0.0, call.span.get_span_context(), None, None)
            self.tracker.resolve(pending, Outcome.ERROR.value)

    def shutdown(self) -> None:
        self.active = False
        self.tracker.flush()
        self.tracker.stop()


def _exceeded(run: TaskRun) -> tuple[str, float, float] | None:
    if run.max_calls is not None and run.call_count >= run.max_calls:
        return "max_calls", run.max_calls, run.call_count
    if run.max_tokens is not None and run.tokens >= run.max_tokens:
        return "max_tokens", run.max_tokens, run.tokens
    if run.max_cost_usd is not None and run.cost_usd >= run.max_cost_usd:
        return "max_cost_usd", run.max_cost_usd, run.cost_usd
    return None


_lock = threading.Lock()
_runtime: Runtime | None = None
_atexit_registered = False


def get() -> Runtime | None:
    return _runtime


def ensure(
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    logger_provider: LoggerProvider | None = None,
    **overrides: Any,
) -> Runtime:
    """The active runtime, created with these providers (global ones when None) if there is none."""
    global _runtime, _atexit_registered
    with _lock:
        if _runtime is None:
            settings = config.load(**overrides)
            _runtime = Runtime(settings, tracer_provider, meter_provider, logger_provider)
            outcomes.set_tracker(_runtime.tracker)
            if not _atexit_registered:
                atexit.register(_flush_at_exit)
                _atexit_registered = True
        return _runtime


def clear() -> None:
    """Flush pending outcomes and drop the runtime (uninstrument)."""
    global _runtime
    with _lock:
        runtime, _runtime = _runtime, None
        outcomes.set_tracker(None)
    if runtime is not None:
        runtime.shutdown()


def _flush_at_exit() -> None:
    runtime = _runtime
    if runtime is not None:
        try:
            runtime.tracker.flush()
        except Exception as exc:  # noqa: BLE001
            errors.report("outcome", exc)
