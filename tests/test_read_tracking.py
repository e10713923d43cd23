"""The read-tracking proxy is transparent on real SDK objects, and knows what counts as a read.

A read shows up as the outcome at release: ``unmarked`` (read) or ``unread``.
"""

from __future__ import annotations

import copy
import gc
import json
import pickle

import openai
import pytest
from openai.types import Completion, CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response as ResponsesResponse

import otel_tokens
from otel_tokens import names
from otel_tokens.instrumentation._proxies import TrackedResponse

HEADERS = {"x-fake-input-tokens": "100", "x-fake-output-tokens": "20", "x-fake-output": "one two three"}
MSGS = [{"role": "user", "content": "hello"}]


def make_chat(client):
    return client.chat.completions.create(model="gpt-4o-mini", messages=MSGS, extra_headers=HEADERS)


def make_responses(client):
    return client.responses.create(model="gpt-4o-mini", input="hello", extra_headers=HEADERS)


def make_embedding(client):
    return client.embeddings.create(model="text-embedding-3-small", input="hello", extra_headers=HEADERS)


def make_completion(client):
    return client.completions.create(model="gpt-3.5-turbo-instruct", prompt="hello", extra_headers=HEADERS)


KINDS = {
    "chat": (make_chat, ChatCompletion),
    "responses": (make_responses, ResponsesResponse),
    "embeddings": (make_embedding, CreateEmbeddingResponse),
    "completions": (make_completion, Completion),
}


# --- transparency --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_proxy_behaves_like_the_sdk_object(instrumented, openai_client, kind) -> None:
    make, sdk_type = KINDS[kind]
    proxy = make(openai_client)
    plain = proxy.__wrapped__
    assert type(plain) is sdk_type
    assert isinstance(proxy, sdk_type)
    assert isinstance(proxy, openai.BaseModel)
    assert proxy.__class__ is sdk_type
    assert proxy == plain
    assert plain == proxy
    assert getattr(proxy, "id", None) == getattr(plain, "id", None)  # embeddings have no id
    assert proxy.model == plain.model
    assert proxy.usage == plain.usage
    assert proxy.model_dump() == plain.model_dump()
    assert proxy.model_dump_json() == plain.model_dump_json()
    assert proxy.to_dict() == plain.to_dict()
    assert json.loads(proxy.to_json()) == json.loads(plain.to_json())
    assert dict(proxy) == dict(plain)  # iteration over fields
    assert repr(proxy) == repr(plain)
    assert str(proxy) == str(plain)
    assert f"{proxy}" == f"{plain}"


def test_documented_limit_type_is_the_proxy_class(instrumented, openai_client) -> None:
    reply = make_chat(openai_client)
    assert type(reply) is not ChatCompletion  # use isinstance(), as with any wrapt proxy
    assert issubclass(type(reply), TrackedResponse)


def test_copies_are_plain_equal_sdk_objects_and_count_as_reads(instrumented, openai_client) -> None:
    reply = make_chat(openai_client)
    shallow, deep = copy.copy(reply), copy.deepcopy(reply)
    assert type(shallow) is ChatCompletion
    assert type(deep) is ChatCompletion
    assert shallow == reply
    assert deep == reply
    assert deep.choices is not reply.__wrapped__.choices
    del reply
    assert instrumented.outcome_label() == "unmarked"


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_documented_limit_pickles_as_the_plain_sdk_object(instrumented, openai_client, protocol) -> None:
    reply = make_chat(openai_client)
    restored = pickle.loads(pickle.dumps(reply, protocol=protocol))
    assert type(restored) is ChatCompletion
    assert restored == reply.__wrapped__
    assert restored.choices[0].message.content == "one two three"
    del reply
    assert instrumented.outcome_label() == "unmarked"  # pickling reveals the content


def test_proxy_attribute_writes_reach_the_sdk_object(instrumented, openai_client) -> None:
    reply = make_chat(openai_client)
    reply.choices = []
    reply.system_fingerprint = "fp"
    assert reply.__wrapped__.choices == []
    assert reply.__wrapped__.system_fingerprint == "fp"


def test_with_track_reads_off_the_sdk_object_comes_back_unwrapped(instrument_with, openai_client) -> None:
    tel = instrument_with(track_reads=False)
    reply = make_chat(openai_client)
    assert type(reply) is ChatCompletion
    del reply
    gc.collect()
    assert tel.outcome_events() == []  # no release signal without the proxy: TTL or shutdown decides
    otel_tokens.uninstrument()
    assert tel.total(names.OUTCOME_CALLS.name, outcome="unmarked") == 1


# --- which accesses are reads --------------------------------------------------------------------

