"""Exercise the fake LLM server with the real openai / anthropic SDK clients (no mocks)."""

from __future__ import annotations

import base64
import http.client
import json
import struct
import time
from collections.abc import Iterator

import anthropic
import httpx2
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from pydantic import BaseModel

from otel_tokens.demo.fake_llm import FakeLLMServer

MSGS: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "one two three"},
]  # 5 words
DEFAULT_TEXT = "Hello from the fake model."  # 5 words


@pytest.fixture(autouse=True)
def _no_anthropic_otel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_OPEN_TELEMETRY", "false")


@pytest.fixture
def srv() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def oai(srv: FakeLLMServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=srv.openai_base_url, api_key="test", max_retries=0) as client:
        yield client


@pytest.fixture
def anth(srv: FakeLLMServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=srv.anthropic_base_url, api_key="test", max_retries=0) as client:
        yield client


USAGE_HEADERS = {
    "x-fake-input-tokens": "100",
    "x-fake-output-tokens": "7",
    "x-fake-cached-tokens": "40",
    "x-fake-reasoning-tokens": "3",
    "x-fake-cache-write-tokens": "11",
}


# --------------------------------------------------------------------------- server basics


def test_urls_and_lifecycle() -> None:
    server = FakeLLMServer()
    with pytest.raises(RuntimeError):
        _ = server.url
    assert server.start() is server
    try:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.openai_base_url == server.url + "/v1"
        assert server.anthropic_base_url == server.url
    finally:
        server.stop()
    server.stop()  # idempotent


