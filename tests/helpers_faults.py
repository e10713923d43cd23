"""Failure injection for the never-break-the-call tests: break one otel-tokens internal on purpose,
then check that the caller gets what the SDK alone gives (the same result, the same exception
object) and that the failure is counted in ``otel_tokens_internal_errors_total{stage}``.

A :class:`Fault` says how to break an internal and, for each kind of call it reaches, the stage
its failure is counted under; a kind it does not reach must count nothing.
"""

from __future__ import annotations

import gc
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import pytest
from helpers_providers import maybe_await

from otel_tokens import names
from otel_tokens.pricing import PriceBook
from otel_tokens.recorder import Recorder

Inject = Callable[[pytest.MonkeyPatch], None]
# run(headers) -> what the caller sees, comparable with == (a response dump, a stream's chunks)
Run = Callable[[dict[str, str]], Any]
# A new run (on a new client): SDKs may bind their methods when a client, or a resource like
# ``with_raw_response``, is first used, and those of one used before instrument() stay unpatched.
MakeRun = Callable[[], Run]


def boom(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise RuntimeError("injected failure inside otel-tokens")


def on_endpoints(endpoints: Iterable[Any], field: str) -> Inject:
    """Break ``field`` (``read_request``, ``read_response``, ``new_stream_state``) of each endpoint."""

    def inject(mp: pytest.MonkeyPatch) -> None:
        for endpoint in endpoints:  # frozen dataclasses, read at call time: replace the field in place
            mp.setitem(vars(endpoint), field, boom)

    return inject


def on(name: str, *owners: Any) -> Inject:
    """Break attribute ``name`` (a method or function) of each owner (class or module)."""

    def inject(mp: pytest.MonkeyPatch) -> None:
        for owner in owners:
            mp.setattr(owner, name, boom)

    return inject


@dataclass(frozen=True)
class Fault:
    inject: Inject
    stages: Mapping[str, str]  # kind of call reached -> stage its failure is counted under


def reaching(kind: str, faults: Mapping[str, Fault]) -> list[str]:
    """The names of the faults on the path of a ``kind`` call (for parametrizing)."""
    return [name for name, fault in faults.items() if kind in fault.stages]


def wrapper_faults(endpoints: Sequence[Any], *states: type) -> dict[str, Fault]:
    """What can break along the generic wrapper, for a library's ``endpoints`` and stream
    ``states``, by kind of call: ``response``, ``stream``, ``error`` (the call raised) and
    ``stream_error`` (a stream raised when first iterated: its proxy records the failure)."""
    return {
        "read_request": Fault(
            on_endpoints(endpoints, "read_request"),
            dict.fromkeys(("response", "stream", "error", "stream_error"), "request"),
        ),
        "Recorder.start": Fault(on("start", Recorder), {"response": "recording", "stream": "recording"}),
        "read_response": Fault(on_endpoints(endpoints, "read_response"), {"response": "response"}),
        "new_stream_state": Fault(on_endpoints(endpoints, "new_stream_state"), {"stream": "stream_chunk"}),
        "StreamState.on_chunk": Fault(on("on_chunk", *states), {"stream": "stream_chunk"}),
        "StreamState.response": Fault(on("response", *states), {"stream": "stream_end"}),
        "PriceBook.cost": Fault(on("cost", PriceBook), {"response": "pricing", "stream": "pricing"}),
        "Recorder.finish": Fault(on("finish", Recorder), {"response": "recording", "stream": "recording"}),
        "Recorder.fail": Fault(on("fail", Recorder), {"error": "recording", "stream_error": "stream_end"}),
    }


def _recording(function: Callable[..., Any], raised: list[BaseException]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(function):

        async def arecord(*args: Any, **kwargs: Any) -> Any:
            try:
                return await function(*args, **kwargs)
            except BaseException as exc:
                raised.append(exc)
                raise

        return arecord

    def record(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except BaseException as exc:
            raised.append(exc)
            raise

    return record


def record_raised(mp: pytest.MonkeyPatch, *targets: tuple[Any, str]) -> list[BaseException]:
    """Record every exception the SDK functions ``(owner, name)`` raise (plain, async or class
    methods of its HTTP layer, below the instrumented method): the caller must get that very object."""
    raised: list[BaseException] = []
    for owner, name in targets:
        original = inspect.getattr_static(owner, name)
        if isinstance(original, classmethod):
            mp.setattr(owner, name, classmethod(_recording(original.__func__, raised)))
        else:
            mp.setattr(owner, name, _recording(original, raised))
    return raised


def _same(error: BaseException) -> Any:
    return type(error), str(error)


async def check_faults_never_break(
    tolerant: Callable[..., Any],
    mp: pytest.MonkeyPatch,
    make_run: MakeRun,
    kind: str,
    faults: Mapping[str, Fault],
    *,
    failing: Sequence[dict[str, str]],
    errors: type[BaseException] | tuple[type[BaseException], ...],
    same: Callable[[BaseException], Any] = _same,
    sdk_raises: Sequence[tuple[Any, str]] = (),
) -> Any:
    """Run a ``kind`` call without otel-tokens: its result, and the ``errors`` that each of the
    ``failing`` headers provokes. Then, instrumented as in production (with a new run), with each
    fault in turn: the same result, the same errors (by ``same``; the very object the
    ``sdk_raises`` functions raised, when given), and the failure counted under the fault's stage
    for ``kind`` (nothing counted when the fault is not on this call's path). Returns the
    telemetry."""
    run = make_run()
    expected = await maybe_await(run({}))
    expected_errors = []
    for headers in failing:
        with pytest.raises(errors) as baseline:
            await maybe_await(run(headers))
        expected_errors.append(baseline.value)
    tel = tolerant()
    run = make_run()
    raised = record_raised(mp, *sdk_raises)
    for name, fault in faults.items():
        stage = fault.stages.get(kind)
        before = tel.total(names.INTERNAL_ERRORS.name, **({"stage": stage} if stage else {}))
        with mp.context() as patch:
            fault.inject(patch)
            assert await maybe_await(run({})) == expected, name
            for headers, expected_error in zip(failing, expected_errors, strict=True):
                with pytest.raises(type(expected_error)) as caught:
                    await maybe_await(run(headers))
                assert same(caught.value) == same(expected_error), name
                if sdk_raises:
                    assert caught.value is raised[-1], name
            gc.collect()
        after = tel.total(names.INTERNAL_ERRORS.name, **({"stage": stage} if stage else {}))
        assert after > before if stage else after == before, (name, stage)
    return tel


async def check_result_unchanged(
    tolerant: Callable[..., Any],
    mp: pytest.MonkeyPatch,
    call: Callable[[], Awaitable[Any]],
    fault: Fault,
    kind: str,
    normalized: Callable[[Any], Any],
) -> None:
    """``call()`` (what the caller sees: a response, or a stream's chunks) is the same with
    ``fault`` injected as without otel-tokens; the failure is counted under its stage, once for a
    response (a stream's state may fail on every chunk)."""
    baseline = await call()
    tel = tolerant()
    fault.inject(mp)
    result = await call()
    assert isinstance(result, type(baseline))
    assert normalized(result) == normalized(baseline)
    gc.collect()
    counted = tel.total(names.INTERNAL_ERRORS.name, stage=fault.stages[kind])
    assert counted == 1 if kind == "response" else counted >= 1


async def check_error_unchanged(
    tolerant: Callable[..., Any],
    mp: pytest.MonkeyPatch,
    call: Callable[[], Awaitable[Any]],
    fault: Fault | None,
    kind: str,
    error: type[BaseException],
    record: Callable[[pytest.MonkeyPatch], list[BaseException]] | None = None,
) -> None:
    """``call()`` raises ``error``: with otel-tokens (and ``fault``, when given) the caller gets
    the very object the SDK raised (as ``record`` sees it, when given), equal to the error without
    otel-tokens. Without a fault the call is counted failed and nothing internal; with one, its
    failure is counted under its stage for ``kind``."""
    with pytest.raises(error) as uninstrumented:
        await call()
    tel = tolerant()
    raised = record(mp) if record else None
    if fault is not None:
        fault.inject(mp)
    with pytest.raises(error) as caught:
        await call()
    if raised is not None:
        assert caught.value is raised[-1]  # the very object the SDK raised, not a copy
    assert type(caught.value) is type(uninstrumented.value)
    assert str(caught.value) == str(uninstrumented.value)
    assert getattr(caught.value, "status_code", None) == getattr(uninstrumented.value, "status_code", None)
    if fault is None:
        assert tel.total(names.CALLS.name, status="error") == 1
        assert tel.points(names.INTERNAL_ERRORS.name) == []
    else:
        assert tel.total(names.INTERNAL_ERRORS.name, stage=fault.stages[kind]) == 1
