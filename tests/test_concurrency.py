"""Under concurrency every call gets exactly one span and exactly one outcome, and the metric
totals are the sums over the calls.

16 threads and 500 asyncio tasks call OpenAI and Anthropic (plain and streamed) through the
real SDKs at once, each inside nested task runs, with every kind of verdict: the call's own
(``mark_used`` / ``mark_discarded``), the enclosing run's, a ref recorded later, and inference
(read without a verdict, never read). ``benchmarks/bench_concurrency.py`` runs a bigger load.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anthropic
import openai
import pytest

import otel_tokens
from otel_tokens import names as n

THREADS = 16
CALLS_PER_THREAD = 12
ASYNC_TASKS = 500
# How the app treats a call's output: its own verdict, a ref, a read, or nothing at all.
PATTERNS = ("own_used", "own_discarded", "ref", "read", "unread", "stream")


@dataclass(frozen=True)
class Plan:
    """One call of the load: who makes it, how, and what it must be counted as."""

    worker: str
    index: int
    provider: str
    pattern: str
    run_verdict: bool  # the enclosing run is judged "used" at its end

    @property
    def input_tokens(self) -> int:
        return 10 + self.index % 7

    @property
    def output_tokens(self) -> int:
        return 3 + self.index % 5

    @property
    def headers(self) -> dict[str, str]:
        return {
            "x-fake-input-tokens": str(self.input_tokens),
            "x-fake-output-tokens": str(self.output_tokens),
            "x-fake-output": f"answer {self.worker} {self.index}",
        }

    @property
    def task(self) -> str:
        return f"step-{self.index % 3}"

    @property
    def team(self) -> str:
        return f"team-{self.index % 4}"

    @property
    def outcome(self) -> str:
        """The outcome the call must end with (the precedence of DESIGN.md section 4)."""
        if self.pattern == "own_used":
            return "used"
        if self.pattern in ("own_discarded", "ref"):  # refs are recorded "discarded" later
            return "discarded"
        if self.pattern == "unread":  # a run's blanket "used" never turns unread into used
            return "unread"
        return "used" if self.run_verdict else "unmarked"


def _plans(worker: str, count: int, start: int) -> list[Plan]:
    return [
        Plan(
            worker=worker,
            index=i,
            pattern=PATTERNS[i % len(PATTERNS)],  # every pattern with both providers and both verdicts
            provider=("openai", "anthropic")[i // len(PATTERNS) % 2],
            run_verdict=i // (2 * len(PATTERNS)) % 2 == 0,
        )
        for i in range(start, start + count)
    ]


def _chat_args(plan: Plan, stream: bool) -> dict[str, Any]:
    messages = [{"role": "user", "content": f"question {plan.index}"}]
    if plan.provider == "openai":
        return {"model": "gpt-4o-mini", "messages": messages, "extra_headers": plan.headers, "stream": stream}
    return {
        "model": "claude-sonnet-4-6",
        "max_tokens": 64,
        "messages": messages,
        "extra_headers": plan.headers,
        "stream": stream,
    }


def _text(plan: Plan, reply: Any) -> str:
    return str(reply.choices[0].message.content if plan.provider == "openai" else reply.content[0].text)


def _chunk_text(plan: Plan, chunk: Any) -> str:
    if plan.provider == "openai":
        return str(chunk.choices[0].delta.content or "") if chunk.choices else ""
    return str(chunk.delta.text) if chunk.type == "content_block_delta" else ""


def _judge(plan: Plan, reply: Any, refs: list[str]) -> None:
    """What the app does with the output, by pattern."""
    if plan.pattern == "own_used":
        assert _text(plan, reply).startswith("answer")
        otel_tokens.mark_used(reply)
    elif plan.pattern == "own_discarded":
        otel_tokens.mark_discarded(reply)
    elif plan.pattern == "ref":
        refs.append(otel_tokens.outcome_ref(reply))
    elif plan.pattern == "read":
        assert _text(plan, reply) == f"answer {plan.worker} {plan.index}"


def _endpoint(clients: dict[str, Any], plan: Plan) -> Any:
    client = clients[plan.provider]
    return client.chat.completions if plan.provider == "openai" else client.messages


def _call(clients: dict[str, Any], plan: Plan, refs: list[str]) -> None:
    with otel_tokens.task("worker", team=plan.team) as outer:
        with otel_tokens.task(plan.task):  # no verdict: its calls go to the outer run's
            if plan.pattern == "stream":
                stream = _endpoint(clients, plan).create(**_chat_args(plan, True))
                text = "".join(_chunk_text(plan, chunk) for chunk in stream)
                assert text == f"answer {plan.worker} {plan.index}"
            else:
                _judge(plan, _endpoint(clients, plan).create(**_chat_args(plan, False)), refs)
        if plan.run_verdict:
            outer.mark_used()


async def _acall(clients: dict[str, Any], plan: Plan, refs: list[str]) -> None:
    async with otel_tokens.task("worker", team=plan.team) as outer:
        async with otel_tokens.task(plan.task):
            if plan.pattern == "stream":
                stream = await _endpoint(clients, plan).create(**_chat_args(plan, True))
                text = "".join([_chunk_text(plan, chunk) async for chunk in stream])
                assert text == f"answer {plan.worker} {plan.index}"
            else:
                # The call runs in a child asyncio task: it inherits both runs from the context.
                reply = await asyncio.create_task(_endpoint(clients, plan).create(**_chat_args(plan, False)))
                _judge(plan, reply, refs)
        if plan.run_verdict:
            outer.mark_used()


def _limits(sdk: Any) -> Any:
    # The SDK's own Limits class (httpx or httpx2, whichever this SDK version is built on).
    return type(sdk.DEFAULT_CONNECTION_LIMITS)(max_connections=64, max_keepalive_connections=64)


@pytest.fixture
def sync_clients(fake_llm: Any) -> Iterator[dict[str, Any]]:
    clients = {
        "openai": openai.OpenAI(
            base_url=fake_llm.openai_base_url,
            api_key="test",
            max_retries=0,
            http_client=openai.DefaultHttpxClient(limits=_limits(openai)),
        ),
        "anthropic": anthropic.Anthropic(
            base_url=fake_llm.anthropic_base_url,
            api_key="test",
            max_retries=0,
            http_client=anthropic.DefaultHttpxClient(limits=_limits(anthropic)),
        ),
    }
    yield clients
    for client in clients.values():
        client.close()


@pytest.fixture
async def async_clients(fake_llm: Any) -> Any:
    clients = {
        "openai": openai.AsyncOpenAI(
            base_url=fake_llm.openai_base_url,
            api_key="test",
            max_retries=0,
            http_client=openai.DefaultAsyncHttpxClient(limits=_limits(openai)),
        ),
        "anthropic": anthropic.AsyncAnthropic(
            base_url=fake_llm.anthropic_base_url,
            api_key="test",
            max_retries=0,
            http_client=anthropic.DefaultAsyncHttpxClient(limits=_limits(anthropic)),
        ),
    }
    yield clients
    for client in clients.values():
        await client.close()


def _run_threads(clients: dict[str, Any], refs: list[str]) -> list[Plan]:
    plans = [_plans(f"thread{t}", CALLS_PER_THREAD, t * CALLS_PER_THREAD) for t in range(THREADS)]
    failures: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def work(mine: list[Plan]) -> None:
        try:
            start.wait()
            for plan in mine:
                _call(clients, plan, refs)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(mine,)) for mine in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    return [plan for mine in plans for plan in mine]


async def test_threads_and_asyncio_tasks_one_span_and_one_outcome_per_call(
    instrumented: Any, sync_clients: dict[str, Any], async_clients: dict[str, Any]
) -> None:
    refs: list[str] = []
    async_plans = _plans("task", ASYNC_TASKS, 0)
    thread_work = asyncio.get_running_loop().run_in_executor(None, _run_threads, sync_clients, refs)
    await asyncio.gather(*(_acall(async_clients, plan, refs) for plan in async_plans))
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