def test_keep_alive_content_length_and_chunked(srv: FakeLLMServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    body = json.dumps({"model": "m", "messages": MSGS})
    for _ in range(2):  # same socket twice: needs HTTP/1.1 keep-alive and an exact Content-Length
        conn.request("POST", "/v1/chat/completions", body, {"content-type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.version == 11
        assert int(resp.headers["content-length"]) > 0
        assert json.loads(resp.read())["choices"][0]["message"]["content"] == DEFAULT_TEXT
    conn.request("POST", "/v1/chat/completions", json.dumps({"model": "m", "messages": MSGS, "stream": True}))
    resp = conn.getresponse()
    assert resp.headers["transfer-encoding"] == "chunked"
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.read().decode().endswith("data: [DONE]\n\n")
    conn.request("POST", "/v1/embeddings", json.dumps({"model": "m", "input": "x"}))  # still reusable
    assert conn.getresponse().status == 200
    conn.close()


def test_stop_is_fast_with_idle_keep_alive_connection() -> None:
    server = FakeLLMServer().start()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("POST", "/v1/messages/count_tokens", json.dumps({"messages": []}))
    conn.getresponse().read()
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1.0
    conn.close()


def test_requests_are_recorded_and_cleared(srv: FakeLLMServer, oai: openai.OpenAI) -> None:
    oai.chat.completions.create(model="gpt-4o", messages=MSGS, extra_headers={"X-Fake-Output": "hi"})
    oai.embeddings.create(model="emb", input="x")
    assert [(r.method, r.path) for r in srv.requests] == [
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/embeddings"),
    ]
    first = srv.requests[0]
    assert first.body == {"model": "gpt-4o", "messages": MSGS}
    assert first.headers["x-fake-output"] == "hi"
    assert first.headers["authorization"] == "Bearer test"
    assert all(key == key.lower() for key in first.headers)
    srv.clear()
    assert srv.requests == []


def test_latency_and_chunk_delay() -> None:
    with (
        FakeLLMServer(latency_s=0.2, chunk_delay_s=0.05) as server,
        openai.OpenAI(base_url=server.openai_base_url, api_key="test", max_retries=0) as client,
    ):
        started = time.monotonic()
        client.chat.completions.create(model="m", messages=MSGS)
        assert time.monotonic() - started >= 0.2
        started = time.monotonic()
        chunks = list(client.chat.completions.create(model="m", messages=MSGS, stream=True))
        assert len(chunks) == 5
        assert time.monotonic() - started >= 0.2 + 4 * 0.05


# --------------------------------------------------------------------------- OpenAI chat completions


def test_chat_create_usage_model_and_ids(oai: openai.OpenAI) -> None:
    resp = oai.chat.completions.create(model="gpt-4o-mini", messages=MSGS, extra_headers=USAGE_HEADERS)
    assert resp.id == "chatcmpl-fake-1"
    assert resp.model == "gpt-4o-mini-2026-01-01"
    assert resp.choices[0].message.content == DEFAULT_TEXT
    assert resp.choices[0].finish_reason == "stop"
    usage = resp.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (100, 7, 107)
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 40
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 3
    assert oai.chat.completions.create(model="gpt-4o-mini", messages=MSGS).id == "chatcmpl-fake-2"


def test_chat_defaults_count_words(oai: openai.OpenAI) -> None:
    resp = oai.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": [{"type": "text", "text": "a b c d"}]}],
        extra_headers={"x-fake-output": "one two", "x-fake-response-model": "snap-1"},
    )
    assert resp.model == "snap-1"
    assert resp.choices[0].message.content == "one two"
    assert resp.usage is not None
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens, resp.usage.total_tokens) == (4, 2, 6)
    assert resp.usage.prompt_tokens_details is not None
    assert resp.usage.prompt_tokens_details.cached_tokens == 0


def test_chat_n_choices(oai: openai.OpenAI) -> None:
    resp = oai.chat.completions.create(model="m", messages=MSGS, n=3)
    assert [c.index for c in resp.choices] == [0, 1, 2]
    assert {c.message.content for c in resp.choices} == {DEFAULT_TEXT}
    assert resp.usage is not None
    assert resp.usage.completion_tokens == 15  # 5 words x 3 choices


def test_chat_no_usage(oai: openai.OpenAI) -> None:
    resp = oai.chat.completions.create(model="m", messages=MSGS, extra_headers={"x-fake-no-usage": "1"})
    assert resp.usage is None


def test_chat_stream_without_include_usage(oai: openai.OpenAI) -> None:
    chunks = list(
        oai.chat.completions.create(
            model="m", messages=MSGS, stream=True, extra_headers={"x-fake-chunks": "3"}
        )
    )
    assert len(chunks) == 3
    assert all(c.usage is None and len(c.choices) == 1 for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == DEFAULT_TEXT
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks] == [None, None, "stop"]
    assert {c.id for c in chunks} == {"chatcmpl-fake-1"}
    assert chunks[0].model == "m-2026-01-01"


def test_chat_stream_with_include_usage(oai: openai.OpenAI) -> None:
    chunks = list(
        oai.chat.completions.create(
            model="m",
            messages=MSGS,
            stream=True,
            stream_options={"include_usage": True},
            extra_headers={"x-fake-cached-tokens": "2", "x-fake-reasoning-tokens": "1"},
        )
    )
    assert len(chunks) == 6  # one per output word + the usage-only chunk
    *content, last = chunks
    assert all(c.usage is None and c.choices for c in content)
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (5, 5, 10)
    assert last.usage.prompt_tokens_details is not None
    assert last.usage.prompt_tokens_details.cached_tokens == 2
    assert last.usage.completion_tokens_details is not None
    assert last.usage.completion_tokens_details.reasoning_tokens == 1


def test_chat_stream_no_usage_even_if_requested(oai: openai.OpenAI) -> None:
    chunks = list(
        oai.chat.completions.create(
            model="m",
            messages=MSGS,
            stream=True,
            stream_options={"include_usage": True},
            extra_headers={"x-fake-no-usage": "1"},
        )
    )
    assert len(chunks) == 5
    assert all(c.usage is None and c.choices for c in chunks)


def test_chat_stream_more_chunks_than_words(oai: openai.OpenAI) -> None:
    chunks = list(
        oai.chat.completions.create(
            model="m",
            messages=MSGS,
            stream=True,
            extra_headers={"x-fake-chunks": "9", "x-fake-output": "ab cd"},
        )
    )
    assert len(chunks) == 9
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "ab cd"


class Weather(BaseModel):
    city: str
    temp: int


def test_chat_parse_pydantic(srv: FakeLLMServer, oai: openai.OpenAI) -> None:
    resp = oai.chat.completions.parse(
        model="gpt-4o",
        messages=MSGS,
        response_format=Weather,
        extra_headers={"x-fake-output": '{"city": "Paris", "temp": 21}'},
    )
    assert resp.choices[0].message.parsed == Weather(city="Paris", temp=21)
    assert resp.usage is not None
    assert resp.usage.completion_tokens == 4
    assert srv.requests[0].body["response_format"]["type"] == "json_schema"


def test_chat_stream_helper(oai: openai.OpenAI) -> None:
    with oai.chat.completions.stream(
        model="gpt-4o",
        messages=MSGS,
        stream_options={"include_usage": True},
        extra_headers={"x-fake-output-tokens": "42"},
    ) as stream:
        deltas = [e.delta for e in stream if e.type == "content.delta"]
    final = stream.get_final_completion()
    assert "".join(deltas) == DEFAULT_TEXT
    assert final.choices[0].message.content == DEFAULT_TEXT
    assert final.usage is not None
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (5, 42)


def test_chat_tool_call(oai: openai.OpenAI) -> None:
    resp = oai.chat.completions.create(
        model="m", messages=MSGS, extra_headers={"x-fake-tool-call": "get_weather"}
    )
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"x": 1})
    assert resp.usage is not None
    assert resp.usage.completion_tokens == 2  # words of '{"x": 1}'


