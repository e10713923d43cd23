"""Request fingerprints: identical requests repeat, differing ones do not; bounded; no content kept."""

from __future__ import annotations

import io

from otel_tokens.fingerprints import RepeatDetector, canonical

MESSAGES = [{"role": "user", "content": "Summarize the status page"}]


def test_identical_requests_repeat_regardless_of_argument_order() -> None:
    detector = RepeatDetector(window_s=600)
    a = detector.digest("openai", "chat", {"model": "gpt-4o", "messages": MESSAGES, "temperature": 0.2})
    b = detector.digest("openai", "chat", {"temperature": 0.2, "messages": MESSAGES, "model": "gpt-4o"})
    assert a == b
    assert detector.check(a, now=0.0) is False
    assert detector.check(b, now=1.0) is True


def test_json_whitespace_and_transport_options_do_not_matter() -> None:
    detector = RepeatDetector(window_s=600)
    tools = {
        "type": "function",
        "function": {"name": "f", "parameters": {"type": "object", "properties": {}}},
    }
    a = detector.digest("openai", "chat", {"model": "m", "messages": MESSAGES, "tools": [tools]})
    b = detector.digest(
        "openai",
        "chat",
        {
            "model": "m",
            "messages": MESSAGES,
            "tools": [dict(reversed(list(tools.items())))],
            "timeout": 30,
            "extra_headers": {"x": "y"},
            "stream": True,
            "user": "u1",
        },
    )
    assert a == b


def test_changed_parameters_are_different_requests() -> None:
    detector = RepeatDetector(window_s=600)
    base = {"model": "gpt-4o", "messages": MESSAGES, "temperature": 0.2}
    digests = {
        detector.digest("openai", "chat", base),
        detector.digest("openai", "chat", {**base, "temperature": 0.3}),
        detector.digest("openai", "chat", {**base, "model": "gpt-4o-mini"}),
        detector.digest("anthropic", "chat", base),
        detector.digest("openai", "chat", {**base, "messages": [{"role": "user", "content": "other"}]}),
    }
    assert len(digests) == 5


def test_window_expiry() -> None:
    detector = RepeatDetector(window_s=10)
    digest = detector.digest("openai", "chat", {"model": "m", "messages": MESSAGES})
    assert detector.check(digest, now=0.0) is False
    assert detector.check(digest, now=5.0) is True
    assert detector.check(digest, now=20.0) is False  # last seen at 5.0, window 10
    assert detector.check(digest, now=21.0) is True


def test_memory_is_bounded() -> None:
    detector = RepeatDetector(window_s=600, max_entries=1000)
    for i in range(5000):
        detector.check(
            detector.digest("openai", "chat", {"model": "m", "messages": str(i)}), now=float(i) / 1000
        )
    assert len(detector) == 1000


def test_keys_differ_per_process_and_no_content_is_kept() -> None:
    first, second = RepeatDetector(600), RepeatDetector(600)
    request = {"model": "m", "messages": MESSAGES}
    assert first.digest("openai", "chat", request) != second.digest("openai", "chat", request)
    digest = first.digest("openai", "chat", request)
    assert len(digest) == 16
    assert b"Summarize" not in digest
    assert b"Summarize" in canonical("openai", "chat", request)  # hashed, never stored


def test_pydantic_response_format_classes_are_fingerprinted_by_schema() -> None:
    from pydantic import BaseModel

    class Answer(BaseModel):
        text: str

    class Other(BaseModel):
        number: int

    detector = RepeatDetector(600)
    a = detector.digest("openai", "chat", {"model": "m", "messages": MESSAGES, "response_format": Answer})
    b = detector.digest("openai", "chat", {"model": "m", "messages": MESSAGES, "response_format": Answer})
    c = detector.digest("openai", "chat", {"model": "m", "messages": MESSAGES, "response_format": Other})
    assert a == b != c


def test_file_like_bodies_never_repeat_and_bytes_bodies_do() -> None:
    """An InvokeModel body passed as a file is read only as it is sent: two of them are never
    taken for a repeat (their content is unknown); equal bytes are; bookkeeping fields do not count."""
    detector = RepeatDetector(window_s=600)
    model = {"modelId": "anthropic.claude-3-haiku"}
    files = [detector.digest("aws.bedrock", "chat", {**model, "body": io.BytesIO(b"{}")}) for _ in range(2)]
    assert files[0] != files[1]
    same = [
        detector.digest("aws.bedrock", "chat", {**model, "body": b"{}", "requestMetadata": {"n": str(n)}})
        for n in range(2)
    ]
    assert same[0] == same[1]
