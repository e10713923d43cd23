"""Zero code: no otel_tokens import. Run it under the OpenTelemetry launcher:

    pip install opentelemetry-distro
    OTEL_TRACES_EXPORTER=console opentelemetry-instrument python examples/zero_code.py

The ``otel_tokens_openai`` entry point instruments the openai SDK.
"""

import openai

client = openai.OpenAI()
reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])
print("model said:", reply.choices[0].message.content)