def test_chat_tool_call_stream_helper(oai: openai.OpenAI) -> None:
    with oai.chat.completions.stream(
        model="m", messages=MSGS, extra_headers={"x-fake-tool-call": "get_weather", "x-fake-chunks": "3"}
    ) as stream:
        types = [e.type for e in stream]
    assert types.count("tool_calls.function.arguments.delta") == 3
    assert "tool_calls.function.arguments.done" in types
    final = stream.get_final_completion()
    assert final.choices[0].finish_reason == "tool_calls"
    calls = final.choices[0].message.tool_calls
    assert calls is not None
    assert (calls[0].function.name, calls[0].function.arguments) == ("get_weather", '{"x": 1}')


# --------------------------------------------------------------------------- OpenAI responses


def test_responses_create(oai: openai.OpenAI) -> None:
    resp = oai.responses.create(model="gpt-5", input="a b c d", extra_headers=USAGE_HEADERS)
    assert resp.id == "resp_fake1"
    assert resp.status == "completed"
    assert resp.model == "gpt-5-2026-01-01"
    assert resp.output_text == DEFAULT_TEXT
    usage = resp.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (100, 7, 107)
    assert usage.input_tokens_details.cached_tokens == 40
    assert usage.output_tokens_details.reasoning_tokens == 3


def test_responses_default_counts_and_no_usage(oai: openai.OpenAI) -> None:
    resp = oai.responses.create(
        model="m", input=[{"role": "user", "content": [{"type": "input_text", "text": "a b c"}]}]
    )
    assert resp.usage is not None
    assert (resp.usage.input_tokens, resp.usage.output_tokens) == (3, 5)
    assert oai.responses.create(model="m", input="x", extra_headers={"x-fake-no-usage": "1"}).usage is None


