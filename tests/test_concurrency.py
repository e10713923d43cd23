"""Under concurrency every call gets exactly one span and exactly one outcome, and the metric
totals are the sums over the calls.

16 threads and 500 asyncio tasks call OpenAI and Anthropic (plain and streamed) through the
real SDKs at once, each inside nested task runs, with every kind of verdict: the call's own
(``mark_used`` / ``mark_discarded``), the enclosing run's, a ref recorded later, and inference
(read without a verdict, never read): the load of :mod:`otel_tokens.demo.concurrent_load`,
which ``benchmarks/bench_concurrency.py`` runs bigger.
"""

from __future__ import annotations

import asyncio
import gc
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

import otel_tokens
from otel_tokens import names as n
from otel_tokens.demo import concurrent_load as load

THREADS = 16
CALLS_PER_THREAD = 12
ASYNC_TASKS = 500


@pytest.fixture
def sync_clients(fake_llm: Any) -> Iterator[dict[str, Any]]:
    clients = load.clients(fake_llm, aio=False, connections=64)
    yield clients
    for client in clients.values():
        client.close()


@pytest.fixture
async def async_clients(fake_llm: Any) -> Any:
    clients = load.clients(fake_llm, aio=True, connections=64)
    yield clients
    for client in clients.values():
        await client.close()


async def test_threads_and_asyncio_tasks_one_span_and_one_outcome_per_call(
    instrumented: Any, sync_clients: dict[str, Any], async_clients: dict[str, Any]
) -> None:
    refs: list[str] = []
    thread_work = asyncio.get_running_loop().run_in_executor(
        None, load.run_threads, sync_clients, THREADS, CALLS_PER_THREAD, refs
    )
    async_plans = await load.run_tasks(async_clients, ASYNC_TASKS, 1, refs)
    plans = await thread_work + async_plans
    for ref in refs:  # recorded after every run ended, as a later request would
        otel_tokens.record_outcome(ref, "discarded")
    otel_tokens.uninstrument()  # flushes whatever is still pending
    gc.collect()
    tel = instrumented

    spans = tel.finished_spans()
    assert len(spans) == len(plans) == THREADS * CALLS_PER_THREAD + ASYNC_TASKS
    assert len({span.context.span_id for span in spans}) == len(spans)  # each ended exactly once
    by_span = Counter(event.log_record.span_id for event in tel.outcome_events())
    assert set(by_span) == {span.context.span_id for span in spans}
    assert set(by_span.values()) == {1}  # exactly one outcome event per call

    expected_outcomes = Counter(plan.outcome for plan in plans)
    counted = {o: tel.total(n.OUTCOME_CALLS.name, outcome=o) for o in expected_outcomes}
    assert counted == expected_outcomes
    assert tel.total(n.OUTCOME_CALLS.name) == len(plans)

    tokens = sum(plan.input_tokens + plan.output_tokens for plan in plans)
    assert tel.total(n.CALLS.name, status="ok") == len(plans)
    assert tel.total(n.TOKENS.name) == tokens
    assert tel.total(n.OUTCOME_TOKENS.name) == tokens
    for provider in ("openai", "anthropic"):
        mine = [p for p in plans if p.provider == provider]
        assert tel.total(n.TOKENS.name, provider=provider, token_type="input") == sum(
            p.input_tokens for p in mine
        )
    cost = sum(float(span.attributes[n.ATTR_COST_USD]) for span in spans)
    assert tel.total(n.COST_USD.name) == pytest.approx(cost)
    assert tel.total(n.OUTCOME_COST_USD.name) == pytest.approx(cost)
    assert tel.total(n.PENDING_CALLS.name) == 0

    # Every span carries its own plan's innermost task and inherited team, whatever ran beside it.
    labelled = Counter((s.attributes[n.ATTR_TASK], s.attributes[n.ATTR_TEAM]) for s in spans)
    assert labelled == Counter((plan.task, plan.team) for plan in plans)
    assert tel.points(n.INTERNAL_ERRORS.name) == []
