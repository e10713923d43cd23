"""Pending calls and their resolution: exactly one outcome per call, decided once.

A call resolves at the first of: its own verdict; the end of its task run (the run's
verdict, else inference); the release of its response object outside any run; the TTL;
shutdown. The pending set is bounded: past ``max_pending`` the oldest call is resolved by
inference. Read tracking (``proxies``) sets ``PendingCall.read``.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import warnings
import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import SpanContext

from . import errors, names
from .names import Outcome

if TYPE_CHECKING:
    from .recorder import Recorder
    from .tasks import TaskRun

logger = logging.getLogger("otel_tokens")
_USED = Outcome.USED.value
_UNREAD = Outcome.UNREAD.value
_UNMARKED = Outcome.UNMARKED.value
# A live run's list of calls is compacted (resolved calls dropped) when it reaches this size, or
# twice its size after the last compaction: a long run cannot hold on to every call it made.
_COMPACT_MIN = 1024


class PendingCall:
    """A finished call awaiting its outcome: what the outcome metrics and event need."""

    __slots__ = (
        "__weakref__",
        "cost_usd",
        "created",
        "labels",
        "nonce",
        "read",
        "ref_held",
        "resolved",
        "response_id",
        "run",
        "span_context",
        "tokens",
    )

    def __init__(
        self,
        labels: dict[str, str],
        tokens: int,
        cost_usd: float,
        span_context: SpanContext | None,
        response_id: str | None,
        run: TaskRun | None,
    ) -> None:
        self.labels = labels
        self.tokens = tokens
        self.cost_usd = cost_usd
        self.span_context = span_context
        self.response_id = response_id
        self.run = run
        self.created = time.monotonic()
        self.read = False
        self.resolved: str | None = None
        self.ref_held = False
        self.nonce: str | None = None


def warn_repeat_verdict(what: str) -> None:
    warnings.warn(
        f"otel-tokens: {what} already has an outcome; the later verdict is ignored",
        RuntimeWarning,
        stacklevel=_caller_level(),
    )


def _caller_level() -> int:
    """The ``stacklevel`` of the first frame outside otel_tokens: the warning points at the app."""
    level, frame = 1, sys._getframe(1)
    while frame.f_back is not None and _is_ours(frame.f_globals.get("__name__", "")):
        level, frame = level + 1, frame.f_back
    return level


def _is_ours(module: str) -> bool:
    return module == "otel_tokens" or module.startswith("otel_tokens.")


class OutcomeTracker:
    """Holds pending calls and resolves each exactly once."""

    def __init__(self, recorder: Recorder, *, ttl_s: float, max_pending: int, track_reads: bool) -> None:
        self.recorder = recorder
        self.ttl_s = ttl_s
        self.max_pending = max_pending
        self.track_reads = track_reads
        self._lock = threading.Lock()
        self._pending: OrderedDict[int, PendingCall] = OrderedDict()
        self._by_response_id: dict[str, PendingCall] = {}
        # Calls whose outcome will come through a ref: nonce -> (call, expiry, infer at expiry).
        self._outstanding: OrderedDict[str, tuple[PendingCall, float, bool]] = OrderedDict()
        self._compact_at: weakref.WeakKeyDictionary[TaskRun, int] = weakref.WeakKeyDictionary()
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None
        recorder.set_pending_source(self.pending_count)

    # --- registration ------------------------------------------------------------------------------
    def register(self, pending: PendingCall) -> None:
        evicted: list[PendingCall] = []
        with self._lock:
            self._pending[id(pending)] = pending
            if pending.response_id:
                self._by_response_id[pending.response_id] = pending
            while len(self._pending) > self.max_pending:
                evicted.append(self._pending.popitem(last=False)[1])
        for old in evicted:
            self.resolve(old, self._infer_now(old))
        run = pending.run
        if run is not None and len(run.calls) >= self._compact_at.get(run, _COMPACT_MIN):
            self._compact(run)
        if self._sweeper is None:
            self._start_sweeper()

    def _compact(self, run: TaskRun) -> None:
        # Calls resolved early (own verdict, TTL, eviction) or handed to a ref no longer need the run.
        with run.lock:
            run.calls = [c for c in run.calls if c.resolved is None and not c.ref_held]
            self._compact_at[run] = max(_COMPACT_MIN, 2 * len(run.calls))

    def pending_count(self) -> int:
        return len(self._pending)

    def find_by_response_id(self, response_id: str) -> PendingCall | None:
        return self._by_response_id.get(response_id)

    # --- resolution --------------------------------------------------------------------------------
    def resolve(self, pending: PendingCall, outcome: str) -> bool:
        """Give ``pending`` its outcome unless it has one; emit the outcome metrics and event."""
        with self._lock:
            if pending.resolved is not None:
                return False
            pending.resolved = outcome
            self._forget(pending)
        try:
            self.recorder.emit_outcome(pending, outcome)
        except Exception as exc:  # noqa: BLE001
            errors.report("outcome", exc)
        return True

    def _forget(self, pending: PendingCall) -> None:
        self._pending.pop(id(pending), None)
        if pending.response_id and self._by_response_id.get(pending.response_id) is pending:
            del self._by_response_id[pending.response_id]

    def hand_off(self, pending: PendingCall, nonce: str, expires_at: float, infer_at_expiry: bool) -> None:
        """The call's outcome will come through its ref: it leaves the pending set until the ref is
        recorded here, or expires (then, when no other process can hold the key, it is inferred)."""
        dropped: list[tuple[PendingCall, float, bool]] = []
        with self._lock:
            pending.ref_held = True
            self._forget(pending)
            self._outstanding[nonce] = (pending, expires_at, infer_at_expiry)
            while len(self._outstanding) > self.max_pending:
                dropped.append(self._outstanding.popitem(last=False)[1])
        for old, _, infer in dropped:
            if infer:  # only this process could record it: it gets its outcome now
                self.resolve(old, self.infer(old))

    def take_outstanding(self, nonce: str) -> PendingCall | None:
        with self._lock:
            entry = self._outstanding.pop(nonce, None)
        return entry[0] if entry is not None else None

    def _expire_refs(self, now: float) -> None:
        expired: list[tuple[PendingCall, bool]] = []
        with self._lock:
            while self._outstanding:
                nonce, (pending, expires_at, infer) = next(iter(self._outstanding.items()))
                if expires_at > now:
                    break
                del self._outstanding[nonce]
                expired.append((pending, infer))
        for pending, infer in expired:
            if infer:
                self.resolve(pending, self.infer(pending))

    def verdict(self, pending: PendingCall, outcome: str) -> None:
        if not self.resolve(pending, outcome):
            warn_repeat_verdict("this call")

    def infer(self, pending: PendingCall, run_verdict: str | None = None) -> str:
        read = pending.read or not self.track_reads
        if run_verdict is not None and (read or run_verdict != _USED):
            return run_verdict
        return _UNMARKED if read else _UNREAD

    def _infer_now(self, pending: PendingCall) -> str:
        run = pending.run
        return self.infer(pending, run.verdict if run is not None else None)

    def on_release(self, pending: PendingCall) -> None:
        """The response object was released: outside a live run, nothing can judge it any more."""
        if pending.resolved is not None or pending.ref_held:
            return
        run = pending.run
        if run is not None and not run.ended:
            return
        self.resolve(pending, self._infer_now(pending))  # an ended run's verdict still applies

    def end_run(self, run: TaskRun) -> None:
        with run.lock:
            calls, run.calls = run.calls, []
        self._compact_at.pop(run, None)
        parent = run.parent
        if run.verdict is None and parent is not None and not parent.ended:
            # An inner run without a verdict leaves its calls to the enclosing run's verdict.
            with parent.lock:
                parent.calls.extend(c for c in calls if c.resolved is None)
            for c in calls:
                c.run = parent
            return
        for pending in calls:
            if pending.resolved is None and not pending.ref_held:
                self.resolve(pending, self.infer(pending, run.verdict))

    # --- expiry ------------------------------------------------------------------------------------
    def sweep(self, now: float | None = None) -> int:
        """Resolve every call older than the TTL by inference. Returns how many."""
        deadline = (time.monotonic() if now is None else now) - self.ttl_s
        expired: list[PendingCall] = []
        with self._lock:
            for pending in self._pending.values():
                if pending.created > deadline:
                    break
                expired.append(pending)
        for pending in expired:
            self.resolve(pending, self._infer_now(pending))
        self._expire_refs(time.time())
        return len(expired)

    def flush(self) -> int:
        """Resolve every pending call now (shutdown), and every call whose ref only this process
        could record (no shared key): after shutdown nothing can record it any more."""
        with self._lock:
            remaining = list(self._pending.values())
            local_refs = [nonce for nonce, (_, _, infer) in self._outstanding.items() if infer]
            held = [self._outstanding.pop(nonce)[0] for nonce in local_refs]
        for pending in remaining:
            self.resolve(pending, self._infer_now(pending))
        for pending in held:
            self.resolve(pending, self.infer(pending))
        return len(remaining) + len(held)

    def _start_sweeper(self) -> None:
        with self._lock:
            if self._sweeper is not None:
                return
            interval = min(max(self.ttl_s / 4, 0.01), 5.0)
            self._sweeper = threading.Thread(
                target=self._sweep_loop, args=(interval,), name="otel-tokens-outcomes", daemon=True
            )
        self._sweeper.start()

    def _sweep_loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.sweep()
            except Exception as exc:  # noqa: BLE001
                errors.report("outcome", exc)

    def stop(self) -> None:
        self._stop.set()
        sweeper = self._sweeper
        if sweeper is not None and sweeper is not threading.current_thread():
            sweeper.join(timeout=1.0)


# The tracker of the active instrumentation (set by runtime), for TaskRun.__exit__.
_tracker: OutcomeTracker | None = None


def set_tracker(tracker: OutcomeTracker | None) -> None:
    global _tracker
    _tracker = tracker


def current_tracker() -> OutcomeTracker | None:
    return _tracker


def end_run(run: TaskRun) -> None:
    tracker = _tracker
    if tracker is None:
        return
    try:
        tracker.end_run(run)
    except Exception as exc:  # noqa: BLE001 - a run's end must never raise into the app
        errors.report("outcome", exc)


def describe(target: Any) -> str:
    return f"{type(target).__module__}.{type(target).__qualname__}"


__all__ = ["OutcomeTracker", "PendingCall", "names"]