def test_responses_create_stream(oai: openai.OpenAI) -> None:
    events = list(
        oai.responses.create(model="gpt-5", input="a b", stream=True, extra_headers={"x-fake-chunks": "2"})
    )
    assert [e.type for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    last = events[-1]
    assert last.type == "response.completed"
    assert last.response.usage is not None
    assert (last.response.usage.input_tokens, last.response.usage.output_tokens) == (2, 5)
    assert last.response.output_text == DEFAULT_TEXT


def test_responses_stream_helper(oai: openai.OpenAI) -> None:
    with oai.responses.stream(
        model="gpt-5", input="a b", extra_headers={"x-fake-cached-tokens": "1"}
    ) as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
    final = stream.get_final_response()
    assert "".join(deltas) == DEFAULT_TEXT
    assert final.output_text == DEFAULT_TEXT
    assert final.usage is not None
    assert (final.usage.input_tokens, final.usage.output_tokens, final.usage.total_tokens) == (2, 5, 7)
    assert final.usage.input_tokens_details.cached_tokens == 1


def test_responses_tool_call(oai: openai.OpenAI) -> None:
    resp = oai.responses.create(model="m", input="x", extra_headers={"x-fake-tool-call": "lookup"})
    item = resp.output[0]
    assert item.type == "function_call"
    assert (item.name, item.arguments) == ("lookup", '{"x": 1}')
    with oai.responses.stream(model="m", input="x", extra_headers={"x-fake-tool-call": "lookup"}) as stream:
        types = [e.type for e in stream]
    assert "response.function_call_arguments.done" in types
    final_item = stream.get_final_response().output[0]
    assert final_item.type == "function_call"
    assert final_item.arguments == '{"x": 1}'


# --------------------------------------------------------------------------- OpenAI embeddings / legacy


def test_embeddings_default_base64_and_float(srv: FakeLLMServer, oai: openai.OpenAI) -> None:
    resp = oai.embeddings.create(model="text-embedding-3-small", input=["a b", "c"])
    assert srv.requests[0].body["encoding_format"] == "base64"  # the SDK's default
    assert [d.index for d in resp.data] == [0, 1]
    assert all(len(d.embedding) == 8 for d in resp.data)
    assert resp.usage.prompt_tokens == 3
    assert resp.usage.total_tokens == 3
    assert resp.model == "text-embedding-3-small-2026-01-01"
    floats = oai.embeddings.create(
        model="text-embedding-3-small", input=["a b", "c"], encoding_format="float"
    )
    assert [d.embedding for d in floats.data] == [d.embedding for d in resp.data]
    assert resp.data[0].embedding != resp.data[1].embedding
    raw = oai.embeddings.create(model="e", input="a b", encoding_format="base64").data[0].embedding
    assert isinstance(raw, str)
    assert list(struct.unpack("<8f", base64.b64decode(raw))) == resp.data[0].embedding


def test_legacy_completions(oai: openai.OpenAI) -> None:
    resp = oai.completions.create(
        model="gpt-3.5-turbo-instruct", prompt="x y z", extra_headers={"x-fake-output": "ok"}
    )
    assert resp.id == "cmpl-fake-1"
    assert resp.choices[0].text == "ok"
    assert resp.usage is not None
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens, resp.usage.total_tokens) == (3, 1, 4)

    plain = list(oai.completions.create(model="m", prompt="x", stream=True))
    assert len(plain) == 5
    assert all(c.usage is None for c in plain)
    assert "".join(c.choices[0].text for c in plain) == DEFAULT_TEXT
    assert plain[-1].choices[0].finish_reason == "stop"

    chunks = list(
        oai.completions.create(model="m", prompt="x", stream=True, stream_options={"include_usage": True})
    )
    assert len(chunks) == 6
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (1, 5)


# --------------------------------------------------------------------------- Anthropic


def test_anthropic_create(anth: anthropic.Anthropic) -> None:
    msg = anth.messages.create(
        model="claude-fake",
        max_tokens=64,
        system="ignored system words",
        messages=[{"role": "user", "content": "hello there"}],
        extra_headers=USAGE_HEADERS,
    )
    assert msg.id == "msg_fake1"
    assert msg.model == "claude-fake-2026-01-01"
    assert msg.stop_reason == "end_turn"
    assert msg.content[0].type == "text"
    assert msg.content[0].text == DEFAULT_TEXT
    usage = msg.usage
    assert (usage.input_tokens, usage.output_tokens) == (100, 7)  # input_tokens = uncached input
    assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (40, 11)
    assert usage.output_tokens_details is not None
    assert usage.output_tokens_details.thinking_tokens == 3


