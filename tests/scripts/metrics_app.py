"""An app using ``otel_tokens.init()`` for real, for ``tests/test_metrics_endpoint.py``.

``python metrics_app.py serve PORT``: init with Prometheus on 127.0.0.1:PORT, make calls against
a fake LLM server that triggers every metric the current code can emit, print one JSON line
``{"url": ...}``, and serve until stdin closes.

``python metrics_app.py serve-loop PORT``: the same, repeated until killed (for the Prometheus
query tests, which need counters that keep increasing).

``python metrics_app.py port-taken PORT``: init while PORT is taken by someone else, make one
call, print one JSON line with what was logged and what the call returned.

init() sets global OTel providers, so this runs in its own process, never inside pytest.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from typing import Any

import openai

import otel_tokens
from otel_tokens.demo.fake_llm import FakeLLMServer
from otel_tokens.pricing import PriceBook

MESSAGES = [{"role": "user", "content": "how many tokens is this"}]


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def chat(client: Any, model: str = "gpt-4o-mini", **kwargs: Any) -> Any:
    return client.chat.completions.create(model=model, messages=MESSAGES, **kwargs)


def trigger_everything(client: Any) -> list[Any]:
    """One or more calls per metric; returns responses kept alive (so calls stay pending)."""
    with otel_tokens.task("triage", team="support"):
        otel_tokens.mark_used(chat(client))  # tokens, cost, calls, outcome_*, token.usage, duration
        for _ in chat(client, stream=True):  # time_to_first_chunk
            pass
        with contextlib.suppress(openai.APIConnectionError):  # time_to_first_chunk{error_type}
            for _ in chat(client, stream=True, extra_headers={"x-fake-stream-error-after": "1"}):
                pass
    chat(client, "acme-private-9")  # unpriced_calls
    with contextlib.suppress(openai.BadRequestError):
        chat(client, extra_headers={"x-fake-status": "400"})  # calls{status="error"}, outcome "error"
    with otel_tokens.task("capped", max_calls=1):
        chat(client)
        with contextlib.suppress(otel_tokens.BudgetExceeded):
            chat(client)  # budget_blocks
    with otel_tokens.task("agent"):
        for _ in range(3):  # runaway_runs (runaway_calls=2)
            chat(client)
    with contextlib.suppress(otel_tokens.InvalidRef):
        otel_tokens.record_outcome("ot1.Zm9yZ2Vk.c2lnbmF0dXJl", "used")  # rejected_refs
    with otel_tokens.task("fifth-task"):  # label_overflows (max_label_values=4)
        chat(client)
    original = PriceBook.cost

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("injected pricing failure")

    PriceBook.cost = broken  # type: ignore[method-assign]  # internal_errors{stage="pricing"}
    try:
        chat(client)
    finally:
        PriceBook.cost = original  # type: ignore[method-assign]
    # repeat_calls / repeat_tokens: the same request twice .
    chat(client, extra_headers={"x-fake-input-tokens": "7"})
    chat(client, extra_headers={"x-fake-input-tokens": "7"})
    return [chat(client)]  # pending_calls: never resolved while we serve


def serve(port: int, loop: bool = False) -> None:
    handle = otel_tokens.init(
        service_name="metrics-e2e",
        prometheus_port=port,
        prometheus_host="127.0.0.1",
        max_label_values=4,
        runaway_calls=2,
    )
    with FakeLLMServer() as server:
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="test", max_retries=0)
        kept = trigger_everything(client)
        print(json.dumps({"url": handle.metrics_url}), flush=True)
        while loop:  # keep the counters moving for rate() queries until killed
            time.sleep(0.3)
            kept = trigger_everything(client)  # the previous responses are released
        sys.stdin.readline()
        del kept
    handle.shutdown()


def serve_loop(port: int) -> None:
    serve(port, loop=True)


def port_taken(port: int) -> None:
    records = Records()
    logging.getLogger("otel_tokens").addHandler(records)
    handle = otel_tokens.init(service_name="port-taken", prometheus_port=port, prometheus_host="127.0.0.1")
    with FakeLLMServer() as server:
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="test", max_retries=0)
        reply = chat(client)
    print(
        json.dumps(
            {
                "content": reply.choices[0].message.content,
                "metrics_url": handle.metrics_url,
                "instrumented": handle.instrumented,
                "logged": [(r.levelname, r.getMessage()) for r in records.records],
            }
        ),
        flush=True,
    )
    handle.shutdown()


if __name__ == "__main__":
    mode, raw_port = sys.argv[1], int(sys.argv[2])
    {"serve": serve, "serve-loop": serve_loop, "port-taken": port_taken}[mode](raw_port)
