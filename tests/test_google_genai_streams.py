"""Google GenAI streams: ``generate_content_stream`` (a generator; the async client's an async
generator over aiohttp) ends its span exactly once on every path, bills the last chunk's
cumulative usage, and carries outcomes. The stream state's continuation and function-calling
rounds are checked on the SDK's own chunk types."""

from __future__ import annotations

import gc
import types as pytypes

import aiohttp
import httpx2
import pytest
from google.genai import errors as genai_errors
from google.genai import types
from helpers_providers import ERROR_AFTER, leave, maybe_await

import otel_tokens
from otel_tokens import names
from otel_tokens.instrumentation.google_genai.streams import GenerateStreamState
from otel_tokens.records import Request

# The SDK builds an aiohttp.ClientSession subclass for its async client; aiohttp warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning")

MODEL = "gemini-2.5-flash"
HEADERS = {
    "x-fake-input-tokens": "20",
    "x-fake-cached-tokens": "5",
    "x-fake-output-tokens": "10",
    "x-fake-reasoning-tokens": "3",
    "x-fake-output": "one two three",
}
TOTAL = 33


def kwargs(**headers: str) -> dict[str, object]:
    http = types.HttpOptions(headers={**HEADERS, **headers})
    return {"model": MODEL, "contents": "hello", "config": types.GenerateContentConfig(http_options=http)}


