"""The guarded wrapper around every patched method. It knows no provider.

Parse the request under a guard; run the user's call outside any guard; on its exception,
record and re-raise the same object; parse the response under its own guard; always
return the SDK's object or a transparent proxy of it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextvars import Token
from typing import Any, Final

from opentelemetry import context, trace
from opentelemetry.context import Context

from .. import errors
from .. import runtime as runtime_module
from ..outcomes import OutcomeTracker, PendingCall
from ..recorder import Call
from ..records import Response
from ..runtime import Runtime
from ..tasks import BudgetExceeded
from ._provider import Endpoint, Library
from ._proxies import TrackedAsyncRaw, TrackedRaw, TrackedResponse, response_proxy_class
from ._streams import StreamSession, TrackedAsyncStream, TrackedStream

# Set in the OTel context while an instrumented call runs, so a library calling another
# instrumented library underneath (LiteLLM over openai, parse() over create()) yields one span:
# the outermost. The call's span is current meanwhile, so spans made inside the SDK call (HTTP
# clients, an SDK's own tracing) are its children.
_IN_CALL_KEY: Final = context.create_key("otel_tokens_in_call")


def _enter(call: Call) -> Token[Context]:
    # A non-recording stand-in: children parent to our span, but code inside the SDK call (LiteLLM's
    # callbacks, for one) cannot write attributes, prompt text included, onto it.
    current = trace.NonRecordingSpan(call.span.get_span_context())
    return context.attach(context.set_value(_IN_CALL_KEY, True, trace.set_span_in_context(current)))


def _exit(token: Token[Context]) -> None:
    context.detach(token)


def in_call() -> bool:
    """True inside an instrumented call (the outermost one records it)."""
    return context.get_value(_IN_CALL_KEY) is True


# Builds the caller's view of a finished response: (result, pending call, tracker) -> proxy.
ProxyFactory = Callable[[Any, PendingCall, OutcomeTracker], Any]
Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


def _start(
    endpoint: Endpoint, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Runtime, Call, dict[str, Any]] | None:
    runtime = runtime_module.get()
    if runtime is None or not runtime.active or in_call():
        return None
    try:
        if endpoint.skip(kwargs):
            return None
        request, call_kwargs = endpoint.read_request(instance, args, kwargs)
    except Exception as exc:  # noqa: BLE001
        errors.report("request", exc)
        return None
    try:
        runtime.check_budget()
    except BudgetExceeded:
        raise  # the one deliberate exception: the user opted into a budget guard
    except Exception as exc:  # noqa: BLE001
        errors.report("budget", exc)
    repeat = False
    try:
        repeats = runtime.repeats
        repeat = repeats.check(repeats.digest(request.provider, request.operation, kwargs))
    except Exception as exc:  # noqa: BLE001
        errors.report("fingerprint", exc)
    try:
        return runtime, runtime.begin(request, repeat), call_kwargs
    except Exception as exc:  # noqa: BLE001
        errors.report("recording", exc)
        return None


def _record_failure(runtime: Runtime, call: Call, exc: BaseException) -> None:
    try:
        runtime.fail(call, exc)
    except Exception as inner:  # noqa: BLE001
        errors.report("recording", inner)


def _finish(
    runtime: Runtime,
    endpoint: Endpoint,
    proxy_cls: type[TrackedResponse],
    call: Call,
    result: Any,
    *,
    parsed: bool = False,
) -> Any:
    """Record a finished call and return the result, or a proxy of it; never raises."""
    try:
        raw_kind = None if parsed else endpoint.raw_kind(result)
        if raw_kind is not None:
            return _track_raw(runtime, endpoint, proxy_cls, call, result, raw_kind == "eager")
        if endpoint.is_stream(result):
            return _track_stream(runtime, endpoint, call, result)
        response = endpoint.read_response(result)
    except Exception as exc:  # noqa: BLE001
        errors.report("response", exc)
        complete_quietly(runtime, call)
        return result
    return track_response(runtime, call, result, response, proxy_cls)


def track_response(
    runtime: Runtime, call: Call, result: Any, response: Response | None, proxy_cls: ProxyFactory
) -> Any:
    """End the call with ``response`` and hand back ``result`` in a read-tracking proxy (or
    ``result`` itself when reads are not tracked or anything fails)."""
    try:
        pending = runtime.complete(call, response)
    except Exception as exc:  # noqa: BLE001
        errors.report("recording", exc)
        return result
    if pending is None or not runtime.settings.track_reads:
        return result
    try:
        return proxy_cls(result, pending, runtime.tracker)
    except Exception as exc:  # noqa: BLE001
        errors.report("read_tracking", exc)
        return result


def complete_quietly(runtime: Runtime, call: Call) -> None:
    """End the call without a response (usage missing); never raises."""
    try:
        runtime.complete(call, None)
    except Exception as exc:  # noqa: BLE001
        errors.report("recording", exc)


def _track_stream(runtime: Runtime, endpoint: Endpoint, call: Call, result: Any) -> Any:
    # Only a request otel-tokens changed can produce chunks to hide: skip the check per chunk otherwise.
    hidden = functools.partial(endpoint.hidden_chunk, call.request) if call.request.hide_usage_chunk else None
    session = StreamSession.start(call, runtime, endpoint.new_stream_state, hidden)
    if hasattr(result, "__anext__") and (endpoint.is_async or not hasattr(result, "__next__")):
        return TrackedAsyncStream(result, session)  # a stream that is both (LiteLLM's): by the endpoint
    return TrackedStream(result, session)


def _track_raw(
    runtime: Runtime, endpoint: Endpoint, proxy_cls: type[TrackedResponse], call: Call, raw: Any, eager: bool
) -> Any:
    def on_parsed(parsed: Any) -> Any:
        return _finish(runtime, endpoint, proxy_cls, call, parsed, parsed=True)

    def on_unparsed_end() -> None:
        complete_quietly(runtime, call)

    cls = TrackedAsyncRaw if inspect.iscoroutinefunction(type(raw).parse) else TrackedRaw
    proxy = cls(raw, on_parsed, on_unparsed_end)
    if eager and cls is TrackedRaw:
        # The body is already in memory: parse now (the SDK caches it) so the span ends with the call.
        try:
            proxy.parse()
        except Exception as exc:  # noqa: BLE001
            errors.report("response", exc)
    return proxy


def _by_name(
    names: tuple[str, ...], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Leading positional arguments passed by name instead (``completion("gpt-4o", msgs)`` is
    ``completion(model="gpt-4o", messages=msgs)``), so mapping and fingerprint see one shape."""
    if len(args) <= len(names) and not kwargs.keys() & set(names[: len(args)]):
        return (), {**dict(zip(names, args, strict=False)), **kwargs}
    return args, kwargs


