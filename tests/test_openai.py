"""Every OpenAI surface through the real SDK over HTTP: exact span attributes and metric values.

Expected numbers come from the ``x-fake-*`` headers sent and from genai-prices, never from output.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import openai
import pytest
from helpers_openai import (
    DATED_MODEL,
    EMBEDDING_MODEL,
    LEGACY_MODEL,
    MESSAGES,
    MODEL,
    Answer,
    Tokens,
    chat_helpers,
    fake_model,
    histogram,
    managed,
    stream_response_id,
)
from helpers_providers import drain, maybe_await
from opentelemetry.trace import SpanKind, StatusCode

import otel_tokens
from otel_tokens import names as n

TOKENS = Tokens(prompt=120, completion=45, cached=20, reasoning=5)
TASK, TEAM = "email-triage", "support"


class _Positive:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, float) and other > 0

    def __repr__(self) -> str:
        return "<positive float>"


# Each call returns the response id the caller saw (None for embeddings).
async def _chat(c: Any, h: dict[str, str]) -> Any:
    return (await maybe_await(c.chat.completions.create(model=MODEL, messages=MESSAGES, extra_headers=h))).id


async def _chat_parse(c: Any, h: dict[str, str]) -> Any:
    h = {**h, "x-fake-output": Answer(answer="yes").model_dump_json()}
    reply = await maybe_await(
        chat_helpers(c).parse(model=MODEL, messages=MESSAGES, response_format=Answer, extra_headers=h)
    )
    assert reply.choices[0].message.parsed == Answer(answer="yes")
    return reply.id


async def _responses(c: Any, h: dict[str, str]) -> Any:
    return (await maybe_await(c.responses.create(model=MODEL, input="triage", extra_headers=h))).id


async def _responses_parse(c: Any, h: dict[str, str]) -> Any:
    h = {**h, "x-fake-output": Answer(answer="no").model_dump_json()}
    reply = await maybe_await(
        c.responses.parse(model=MODEL, input="triage", text_format=Answer, extra_headers=h)
    )
    assert reply.output_parsed == Answer(answer="no")
    return reply.id


async def _embeddings(c: Any, h: dict[str, str]) -> Any:
    reply = await maybe_await(c.embeddings.create(model=EMBEDDING_MODEL, input="triage", extra_headers=h))
    assert reply.data[0].embedding
    return None


async def _legacy(c: Any, h: dict[str, str]) -> Any:
    return (await maybe_await(c.completions.create(model=LEGACY_MODEL, prompt="triage", extra_headers=h))).id


async def _chat_stream(c: Any, h: dict[str, str]) -> Any:
    stream = await maybe_await(
        c.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True, extra_headers=h)
    )
    return stream_response_id(await drain(stream))


async def _responses_stream(c: Any, h: dict[str, str]) -> Any:
    stream = await maybe_await(c.responses.create(model=MODEL, input="triage", stream=True, extra_headers=h))
    return stream_response_id(await drain(stream))


async def _legacy_stream(c: Any, h: dict[str, str]) -> Any:
    stream = await maybe_await(
        c.completions.create(model=LEGACY_MODEL, prompt="triage", stream=True, extra_headers=h)
    )
    return stream_response_id(await drain(stream))


async def _chat_helper(c: Any, h: dict[str, str]) -> Any:
    manager = chat_helpers(c).stream(model=MODEL, messages=MESSAGES, extra_headers=h)
    return stream_response_id(await managed(manager, drain))


async def _responses_helper(c: Any, h: dict[str, str]) -> Any:
    return stream_response_id(
        await managed(c.responses.stream(model=MODEL, input="triage", extra_headers=h), drain)
    )


async def _raw(c: Any, h: dict[str, str]) -> Any:
    raw = await maybe_await(
        c.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES, extra_headers=h)
    )
    assert raw.headers["x-request-id"].startswith("req_fake")
    parsed = raw.parse()
    assert isinstance(parsed, openai.types.chat.ChatCompletion)
    assert raw.parse() is parsed  # the tracked object, every time
    otel_tokens.mark_used(parsed)
    return parsed.id


async def _streaming_response(c: Any, h: dict[str, str]) -> Any:
    async def body(resp: Any) -> Any:
        parsed = await maybe_await(resp.parse())
        assert isinstance(parsed, openai.types.chat.ChatCompletion)
        return parsed.id

    return await managed(
        c.chat.completions.with_streaming_response.create(model=MODEL, messages=MESSAGES, extra_headers=h),
        body,
    )


@dataclass(frozen=True)
class Case:
    call: Callable[[Any, dict[str, str]], Awaitable[Any]]
    operation: str = "chat"
    model: str = MODEL
    finish: tuple[str, ...] | None = ("stop",)
    output_type: str | None = "text"
    stream: bool = False


CASES = {
    "chat.create": Case(_chat),
    "chat.parse": Case(_chat_parse, output_type="json"),
    "responses.create": Case(_responses, finish=("completed",), output_type=None),
    "responses.parse": Case(_responses_parse, finish=("completed",), output_type=None),
    "embeddings": Case(_embeddings, "embeddings", EMBEDDING_MODEL, None, None),
    "completions": Case(_legacy, "text_completion", LEGACY_MODEL, output_type=None),
    "chat.create(stream)": Case(_chat_stream, stream=True),
    "responses.create(stream)": Case(_responses_stream, finish=("completed",), output_type=None, stream=True),
    "completions(stream)": Case(
        _legacy_stream, "text_completion", LEGACY_MODEL, output_type=None, stream=True
    ),
    "chat.stream()": Case(_chat_helper, stream=True),
    "responses.stream()": Case(_responses_helper, finish=("completed",), output_type=None, stream=True),
    "with_raw_response": Case(_raw),
    "with_streaming_response": Case(_streaming_response),
}


@pytest.fixture(params=["sync", "async"])
def client(request: Any, make_openai_client: Any) -> Any:
    return make_openai_client(aio=request.param == "async")


@pytest.mark.parametrize("name", CASES)
async def test_surface_span_and_metrics(name: str, instrumented: Any, client: Any, fake_llm: Any) -> None:
    case = CASES[name]
    embeddings = case.operation == "embeddings"
    with otel_tokens.task(TASK, team=TEAM):
        response_id = await case.call(client, TOKENS.headers())

    [span] = instrumented.finished_spans()
    cost = TOKENS.cost(case.model, embeddings=embeddings)  # the dated fake model is unknown: request model
    expected: dict[str, Any] = {
        n.GEN_AI_OPERATION_NAME: case.operation,
        n.GEN_AI_PROVIDER_NAME: "openai",
        n.GEN_AI_REQUEST_MODEL: case.model,
        n.GEN_AI_RESPONSE_MODEL: fake_model(case.model),
        n.SERVER_ADDRESS: fake_llm.host,
        n.SERVER_PORT: fake_llm.port,
        n.ATTR_TASK: TASK,
        n.ATTR_TEAM: TEAM,
        n.ATTR_USAGE_SOURCE: "provider",
        n.GEN_AI_USAGE_INPUT_TOKENS: TOKENS.prompt,
        n.ATTR_COST_USD: pytest.approx(cost),
        n.ATTR_COST_PRICED: True,
    }
    if not embeddings:
        expected[n.GEN_AI_USAGE_OUTPUT_TOKENS] = TOKENS.completion
        expected[n.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = TOKENS.cached
        expected[n.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = TOKENS.reasoning
    if response_id is not None:
        expected[n.GEN_AI_RESPONSE_ID] = response_id
    if case.finish:
        expected[n.GEN_AI_RESPONSE_FINISH_REASONS] = case.finish
    if case.output_type:
        expected[n.GEN_AI_OUTPUT_TYPE] = case.output_type
    if case.stream:
        expected[n.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = _Positive()
    assert span.name == f"{case.operation} {case.model}"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes or {}) == expected

    labels = {
        "provider": "openai",
        "model": fake_model(case.model),
        "operation": case.operation,
        "task": TASK,
        "team": TEAM,
    }
    split = {t: instrumented.total(n.TOKENS.name, token_type=t, **labels) for t in n.TOKEN_TYPES}
    assert {t: v for t, v in split.items() if v} == TOKENS.split(embeddings=embeddings)
    assert sum(split.values()) == TOKENS.prompt + (0 if embeddings else TOKENS.completion)
    assert instrumented.points(n.CALLS.name) == [({**labels, "status": "ok"}, 1)]
    assert instrumented.total(n.COST_USD.name, **labels) == pytest.approx(cost)
    assert instrumented.total(n.UNPRICED_CALLS.name) == 0

    usage = {
        a[n.GEN_AI_TOKEN_TYPE]: (count, total)
        for a, count, total in histogram(instrumented, n.TOKEN_USAGE.name)
    }
    assert usage == (
        {"input": (1, TOKENS.prompt)}
        if embeddings
        else {"input": (1, TOKENS.prompt), "output": (1, TOKENS.completion)}
    )
    [(attrs, count, _)] = histogram(instrumented, n.OPERATION_DURATION.name)
    assert count == 1
    assert attrs == {
        n.GEN_AI_OPERATION_NAME: case.operation,
        n.GEN_AI_PROVIDER_NAME: "openai",
        n.GEN_AI_REQUEST_MODEL: case.model,
        n.GEN_AI_RESPONSE_MODEL: fake_model(case.model),
        n.SERVER_ADDRESS: fake_llm.host,
        n.SERVER_PORT: fake_llm.port,
    }
    ttfc = histogram(instrumented, n.TIME_TO_FIRST_CHUNK.name)
    assert [(a, c) for a, c, _ in ttfc] == ([(attrs, 1)] if case.stream else [])


async def test_known_response_model_is_priced_by_itself(instrumented: Any, client: Any) -> None:
    tokens = Tokens(prompt=1000, completion=300)
    reply = await maybe_await(
        client.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,
            extra_headers=tokens.headers(**{"x-fake-response-model": DATED_MODEL}),
        )
    )
    assert reply.model == DATED_MODEL
    [span] = instrumented.finished_spans()
    assert span.attributes[n.GEN_AI_RESPONSE_MODEL] == DATED_MODEL
    assert span.attributes[n.ATTR_COST_USD] == pytest.approx(tokens.cost(DATED_MODEL))
    assert span.attributes[n.ATTR_TASK] == n.UNLABELED_TASK
    assert n.ATTR_TEAM not in span.attributes
    labels = {"model": DATED_MODEL, "task": n.UNLABELED_TASK, "team": ""}
    assert instrumented.total(n.COST_USD.name, **labels) == pytest.approx(tokens.cost(DATED_MODEL))
    assert instrumented.total(n.TOKENS.name, **labels) == tokens.prompt + tokens.completion


async def test_unknown_model_is_counted_unpriced(instrumented: Any, client: Any) -> None:
    tokens = Tokens(prompt=40, completion=10)
    await maybe_await(
        client.chat.completions.create(
            model="acme-private-9", messages=MESSAGES, extra_headers=tokens.headers()
        )
    )
    [span] = instrumented.finished_spans()
    assert span.attributes[n.ATTR_COST_PRICED] is False
    assert span.attributes[n.ATTR_COST_USD] == 0.0
    assert span.attributes[n.GEN_AI_USAGE_INPUT_TOKENS] == tokens.prompt
    model = fake_model("acme-private-9")
    assert instrumented.total(n.UNPRICED_CALLS.name, model=model) == 1
    assert instrumented.points(n.COST_USD.name) == []
    assert instrumented.total(n.TOKENS.name, model=model) == tokens.prompt + tokens.completion


async def test_failed_call_raises_unchanged_and_is_counted_as_error(instrumented: Any, client: Any) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await maybe_await(
            client.chat.completions.create(
                model=MODEL, messages=MESSAGES, extra_headers={"x-fake-status": "400"}
            )
        )
    assert caught.value.status_code == 400
    [span] = instrumented.finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[n.ERROR_TYPE] == "400"
    assert n.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes
    assert [e.name for e in span.events] == ["exception"]
    assert instrumented.total(n.CALLS.name, status="error", model=MODEL) == 1
    assert instrumented.total(n.CALLS.name, status="ok") == 0
    assert instrumented.points(n.TOKENS.name) == []
    [(attrs, count, _)] = histogram(instrumented, n.OPERATION_DURATION.name)
    assert (attrs[n.ERROR_TYPE], count) == ("400", 1)
    assert instrumented.total(n.OUTCOME_CALLS.name, outcome="error") == 1
