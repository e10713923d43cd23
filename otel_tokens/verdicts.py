"""The public outcome API: verdicts on responses, streams, task runs, refs and response ids."""

from __future__ import annotations

import secrets
import time
from typing import Any

from opentelemetry.trace import SpanContext, TraceFlags

from . import names, runtime
from .instrumentation._provider import STREAM_HOLDERS
from .instrumentation._streams import StreamSession
from .outcomes import PendingCall, warn_repeat_verdict
from .refs import InvalidRef, RefPayload
from .tasks import TaskRun


def mark_used(target: Any) -> None:
    """The output of ``target`` was used.

    ``target`` is what an instrumented SDK call returned (response or stream), a
    :class:`TaskRun` (verdict for its calls without their own), or a ref string.

    Example::

        reply = client.chat.completions.create(model="gpt-4o-mini", messages=msgs)
        send(reply.choices[0].message.content)
        otel_tokens.mark_used(reply)
    """
    record_outcome(target, names.Outcome.USED.value)


def mark_discarded(target: Any) -> None:
    """The output of ``target`` was looked at and thrown away. See :func:`mark_used`."""
    record_outcome(target, names.Outcome.DISCARDED.value)


def record_outcome(target: Any = None, outcome: str | None = None, *, response_id: str | None = None) -> None:
    """Record ``outcome`` ("used" or "discarded") for a response, stream, run, ref, or provider response id.

    Example::

        otel_tokens.record_outcome(ref, "used")
        otel_tokens.record_outcome(outcome="discarded", response_id="chatcmpl-123")
    """
    outcome = _check_outcome(outcome)
    if isinstance(target, TaskRun):
        target._set_verdict(outcome)
        return
    rt = runtime.get()
    if isinstance(target, str):
        if rt is None:
            raise RuntimeError(
                "otel-tokens is not instrumented: call otel_tokens.init() or instrument() first"
            )
        _record_ref(rt, target, outcome)
        return
    if response_id is not None:
        if target is not None:
            raise TypeError("give either a target or response_id, not both")
        if not isinstance(response_id, str) or not response_id:
            raise ValueError("response_id must be a non-empty str")
        if rt is None:
            return
        pending = rt.tracker.find_by_response_id(response_id)
        if pending is None:
            raise ValueError(f"no call awaiting an outcome has response id {response_id!r}")
        rt.tracker.verdict(pending, outcome)
        return
    if target is None:
        raise TypeError("record_outcome() needs a target (response, stream, TaskRun or ref) or response_id")
    if rt is None:
        return  # not instrumented (e.g. disabled): verdicts are no-ops, the app keeps working
    found = _find(rt, target)
    if isinstance(found, StreamSession):
        if found.pending is not None:
            rt.tracker.verdict(found.pending, outcome)
        elif found.done or found.early_verdict is not None:
            warn_repeat_verdict("this stream")
        else:
            found.early_verdict = outcome  # applied when the stream ends
        return
    rt.tracker.verdict(found, outcome)


def outcome_ref(target: Any) -> str:
    """A signed string to record this call's outcome later, or in another process.

    Example::

        ref = otel_tokens.outcome_ref(reply)      # store it with the draft
        ...
        otel_tokens.record_outcome(ref, "used")   # when the user accepts the draft
    """
    rt = runtime.get()
    if rt is None:
        raise RuntimeError("otel-tokens is not instrumented: call otel_tokens.init() or instrument() first")
    found = _find(rt, target)
    if isinstance(found, StreamSession):
        if found.pending is None:
            raise ValueError("this stream has not finished; take its ref after consuming or closing it")
        found = found.pending
    if found.nonce is not None:
        return found.nonce
    if found.resolved is not None:
        raise ValueError(f"this call already has its outcome ({found.resolved!r}); a ref cannot change it")
    context = found.span_context
    payload = RefPayload(
        nonce=secrets.token_hex(8),
        labels=found.labels,
        tokens=found.tokens,
        cost_usd=found.cost_usd,
        trace_id=context.trace_id if context is not None else 0,
        span_id=context.span_id if context is not None else 0,
        response_id=found.response_id,
        issued=time.time(),
    )
    ref = rt.signer.issue(payload)
    found.nonce = ref
    rt.tracker.hand_off(found, payload.nonce, payload.issued + rt.signer.ttl_s, not rt.signer.shared)
    return ref


def _check_outcome(outcome: Any) -> str:
    if outcome is None:
        raise TypeError("outcome is required: 'used' or 'discarded'")
    value = outcome.value if isinstance(outcome, names.Outcome) else outcome
    if value not in names.VERDICTS:
        raise ValueError(
            f"outcome must be one of {', '.join(map(repr, names.VERDICTS))}; got {outcome!r} "
            "(unread, unmarked and error are inferred, never recorded)"
        )
    return str(value)


def _find(rt: runtime.Runtime, target: Any, depth: int = 0) -> PendingCall | StreamSession:
    for attribute in ("_self_pending", "_self_session"):
        found = getattr(target, attribute, None)
        if isinstance(found, (PendingCall, StreamSession)):
            return found
    tracked = getattr(target, "_self_tracked", None)  # a raw-response proxy that was parsed
    if tracked is not None and depth < 3:
        return _find(rt, tracked, depth + 1)
    if depth < 3:
        for attribute in STREAM_HOLDERS:  # helpers such as ChatCompletionStream hold our stream proxy
            inner = getattr(target, attribute, None)
            if inner is not None and inner is not target:
                try:
                    return _find(rt, inner, depth + 1)
                except ValueError:
                    pass
    response_id = getattr(target, "id", None)
    if isinstance(response_id, str):
        pending = rt.tracker.find_by_response_id(response_id)
        if pending is not None:
            return pending
    raise ValueError(
        f"{type(target).__name__} object was not produced by an instrumented LLM call "
        "(or its outcome was already recorded and forgotten)"
    )


def _record_ref(rt: runtime.Runtime, ref: str, outcome: str) -> None:
    try:
        payload = rt.signer.verify(ref)
        rt.signer.claim(payload)
    except InvalidRef as exc:
        rt.recorder.count_rejected_ref(exc.reason)
        raise
    local = rt.tracker.take_outstanding(payload.nonce)
    if local is not None:
        rt.tracker.verdict(local, outcome)  # warns when the call got its outcome another way
        return
    if not rt.signer.shared:
        # Only this process could issue it, and its call is no longer held: already inferred.
        warn_repeat_verdict("the call of this ref")
        return
    caps = rt.recorder.caps
    labels = {k: caps[k](v) if k in caps and v else v for k, v in payload.labels.items()}
    context = None
    if payload.trace_id and payload.span_id:
        context = SpanContext(payload.trace_id, payload.span_id, is_remote=True, trace_flags=TraceFlags(1))
    pending = PendingCall(labels, payload.tokens, payload.cost_usd, context, payload.response_id, None)
    rt.tracker.resolve(pending, outcome)