def test_anthropic_default_counts(anth: anthropic.Anthropic) -> None:
    msg = anth.messages.create(
        model="claude",
        max_tokens=64,
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "hello there"}]},
            {"role": "assistant", "content": "hi"},
            {"role": "user", "content": "again"},
        ],
    )
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (4, 5)
    assert (msg.usage.cache_read_input_tokens, msg.usage.cache_creation_input_tokens) == (0, 0)
    assert msg.usage.output_tokens_details is None


def test_anthropic_create_stream(anth: anthropic.Anthropic) -> None:
    events = list(
        anth.messages.create(
            model="claude",
            max_tokens=64,
            messages=[{"role": "user", "content": "hello there"}],
            stream=True,
            extra_headers={"x-fake-cached-tokens": "5", "x-fake-chunks": "2"},
        )
    )
    assert [e.type for e in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start, delta = events[0], events[-2]
    assert start.type == "message_start"
    assert (start.message.usage.input_tokens, start.message.usage.output_tokens) == (2, 1)
    assert start.message.usage.cache_read_input_tokens == 5
    assert delta.type == "message_delta"
    assert delta.usage.output_tokens == 5
    assert delta.delta.stop_reason == "end_turn"


def test_anthropic_stream_helper(anth: anthropic.Anthropic) -> None:
    with anth.messages.stream(
        model="claude",
        max_tokens=64,
        messages=[{"role": "user", "content": "hello there"}],
        extra_headers=USAGE_HEADERS,
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == DEFAULT_TEXT
    assert final.content[0].type == "text"
    assert final.content[0].text == DEFAULT_TEXT
    assert (final.usage.input_tokens, final.usage.output_tokens) == (100, 7)
    assert (final.usage.cache_read_input_tokens, final.usage.cache_creation_input_tokens) == (40, 11)
    assert final.usage.output_tokens_details is not None
    assert final.usage.output_tokens_details.thinking_tokens == 3


def test_anthropic_tool_use(anth: anthropic.Anthropic) -> None:
    headers = {"x-fake-tool-call": "get_weather"}
    msg = anth.messages.create(
        model="c", max_tokens=8, messages=[{"role": "user", "content": "x"}], extra_headers=headers
    )
    assert msg.stop_reason == "tool_use"
    block = msg.content[0]
    assert block.type == "tool_use"
    assert (block.id, block.name, block.input) == ("toolu_fake1", "get_weather", {"x": 1})
    with anth.messages.stream(
        model="c", max_tokens=8, messages=[{"role": "user", "content": "x"}], extra_headers=headers
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert final.content[0].type == "tool_use"
    assert final.content[0].input == {"x": 1}
    assert final.usage.output_tokens == 2


def test_anthropic_no_usage(anth: anthropic.Anthropic) -> None:
    headers = {"x-fake-no-usage": "1"}
    msgs: list[anthropic.types.MessageParam] = [{"role": "user", "content": "x"}]
    assert anth.messages.create(model="c", max_tokens=8, messages=msgs, extra_headers=headers).usage is None
    events = list(
        anth.messages.create(model="c", max_tokens=8, messages=msgs, stream=True, extra_headers=headers)
    )
    start, delta = events[0], events[-2]
    assert start.type == "message_start"
    assert start.message.usage is None
    assert delta.type == "message_delta"
    assert delta.usage is None


def test_anthropic_count_tokens(anth: anthropic.Anthropic) -> None:
    msgs: list[anthropic.types.MessageParam] = [{"role": "user", "content": "a b c"}]
    assert anth.messages.count_tokens(model="claude", messages=msgs).input_tokens == 3
    counted = anth.messages.count_tokens(
        model="claude", messages=msgs, extra_headers={"x-fake-input-tokens": "77"}
    )
    assert counted.input_tokens == 77


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "exc", "err_type"),
    [
        (400, openai.BadRequestError, "invalid_request_error"),
        (401, openai.AuthenticationError, "invalid_request_error"),
        (404, openai.NotFoundError, "invalid_request_error"),
        (429, openai.RateLimitError, "requests"),
        (500, openai.InternalServerError, "server_error"),
    ],
)
def test_openai_error_status(
    oai: openai.OpenAI, status: int, exc: type[openai.APIStatusError], err_type: str
) -> None:
    with pytest.raises(exc) as info:
        oai.chat.completions.create(model="m", messages=MSGS, extra_headers={"x-fake-status": str(status)})
    assert info.value.status_code == status
    assert isinstance(info.value.body, dict)
    assert set(info.value.body) == {"message", "type", "param", "code"}
    assert info.value.body["type"] == err_type


@pytest.mark.parametrize(
    ("status", "exc", "err_type"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
    ],
)
def test_anthropic_error_status(
    anth: anthropic.Anthropic, status: int, exc: type[anthropic.APIStatusError], err_type: str
) -> None:
    with pytest.raises(exc) as info:
        anth.messages.create(
            model="c",
            max_tokens=8,
            messages=[{"role": "user", "content": "x"}],
            extra_headers={"x-fake-status": str(status)},
        )
    assert info.value.status_code == status
    assert info.value.body == {
        "type": "error",
        "error": {"type": err_type, "message": f"Fake error {status} (x-fake-status)"},
    }


def test_error_status_on_streams(oai: openai.OpenAI, anth: anthropic.Anthropic) -> None:
    with pytest.raises(openai.RateLimitError):
        oai.chat.completions.create(
            model="m", messages=MSGS, stream=True, extra_headers={"x-fake-status": "429"}
        )
    with (
        pytest.raises(anthropic.InternalServerError),
        anth.messages.stream(
            model="c",
            max_tokens=8,
            messages=[{"role": "user", "content": "x"}],
            extra_headers={"x-fake-status": "503"},
        ) as stream,
    ):
        stream.get_final_message()


def test_unknown_endpoint_is_provider_shaped_404(oai: openai.OpenAI, anth: anthropic.Anthropic) -> None:
    with pytest.raises(openai.NotFoundError) as oai_info:
        oai.models.list()
    assert isinstance(oai_info.value.body, dict)
    assert oai_info.value.body["type"] == "invalid_request_error"
    with pytest.raises(anthropic.NotFoundError) as anth_info:
        anth.models.list()
    assert isinstance(anth_info.value.body, dict)
    assert anth_info.value.body["type"] == "error"
    assert anth_info.value.body["error"]["type"] == "not_found_error"


def test_stream_error_after(oai: openai.OpenAI, anth: anthropic.Anthropic) -> None:
    headers = {"x-fake-stream-error-after": "2"}
    received: list[openai.types.chat.ChatCompletionChunk] = []
    with pytest.raises(openai.APIConnectionError):
        received.extend(
            oai.chat.completions.create(model="m", messages=MSGS, stream=True, extra_headers=headers)
        )
    assert len(received) == 2

    deltas: list[str] = []
    with (
        pytest.raises(openai.APIConnectionError),
        oai.responses.stream(model="m", input="x", extra_headers=headers) as s,
    ):
        deltas.extend(e.delta for e in s if e.type == "response.output_text.delta")
    assert deltas == ["Hello", " from"]

    # The anthropic SDK surfaces the transport error unwrapped.
    text: list[str] = []
    with (
        pytest.raises((anthropic.APIConnectionError, httpx2.TransportError)),
        anth.messages.stream(
            model="c", max_tokens=8, messages=[{"role": "user", "content": "x"}], extra_headers=headers
        ) as stream,
    ):
        text.extend(stream.text_stream)
    assert text == ["Hello", " from"]


def test_stream_error_after_all_chunks_still_drops(oai: openai.OpenAI) -> None:
    received: list[openai.types.chat.ChatCompletionChunk] = []
    with pytest.raises(openai.APIConnectionError):
        received.extend(
            oai.chat.completions.create(
                model="m",
                messages=MSGS,
                stream=True,
                stream_options={"include_usage": True},
                extra_headers={"x-fake-stream-error-after": "99"},
            )
        )
    assert len(received) == 5  # every content chunk, but no usage chunk


def test_malformed(oai: openai.OpenAI, anth: anthropic.Anthropic) -> None:
    headers = {"x-fake-malformed": "1"}
    # Both SDKs surface the JSON decode error as-is.
    with pytest.raises(json.JSONDecodeError):
        oai.chat.completions.create(model="m", messages=MSGS, extra_headers=headers)
    with pytest.raises(json.JSONDecodeError):
        anth.messages.create(
            model="c", max_tokens=8, messages=[{"role": "user", "content": "x"}], extra_headers=headers
        )

    received: list[openai.types.chat.ChatCompletionChunk] = []
    with pytest.raises(json.JSONDecodeError):
        received.extend(
            oai.chat.completions.create(model="m", messages=MSGS, stream=True, extra_headers=headers)
        )
    assert len(received) == 1  # the malformed line follows the first content chunk

    events: list[str] = []
    with pytest.raises(json.JSONDecodeError):
        for event in anth.messages.create(
            model="c",
            max_tokens=8,
            messages=[{"role": "user", "content": "x"}],
            stream=True,
            extra_headers=headers,
        ):
            events.append(event.type)
    assert events == ["message_start", "content_block_start", "content_block_delta"]


# --------------------------------------------------------------------------- async clients


@pytest.mark.asyncio
async def test_async_openai(srv: FakeLLMServer) -> None:
    async with openai.AsyncOpenAI(base_url=srv.openai_base_url, api_key="test", max_retries=0) as client:
        resp = await client.chat.completions.create(model="m", messages=MSGS, extra_headers=USAGE_HEADERS)
        assert resp.usage is not None
        assert (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (100, 7)

        stream = await client.chat.completions.create(
            model="m", messages=MSGS, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
        assert len(chunks) == 6
        assert chunks[-1].usage is not None
        assert chunks[-1].usage.total_tokens == 10

        async with client.chat.completions.stream(model="m", messages=MSGS) as chat_stream:
            final_chat = await chat_stream.get_final_completion()
        assert final_chat.choices[0].message.content == DEFAULT_TEXT

        async with client.responses.stream(model="m", input="a b") as resp_stream:
            deltas = [e.delta async for e in resp_stream if e.type == "response.output_text.delta"]
            final = await resp_stream.get_final_response()
        assert "".join(deltas) == DEFAULT_TEXT
        assert final.usage is not None
        assert (final.usage.input_tokens, final.usage.output_tokens) == (2, 5)

        emb = await client.embeddings.create(model="e", input="a b c")
        assert emb.usage.prompt_tokens == 3
        assert len(emb.data[0].embedding) == 8

        with pytest.raises(openai.APIConnectionError):
            broken = await client.chat.completions.create(
                model="m", messages=MSGS, stream=True, extra_headers={"x-fake-stream-error-after": "1"}
            )
            async for _ in broken:
                pass
    assert [r.path for r in srv.requests].count("/v1/chat/completions") == 4


@pytest.mark.asyncio
async def test_async_anthropic(srv: FakeLLMServer) -> None:
    async with anthropic.AsyncAnthropic(
        base_url=srv.anthropic_base_url, api_key="test", max_retries=0
    ) as client:
        msgs: list[anthropic.types.MessageParam] = [{"role": "user", "content": "hello there"}]
        msg = await client.messages.create(model="c", max_tokens=8, messages=msgs)
        assert (msg.usage.input_tokens, msg.usage.output_tokens) == (2, 5)

        async with client.messages.stream(
            model="c", max_tokens=8, messages=msgs, extra_headers={"x-fake-cache-write-tokens": "9"}
        ) as stream:
            text = "".join([t async for t in stream.text_stream])
            final = await stream.get_final_message()
        assert text == DEFAULT_TEXT
        assert (final.usage.input_tokens, final.usage.output_tokens) == (2, 5)
        assert final.usage.cache_creation_input_tokens == 9

        counted = await client.messages.count_tokens(model="c", messages=msgs)
        assert counted.input_tokens == 2

        with pytest.raises(anthropic.RateLimitError):
            await client.messages.create(
                model="c", max_tokens=8, messages=msgs, extra_headers={"x-fake-status": "429"}
            )
