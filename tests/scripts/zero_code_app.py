"""An app with no otel-tokens code at all, for ``tests/test_zero_code.py``.

Run under ``opentelemetry-instrument``: it starts a fake LLM server and makes one OpenAI chat
call; the ``otel_tokens_openai`` entry point is what instruments it. Prints the reply.
"""

from __future__ import annotations

import openai

from otel_tokens.demo.fake_llm import FakeLLMServer

with FakeLLMServer() as server:
    client = openai.OpenAI(base_url=server.openai_base_url, api_key="test", max_retries=0)
    reply = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "zero code please"}],
        extra_headers={"x-fake-input-tokens": "31", "x-fake-output-tokens": "13"},
    )
    print("REPLY:", reply.choices[0].message.content, flush=True)
