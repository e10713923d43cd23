"""Never break the user's call: a failure inside otel-tokens, at any stage and for every
instrumented OpenAI method, leaves the caller's result (or exception) exactly as without
otel-tokens, and is counted in ``otel_tokens_internal_errors_total{stage}``.

Each test first makes the call uninstrumented (the baseline), then instruments with
``raise_internal_errors=False``, injects the failure and makes the same call again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import openai
import pytest
from helpers_openai import INVOCATIONS, Tokens, endpoint_id, invocation, normalized, settle
from openai._base_client import AsyncAPIClient, SyncAPIClient

from otel_tokens import names as n
from otel_tokens.instrumentation.openai import LIBRARY
from otel_tokens.instrumentation.openai import mapping as m
from otel_tokens.pricing import PriceBook
from otel_tokens.recorder import Recorder

TOKENS = Tokens(prompt=21, completion=8, cached=5, reasoning=2)
ENDPOINTS = LIBRARY.endpoints
STREAMABLE = tuple(e for e in ENDPOINTS if invocation(e)[1])


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("injected failure inside otel-tokens")


Inject = Callable[[pytest.MonkeyPatch, Any], None]


def _on_endpoint(field: str) -> Inject:
    # Endpoints are frozen dataclasses read at call time: replace the field on this one only.
    return lambda mp, endpoint: mp.setitem(vars(endpoint), field, _boom)


def _on_classes(method: str, *classes: type) -> Inject:
    def inject(mp: pytest.MonkeyPatch, endpoint: Any) -> None:
        for cls in classes:
            mp.setattr(cls, method, _boom)

    return inject


STATES = (m.ChatStreamState, m.ResponsesStreamState)
# (what fails, the stage it is counted under, how to make it fail)
FAULTS: dict[str, tuple[str, Inject]] = {
    "read_request": ("request", _on_endpoint("read_request")),
    "Recorder.start": ("recording", _on_classes("start", Recorder)),
    "read_response": ("response", _on_endpoint("read_response")),
    "PriceBook.cost": ("pricing", _on_classes("cost", PriceBook)),
    "Recorder.finish": ("recording", _on_classes("finish", Recorder)),
}
STREAM_FAULTS: dict[str, tuple[str, Inject]] = {
    "read_request": FAULTS["read_request"],
    "new_stream_state": ("stream_chunk", _on_endpoint("new_stream_state")),
    "StreamState.on_chunk": ("stream_chunk", _on_classes("on_chunk", *STATES)),
    "StreamState.response": ("stream_end", _on_classes("response", *STATES)),
    "PriceBook.cost": FAULTS["PriceBook.cost"],
    "Recorder.finish": FAULTS["Recorder.finish"],
}
ERROR_FAULTS: dict[str, tuple[str, Inject] | None] = {
    "none": None,
    "read_request": FAULTS["read_request"],
    "Recorder.fail": ("recording", _on_classes("fail", Recorder)),
}


def test_every_instrumented_method_is_covered() -> None:
    assert {(e.module, e.qualname.split(".")[1]) for e in ENDPOINTS} == {
        (f"openai.resources.{module}", method) for module, _, method in INVOCATIONS
    }
    assert len(ENDPOINTS) == 2 * len(INVOCATIONS)  # sync and async of each


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=endpoint_id)
async def test_internal_failure_leaves_the_response_unchanged(
    endpoint: Any,
    fault: str,
    tolerant: Any,
    monkeypatch: pytest.MonkeyPatch,
    make_openai_client: Any,
) -> None:
    invoke, _ = invocation(endpoint)
    baseline = await settle(invoke(make_openai_client(aio=endpoint.is_async), TOKENS.headers(), False))
    client = make_openai_client(aio=endpoint.is_async)  # a fresh connection, like the baseline's
    telemetry = tolerant()
    stage, inject = FAULTS[fault]
    inject(monkeypatch, endpoint)

    result = await settle(invoke(client, TOKENS.headers(), False))

    assert isinstance(result, type(baseline))
    assert normalized(result) == normalized(baseline)
    assert telemetry.total(n.INTERNAL_ERRORS.name, stage=stage) == 1


@pytest.mark.parametrize("fault", STREAM_FAULTS)
@pytest.mark.parametrize("endpoint", STREAMABLE, ids=endpoint_id)
async def test_internal_failure_leaves_the_stream_unchanged(
    endpoint: Any,
    fault: str,
    tolerant: Any,
    monkeypatch: pytest.MonkeyPatch,
    make_openai_client: Any,
    fake_llm: Any,
) -> None:
    invoke, _ = invocation(endpoint)
    baseline = await settle(invoke(make_openai_client(aio=endpoint.is_async), TOKENS.headers(), True))
    client = make_openai_client(aio=endpoint.is_async)
    telemetry = tolerant()
    stage, inject = STREAM_FAULTS[fault]
    inject(monkeypatch, endpoint)

    chunks = await settle(invoke(client, TOKENS.headers(), True))

    # Identical chunks: in particular the usage chunk otel-tokens asked for stays hidden.
    assert normalized(chunks) == normalized(baseline)
    assert telemetry.total(n.INTERNAL_ERRORS.name, stage=stage) >= 1
    if fault == "StreamState.on_chunk" and "stream_options" in fake_llm.requests[-1].body:
        assert len(chunks) == len(baseline)


@pytest.mark.parametrize("fault", ERROR_FAULTS)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=endpoint_id)
async def test_provider_error_is_the_same_exception_object(
    endpoint: Any,
    fault: str,
    tolerant: Any,
    monkeypatch: pytest.MonkeyPatch,
    make_openai_client: Any,
) -> None:
    invoke, can_stream = invocation(endpoint)
    headers = {"x-fake-status": "400"}
    with pytest.raises(openai.BadRequestError) as uninstrumented:
        await settle(invoke(make_openai_client(aio=endpoint.is_async), headers, can_stream))
    client = make_openai_client(aio=endpoint.is_async)
    telemetry = tolerant()
    raised_by_sdk = _capture_sdk_exceptions(monkeypatch)
    if ERROR_FAULTS[fault] is not None:
        ERROR_FAULTS[fault][1](monkeypatch, endpoint)  # type: ignore[index]

    with pytest.raises(openai.BadRequestError) as caught:
        await settle(invoke(client, headers, can_stream))

    assert caught.value is raised_by_sdk[-1]  # the very object the SDK raised, not a copy
    assert type(caught.value) is type(uninstrumented.value)
    assert str(caught.value) == str(uninstrumented.value)
    assert caught.value.status_code == uninstrumented.value.status_code == 400
    if ERROR_FAULTS[fault] is not None:
        stage = ERROR_FAULTS[fault][0]  # type: ignore[index]
        assert telemetry.total(n.INTERNAL_ERRORS.name, stage=stage) == 1
    if fault == "none":
        assert telemetry.total(n.CALLS.name, status="error") == 1
        assert telemetry.points(n.INTERNAL_ERRORS.name) == []


def _capture_sdk_exceptions(monkeypatch: pytest.MonkeyPatch) -> list[BaseException]:
    """Record every exception the SDK's own HTTP layer raises, below the instrumented method."""
    raised: list[BaseException] = []
    sync_request, async_request = SyncAPIClient.request, AsyncAPIClient.request

    def request(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return sync_request(self, *args, **kwargs)
        except BaseException as exc:
            raised.append(exc)
            raise

    async def arequest(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await async_request(self, *args, **kwargs)
        except BaseException as exc:
            raised.append(exc)
            raise

    # Resources keep bound ``client.post``; ``post`` looks ``request`` up at call time.
    monkeypatch.setattr(SyncAPIClient, "request", request)
    monkeypatch.setattr(AsyncAPIClient, "request", arequest)
    return raised


def test_each_stage_is_logged_once_and_counted_every_time(
    tolerant: Any, monkeypatch: pytest.MonkeyPatch, make_openai_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    openai_client = make_openai_client()
    telemetry = tolerant()
    monkeypatch.setattr(PriceBook, "cost", _boom)
    caplog.set_level(logging.WARNING, logger="otel_tokens")
    for _ in range(3):
        reply = openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
        assert reply.choices[0].message.content
    assert telemetry.total(n.INTERNAL_ERRORS.name, stage="pricing") == 3
    assert len([r for r in caplog.records if "'pricing'" in r.getMessage()]) == 1
    # The calls themselves are still fully recorded, just without a price.
    assert telemetry.total(n.CALLS.name, status="ok") == 3
    assert all(s.attributes[n.ATTR_COST_PRICED] is False for s in telemetry.finished_spans())
