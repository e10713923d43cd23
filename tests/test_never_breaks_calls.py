"""Never break the user's call: a failure inside otel-tokens, at any stage and for every
instrumented OpenAI method, leaves the caller's result (or exception) exactly as without
otel-tokens, and is counted in ``otel_tokens_internal_errors_total{stage}``.

Each test first makes the call uninstrumented (the baseline), then instruments with
``raise_internal_errors=False``, injects the failure and makes the same call again.
"""

from __future__ import annotations

import logging
from typing import Any

import openai
import pytest
from helpers_faults import (
    boom,
    check_error_unchanged,
    check_result_unchanged,
    reaching,
    record_raised,
    wrapper_faults,
)
from helpers_openai import INVOCATIONS, Tokens, endpoint_id, invocation, normalized, settle
from openai._base_client import AsyncAPIClient, SyncAPIClient

from otel_tokens import names as n
from otel_tokens.instrumentation.openai import LIBRARY
from otel_tokens.instrumentation.openai import mapping as m
from otel_tokens.pricing import PriceBook

TOKENS = Tokens(prompt=21, completion=8, cached=5, reasoning=2)
ENDPOINTS = LIBRARY.endpoints
STREAMABLE = tuple(e for e in ENDPOINTS if invocation(e)[1])
STATES = (m.ChatStreamState, m.ResponsesStreamState)
# The fault names; each test breaks the endpoint it calls only (parse() calls create() underneath).
FAULTS = wrapper_faults(ENDPOINTS, *STATES)


def _fault(endpoint: Any, name: str) -> Any:
    return wrapper_faults([endpoint], *STATES)[name] if name in FAULTS else None


def _call(make_openai_client: Any, endpoint: Any, headers: dict[str, str], stream: bool) -> Any:
    """``call()``: what the caller sees of one call on a new client (a response, a stream's chunks)."""
    invoke, _ = invocation(endpoint)
    return lambda: settle(invoke(make_openai_client(aio=endpoint.is_async), headers, stream))


def test_every_instrumented_method_is_covered() -> None:
    assert {(e.module, e.qualname.split(".")[1]) for e in ENDPOINTS} == {
        (f"openai.resources.{module}", method) for module, _, method in INVOCATIONS
    }
    assert len(ENDPOINTS) == 2 * len(INVOCATIONS)  # sync and async of each


@pytest.mark.parametrize("fault", reaching("response", FAULTS))
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=endpoint_id)
async def test_internal_failure_leaves_the_response_unchanged(
    endpoint: Any, fault: str, tolerant: Any, monkeypatch: pytest.MonkeyPatch, make_openai_client: Any
) -> None:
    call = _call(make_openai_client, endpoint, TOKENS.headers(), False)
    await check_result_unchanged(tolerant, monkeypatch, call, _fault(endpoint, fault), "response", normalized)


@pytest.mark.parametrize("fault", reaching("stream", FAULTS))
@pytest.mark.parametrize("endpoint", STREAMABLE, ids=endpoint_id)
async def test_internal_failure_leaves_the_stream_unchanged(
    endpoint: Any, fault: str, tolerant: Any, monkeypatch: pytest.MonkeyPatch, make_openai_client: Any
) -> None:
    """Identical chunks: in particular the usage chunk otel-tokens asked for stays hidden."""
    call = _call(make_openai_client, endpoint, TOKENS.headers(), True)
    await check_result_unchanged(tolerant, monkeypatch, call, _fault(endpoint, fault), "stream", normalized)


@pytest.mark.parametrize("fault", ["none", *reaching("error", FAULTS)])
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=endpoint_id)
async def test_provider_error_is_the_same_exception_object(
    endpoint: Any, fault: str, tolerant: Any, monkeypatch: pytest.MonkeyPatch, make_openai_client: Any
) -> None:
    # Resources keep bound ``client.post``; ``post`` looks ``request`` up at call time.
    await check_error_unchanged(
        tolerant,
        monkeypatch,
        _call(make_openai_client, endpoint, {"x-fake-status": "400"}, invocation(endpoint)[1]),
        _fault(endpoint, fault),
        "error",
        openai.BadRequestError,
        record=lambda mp: record_raised(mp, (SyncAPIClient, "request"), (AsyncAPIClient, "request")),
    )


def test_each_stage_is_logged_once_and_counted_every_time(
    tolerant: Any, monkeypatch: pytest.MonkeyPatch, make_openai_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    openai_client = make_openai_client()
    telemetry = tolerant()
    monkeypatch.setattr(PriceBook, "cost", boom)
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
