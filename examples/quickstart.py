"""Quickstart: one line of setup, a task, a verdict.

OPENAI_API_KEY=... python examples/quickstart.py
"""

import openai

import otel_tokens

handle = otel_tokens.init(
    service_name="quickstart"
)  # /metrics on 127.0.0.1:9464 (OTEL_TOKENS_PROMETHEUS_PORT)
client = openai.OpenAI()

with otel_tokens.task("greeting", team="docs") as run:
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Say hello"}]
    )
    print("model said:", reply.choices[0].message.content)
    run.mark_used()  # the output served its purpose

print("metrics:", handle.metrics_url)
handle.shutdown()