READS = {
    "chat.choices": ("chat", lambda r: r.choices),
    "chat.model_dump": ("chat", lambda r: r.model_dump()),
    "chat.model_dump_json": ("chat", lambda r: r.model_dump_json()),
    "chat.to_dict": ("chat", lambda r: r.to_dict()),
    "chat.to_json": ("chat", lambda r: r.to_json()),
    "chat.model_copy": ("chat", lambda r: r.model_copy()),
    "chat.iter": ("chat", lambda r: list(r)),
    "chat.str": ("chat", str),
    "chat.repr": ("chat", repr),
    "chat.getattr": ("chat", lambda r: getattr(r, "choices")),  # noqa: B009
    "responses.output_text": ("responses", lambda r: r.output_text),
    "responses.output": ("responses", lambda r: r.output),
    "embeddings.data": ("embeddings", lambda r: r.data),
    "completions.choices": ("completions", lambda r: r.choices),
}
NOT_READS = {
    "chat.id": ("chat", lambda r: r.id),
    "chat.usage": ("chat", lambda r: r.usage.total_tokens),
    "chat.model": ("chat", lambda r: r.model),
    "chat.created+object": ("chat", lambda r: (r.created, r.object)),
    "chat.isinstance+eq": ("chat", lambda r: isinstance(r, ChatCompletion) and r == r.__wrapped__),
    "chat.bool": ("chat", bool),
    "responses.status": ("responses", lambda r: (r.id, r.status, r.usage, r.model)),
    "embeddings.usage": ("embeddings", lambda r: (r.usage, r.model)),
}


@pytest.mark.parametrize("case", READS)
def test_content_access_counts_as_a_read(instrumented, openai_client, case) -> None:
    kind, access = READS[case]
    reply = KINDS[kind][0](openai_client)
    access(reply)
    del reply
    assert instrumented.outcome_label() == "unmarked"


@pytest.mark.parametrize("case", NOT_READS)
def test_metadata_access_is_not_a_read(instrumented, openai_client, case) -> None:
    kind, access = NOT_READS[case]
    reply = KINDS[kind][0](openai_client)
    access(reply)
    del reply
    assert instrumented.outcome_label() == "unread"


# --- streams -------------------------------------------------------------------------------------


def make_stream(client, **kwargs):
    return client.chat.completions.create(
        model="gpt-4o-mini", messages=MSGS, extra_headers=HEADERS, stream=True, **kwargs
    )


def test_sync_stream_is_transparent(instrumented, openai_client) -> None:
    with make_stream(openai_client) as stream:
        assert isinstance(stream, openai.Stream)
        assert stream.response.status_code == 200  # metadata: not a read
        assert iter(stream) is stream
        chunks = list(stream)
    assert all(type(c) is ChatCompletionChunk for c in chunks)
    # otel-tokens asked for the usage chunk; the caller did not, so it never sees it.
    assert all(c.choices and c.usage is None for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "one two three"
    assert repr(stream) == repr(stream.__wrapped__)
    assert instrumented.total(names.TOKENS.name) == 120  # usage still recorded from the hidden chunk
    del stream
    assert instrumented.outcome_label() == "unmarked"


def test_stream_with_caller_usage_option_keeps_the_usage_chunk(instrumented, openai_client) -> None:
    chunks = list(make_stream(openai_client, stream_options={"include_usage": True}))
    assert chunks[-1].choices == []
    assert chunks[-1].usage.total_tokens == 120


def test_stream_closed_unread_is_unread(instrumented, openai_client) -> None:
    stream = make_stream(openai_client)
    stream.close()
    assert len(instrumented.finished_spans()) == 1  # the span ends on close()
    del stream
    assert instrumented.outcome_label() == "unread"


def test_stream_with_block_without_iterating_is_unread(instrumented, openai_client) -> None:
    with make_stream(openai_client) as stream:
        assert stream.response.headers["content-type"].startswith("text/event-stream")
    assert len(instrumented.finished_spans()) == 1
    del stream
    assert instrumented.outcome_label() == "unread"


async def test_async_stream_is_transparent(instrumented, async_openai_client) -> None:
    stream = await make_stream(async_openai_client)
    assert isinstance(stream, openai.AsyncStream)
    async with stream as entered:
        assert entered is stream
        texts = [c.choices[0].delta.content async for c in entered]
    assert "".join(t or "" for t in texts) == "one two three"
    assert len(instrumented.finished_spans()) == 1
    del stream, entered
    assert instrumented.outcome_label() == "unmarked"


async def test_async_stream_closed_unread_is_unread(instrumented, async_openai_client) -> None:
    stream = await make_stream(async_openai_client)
    await stream.close()
    del stream
    assert instrumented.outcome_label() == "unread"
