"""A process making real instrumented LLM calls, serving /metrics on http://127.0.0.1:PORT until killed.

Usage: ``python tests/promql_emitter.py PORT``. It runs ``otel_tokens.init()`` and, in a loop,
drives the real ``openai`` SDK against the loopback fake LLM server through every path that
emits a metric of ``otel_tokens.names.METRICS`` (outcomes, errors, unpriced models, budget
blocks, runaway runs, repeats, rejected refs, label overflows, an internal error, streams).
``test_prometheus_queries.py`` points a real Prometheus at it and runs every dashboard and
rule query.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import openai

import otel_tokens
from otel_tokens.demo.fake_llm import FakeLLMServer

sys.path.insert(0, str(Path(__file__).parent / "scripts"))
from metrics_app import trigger_everything  # a sibling script, not a package


def main(port: int) -> None:
    handle = otel_tokens.init(
        service_name="promql-emitter",
        prometheus_port=port,
        prometheus_host="127.0.0.1",
        max_label_values=4,
        runaway_calls=2,
    )
    with FakeLLMServer() as server:
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="test", max_retries=0)
        kept: list[object] = []
        while True:  # killed by the test
            kept = trigger_everything(client)  # the previous responses are released: unread/unmarked
            time.sleep(0.3)
    del kept
    handle.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]))