def check_usage(span, *, output=13, reasoning=3):
    attrs = span.attributes
    assert attrs[names.ATTR_USAGE_SOURCE] == "provider"
    assert attrs[names.GEN_AI_USAGE_INPUT_TOKENS] == 20
    assert attrs[names.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 5
    assert attrs[names.GEN_AI_USAGE_OUTPUT_TOKENS] == output
    assert attrs[names.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == reasoning


def test_exhausted_stream(instrumented, genai_client, one_call, check_outcome) -> None:
    stream = genai_client.models.generate_content_stream(**kwargs(**{"x-fake-chunks": "3"}))
    assert isinstance(stream, pytypes.GeneratorType)
    chunks = list(stream)
    assert [c.text for c in chunks] == ["one", " two", " three", ""]
    span = one_call(instrumented)
    assert span.name == f"generate_content {MODEL}"
    check_usage(span)  # the last chunk's cumulative usage, not a sum over chunks
    attrs = span.attributes
    assert attrs[names.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert attrs[names.GEN_AI_RESPONSE_ID] == chunks[-1].response_id
    assert attrs[names.GEN_AI_RESPONSE_MODEL] == f"{MODEL}-2026-01-01"
    assert attrs[names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    assert attrs[names.ATTR_COST_USD] > 0
    by_type = {t: instrumented.total(names.TOKENS.name, token_type=t) for t in names.TOKEN_TYPES}
    assert by_type == {"input": 15, "cache_read": 5, "cache_write": 0, "output": 10, "reasoning": 3}
    otel_tokens.mark_used(stream)
    check_outcome(instrumented, span, "used", tokens=TOTAL)


async def test_async_exhausted_stream(instrumented, genai_aio, one_call) -> None:
    stream = await genai_aio.models.generate_content_stream(**kwargs())
    assert isinstance(stream, pytypes.AsyncGeneratorType)
    assert "".join([c.text async for c in stream]) == "one two three"
    check_usage(one_call(instrumented))
    otel_tokens.mark_discarded(stream)
    assert instrumented.outcome_label() == "discarded"


ENDS = {  # how the caller leaves the stream -> the outcome inferred
    "break_and_drop": "unmarked",
    "close": "unmarked",
    "gc": "unread",
    "error": "error",
}


@pytest.mark.parametrize("end", ENDS)
@pytest.mark.parametrize("aio", [False, True], ids=["sync", "async"])
async def test_stream_ends_once_on_every_path(
    instrumented, genai_client, genai_aio, one_call, aio, end
) -> None:
    headers = ERROR_AFTER if end == "error" else {}
    models = genai_aio.models if aio else genai_client.models
    stream = await maybe_await(models.generate_content_stream(**kwargs(**headers)))
    error = aiohttp.ClientPayloadError if aio else httpx2.RemoteProtocolError
    read = await leave(instrumented, stream, end, aio=aio, error=error)
    if end == "close":
        assert read[0].text == "one"
        with pytest.raises(StopAsyncIteration if aio else StopIteration):  # closed for good
            await stream.__anext__() if aio else next(stream)
    del stream
    span = one_call(instrumented, outcome=ENDS[end])
    if end in ("break_and_drop", "close"):
        check_usage(span, output=6, reasoning=3)  # the usage reported so far: 3 of 10 candidates + 3 thoughts
    elif end == "gc":
        assert span.attributes[names.ATTR_USAGE_SOURCE] == "missing"  # the request was never sent


@pytest.mark.parametrize("aio_client", [False, True])
async def test_http_error_surfaces_on_iteration(
    instrumented, genai_client, genai_aio, one_call, aio_client
) -> None:
    with pytest.raises(genai_errors.ClientError) as caught:
        if aio_client:
            _ = [
                c
                async for c in await genai_aio.models.generate_content_stream(
                    **kwargs(**{"x-fake-status": "400"})
                )
            ]
        else:
            _ = list(genai_client.models.generate_content_stream(**kwargs(**{"x-fake-status": "400"})))
    assert caught.value.code == 400
    one_call(instrumented, "error")
    assert instrumented.outcome_label() == "error"


def test_malformed_chunk_fails_the_call(instrumented, genai_client, one_call) -> None:
    with pytest.raises(genai_errors.UnknownApiResponseError):
        _ = list(genai_client.models.generate_content_stream(**kwargs(**{"x-fake-malformed": "1"})))
    one_call(instrumented, "error")


def test_stream_without_usage_is_missing(instrumented, genai_client, one_call) -> None:
    assert "".join(
        c.text for c in genai_client.models.generate_content_stream(**kwargs(**{"x-fake-no-usage": "1"}))
    )
    assert one_call(instrumented).attributes[names.ATTR_USAGE_SOURCE] == "missing"


def test_abandoned_stream_inside_a_task_run(instrumented, genai_client) -> None:
    with otel_tokens.task("summaries") as run:
        stream = genai_client.models.generate_content_stream(**kwargs())
        assert next(stream).text == "one"
        del stream
        run.mark_used()
    gc.collect()
    assert instrumented.total(names.OUTCOME_CALLS.name, outcome="used", task="summaries") == 1


# --- the stream state on the SDK's own chunk types -----------------------------------------------------


def chunk(response_id, prompt, candidates, *, finish=None, token=None):
    candidate = types.Candidate(
        content=types.Content(role="model", parts=[types.Part(text="x")]),
        finish_reason=finish,
        continuation_token=token,
    )
    usage = types.GenerateContentResponseUsageMetadata(
        prompt_token_count=prompt, candidates_token_count=candidates
    )
    return types.GenerateContentResponse(
        candidates=[candidate], usage_metadata=usage, response_id=response_id, model_version=MODEL
    )


def usage_of(*chunks):
    state = GenerateStreamState(Request("gcp.gemini", "generate_content", MODEL, stream=True))
    for c in chunks:
        state.on_chunk(c)
    usage = state.response().usage
    return usage.input_tokens, usage.output_tokens


def test_function_calling_rounds_are_summed() -> None:
    # A round ends with a finish reason; the next request's usage starts again from zero.
    first = (chunk("r1", 10, 2), chunk("r1", 10, 4, finish=types.FinishReason.STOP))
    second = (chunk("r2", 16, 3), chunk("r2", 16, 5, finish=types.FinishReason.STOP))
    assert usage_of(*first, *second) == (26, 9)


def test_continuation_hops_are_not_double_counted() -> None:
    # The SDK resumes a cut-off generation with the continuation token and keeps the usage
    # cumulative across the hops (it also clears the intermediate finish reason).
    first = (chunk("h1", 10, 2), chunk("h1", 10, 4, token=b"checkpoint"))
    resumed = (chunk("h2", 20, 7), chunk("h2", 20, 9, finish=types.FinishReason.STOP))
    assert usage_of(*first, *resumed) == (20, 9)
