"""A concurrent load of instrumented calls whose expected telemetry is known call by call.

Each :class:`Plan` is one call through the real ``openai`` or ``anthropic`` SDK to the fake
server, inside nested task runs, with one way of treating its output (its own verdict, a ref
recorded later, a read, nothing, a stream) and so one known outcome. ``tests/test_concurrency.py``
runs a small load and ``benchmarks/bench_concurrency.py`` a large one; both check that every
call got one span and one outcome and that the metric totals are the sums over the plans.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

import otel_tokens
from otel_tokens.demo.fake_llm import FakeLLMServer

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


def plans(worker: str, count: int, start: int) -> list[Plan]:
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


def chat_args(plan: Plan, stream: bool) -> dict[str, Any]:
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


def judge(plan: Plan, reply: Any, refs: list[str]) -> None:
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


def call(clients: dict[str, Any], plan: Plan, refs: list[str]) -> None:
    with otel_tokens.task("worker", team=plan.team) as outer:
        with otel_tokens.task(plan.task):  # no verdict: its calls go to the outer run's
            if plan.pattern == "stream":
                stream = _endpoint(clients, plan).create(**chat_args(plan, True))
                text = "".join(_chunk_text(plan, chunk) for chunk in stream)
                assert text == f"answer {plan.worker} {plan.index}"
            else:
                judge(plan, _endpoint(clients, plan).create(**chat_args(plan, False)), refs)
        if plan.run_verdict:
            outer.mark_used()


async def acall(clients: dict[str, Any], plan: Plan, refs: list[str]) -> None:
    async with otel_tokens.task("worker", team=plan.team) as outer:
        async with otel_tokens.task(plan.task):
            if plan.pattern == "stream":
                stream = await _endpoint(clients, plan).create(**chat_args(plan, True))
                text = "".join([_chunk_text(plan, chunk) async for chunk in stream])
                assert text == f"answer {plan.worker} {plan.index}"
            else:
                # The call runs in a child asyncio task: it inherits both runs from the context.
                reply = await asyncio.create_task(_endpoint(clients, plan).create(**chat_args(plan, False)))
                judge(plan, reply, refs)
        if plan.run_verdict:
            outer.mark_used()


def clients(server: FakeLLMServer, *, aio: bool, connections: int) -> dict[str, Any]:
    """OpenAI and Anthropic clients for the fake server, with room for ``connections`` at once."""
    import anthropic
    import openai

    def limits(sdk: Any) -> Any:  # the SDK's own Limits class (httpx or httpx2)
        return type(sdk.DEFAULT_CONNECTION_LIMITS)(
            max_connections=connections, max_keepalive_connections=connections
        )

    http = "DefaultAsyncHttpxClient" if aio else "DefaultHttpxClient"
    openai_cls, anthropic_cls = (
        (openai.AsyncOpenAI, anthropic.AsyncAnthropic) if aio else (openai.OpenAI, anthropic.Anthropic)
    )
    return {
        "openai": openai_cls(
            base_url=server.openai_base_url,
            api_key="test",
            max_retries=0,
            http_client=getattr(openai, http)(limits=limits(openai)),
        ),
        "anthropic": anthropic_cls(
            base_url=server.anthropic_base_url,
            api_key="test",
            max_retries=0,
            http_client=getattr(anthropic, http)(limits=limits(anthropic)),
        ),
    }


def run_threads(sync_clients: dict[str, Any], threads: int, per_thread: int, refs: list[str]) -> list[Plan]:
    """``threads`` threads, started together, each making ``per_thread`` calls in a row."""
    work_of = [plans(f"thread{t}", per_thread, t * per_thread) for t in range(threads)]
    failures: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(mine: list[Plan]) -> None:
        try:
            start.wait()
            for plan in mine:
                call(sync_clients, plan, refs)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            failures.append(exc)

    workers = [threading.Thread(target=work, args=(mine,)) for mine in work_of]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=600)
    if failures:
        raise failures[0]
    return [plan for mine in work_of for plan in mine]


async def run_tasks(async_clients: dict[str, Any], tasks: int, per_task: int, refs: list[str]) -> list[Plan]:
    """``tasks`` asyncio tasks at once, each making ``per_task`` calls in a row."""
    work_of = [plans(f"task{t}", per_task, t * per_task) for t in range(tasks)]

    async def work(mine: list[Plan]) -> None:
        for plan in mine:
            await acall(async_clients, plan, refs)

    await asyncio.gather(*(work(mine) for mine in work_of))
    return [plan for mine in work_of for plan in mine]