def make_wrapper(library: Library, endpoint: Endpoint) -> Wrapper:
    """The ``wrapt`` wrapper for one endpoint of ``library``."""
    proxy_cls = response_proxy_class(library.content_attributes)
    positional = endpoint.positional

    if endpoint.is_async:

        async def async_wrapper(
            wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> Any:
            if positional and args:
                args, kwargs = _by_name(positional, args, kwargs)
            started = _start(endpoint, instance, args, kwargs)
            if started is None:
                return await wrapped(*args, **kwargs)
            runtime, call, call_kwargs = started
            token = _enter(call)
            try:
                result = await wrapped(*args, **call_kwargs)
            except BaseException as exc:
                _record_failure(runtime, call, exc)
                raise
            finally:
                _exit(token)
            return _finish(runtime, endpoint, proxy_cls, call, result)

        return async_wrapper

    def finish(runtime: Runtime, call: Call, result: Any) -> Any:
        return _finish(runtime, endpoint, proxy_cls, call, result)

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if positional and args:
            args, kwargs = _by_name(positional, args, kwargs)
        return guarded_call(
            endpoint, instance, args, kwargs, lambda call_kwargs: wrapped(*args, **call_kwargs), finish
        )

    return wrapper


def guarded_call(
    endpoint: Endpoint,
    instance: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    send: Callable[[dict[str, Any]], Any],
    finish: Callable[[Runtime, Call, Any], Any],
) -> Any:
    """One instrumented sync call: start it under guards (request, budget, repeat, span), run
    ``send(call_kwargs)`` (the user's call) outside any guard with the call current, record its
    exception and re-raise the same object, then let ``finish`` choose what the caller gets.
    ``finish`` must never raise. Provider modules with their own dispatch (botocore) use it too."""
    started = _start(endpoint, instance, args, kwargs)
    if started is None:
        return send(kwargs)
    runtime, call, call_kwargs = started
    token = _enter(call)
    try:
        result = send(call_kwargs)
    except BaseException as exc:
        _record_failure(runtime, call, exc)
        raise
    finally:
        _exit(token)
    return finish(runtime, call, result)


__all__ = ["StreamSession", "complete_quietly", "guarded_call", "make_wrapper", "track_response"]
