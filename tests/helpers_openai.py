"""Shared helpers for the OpenAI tests: requests driven by ``x-fake-*`` headers, expected token
splits and costs derived independently (genai-prices), histogram readers, result normalizers,
and one invocation per instrumented OpenAI method."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from genai_prices import Usage as PriceUsage
from genai_prices import calc_price
from helpers_providers import drain, maybe_await
from pydantic import BaseModel

from otel_tokens.demo.fake_payloads import MODEL_SUFFIX

MODEL = "gpt-4o-mini"
DATED_MODEL = "gpt-4o-mini-2024-07-18"  # a snapshot genai-prices knows
EMBEDDING_MODEL = "text-embedding-3-small"
LEGACY_MODEL = "gpt-3.5-turbo-instruct"
MESSAGES = [{"role": "user", "content": "triage this email"}]
JSON_OUTPUT = '{"answer": "yes"}'

# Fields the fake server fills with counters or clocks; everything else is deterministic.
_VOLATILE = frozenset({"id", "item_id", "created", "created_at", "completed_at"})


class Answer(BaseModel):
    answer: str


def fake_model(request_model: str) -> str:
    """The response model the fake server reports when no ``x-fake-response-model`` is sent."""
    return request_model + MODEL_SUFFIX


@dataclass(frozen=True)
class Tokens:
    """What the fake server is told to report; OpenAI totals include cached / reasoning tokens."""

    prompt: int
    completion: int
    cached: int = 0
    reasoning: int = 0

    def headers(self, **extra: str) -> dict[str, str]:
        return {
            "x-fake-input-tokens": str(self.prompt),
            "x-fake-output-tokens": str(self.completion),
            "x-fake-cached-tokens": str(self.cached),
            "x-fake-reasoning-tokens": str(self.reasoning),
            **extra,
        }

    def split(self, *, embeddings: bool = False) -> dict[str, int]:
        """The disjoint token_type split (only non-zero types are recorded)."""
        if embeddings:
            return {"input": self.prompt}
        split = {
            "input": self.prompt - self.cached,
            "cache_read": self.cached,
            "output": self.completion - self.reasoning,
            "reasoning": self.reasoning,
        }
        return {k: v for k, v in split.items() if v}

    def cost(self, model: str, *, embeddings: bool = False) -> float:
        """Independently computed price (genai-prices counts reasoning as output)."""
        usage = PriceUsage(
            input_tokens=self.prompt,
            cache_read_tokens=self.cached,
            output_tokens=0 if embeddings else self.completion,
        )
        return float(calc_price(usage, model, provider_id="openai").total_price)


def histogram(telemetry: Any, name: str) -> list[tuple[dict[str, Any], int, float]]:
    """(attributes, count, sum) of every data point of histogram ``name``."""
    found = []
    data = telemetry.reader.get_metrics_data()
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == name:
                    found += [(dict(p.attributes), p.count, p.sum) for p in metric.data.data_points]
    return found


def normalized(value: Any) -> Any:
    """``model_dump()`` of SDK objects (and lists of them) without the server's ids and clocks."""
    if hasattr(value, "model_dump"):
        value = value.model_dump(warnings=False)  # parsed generics warn on their own, uninstrumented too
    if isinstance(value, dict):
        return {k: normalized(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, (list, tuple)):
        return [normalized(v) for v in value]
    return value


async def settle(result: Any) -> Any:
    """Await coroutines; drain sync and async streams into lists (what the caller would see)."""
    result = await maybe_await(result)
    return await drain(result) if hasattr(result, "__aiter__") or hasattr(result, "__next__") else result


# --- driving sync and async clients with one test body ---------------------------------------------
async def managed(manager: Any, body: Callable[[Any], Awaitable[Any]]) -> Any:
    if hasattr(manager, "__aenter__"):
        async with manager as entered:
            return await body(entered)
    with manager as entered:
        return await body(entered)


def stream_response_id(items: list[Any]) -> str:
    for item in items:
        item = getattr(item, "chunk", None) or item  # chat .stream() helper events wrap chunks
        if getattr(item, "type", None) == "response.created":
            return str(item.response.id)
        if isinstance(getattr(item, "id", None), str):
            return str(item.id)
    raise AssertionError("no response id in the stream")


# --- one invocation per instrumented method --------------------------------------------------------
Invoke = Callable[[Any, dict[str, str], bool], Any]


def _chat_create(client: Any, headers: dict[str, str], stream: bool) -> Any:
    extra = {"stream": True} if stream else {}
    return client.chat.completions.create(model=MODEL, messages=MESSAGES, extra_headers=headers, **extra)


def chat_helpers(client: Any) -> Any:
    """Where chat ``parse()`` / ``stream()`` live: ``chat.completions`` since openai 1.92, ``beta`` before."""
    completions = client.chat.completions
    return completions if hasattr(completions, "parse") else client.beta.chat.completions


# A stream whose connection drops: openai wraps the transport's error (APIConnectionError) since the
# 1.x releases that otel-tokens' main environment tests; the oldest let it out as it is.
DROPPED_STREAM_ERRORS = ("APIConnectionError", "RemoteProtocolError")


def _chat_parse(client: Any, headers: dict[str, str], stream: bool) -> Any:
    headers = {"x-fake-output": JSON_OUTPUT, **headers}
    return chat_helpers(client).parse(
        model=MODEL, messages=MESSAGES, response_format=Answer, extra_headers=headers
    )


def _responses_create(client: Any, headers: dict[str, str], stream: bool) -> Any:
    extra = {"stream": True} if stream else {}
    return client.responses.create(model=MODEL, input="triage this", extra_headers=headers, **extra)


def _responses_parse(client: Any, headers: dict[str, str], stream: bool) -> Any:
    headers = {"x-fake-output": JSON_OUTPUT, **headers}
    return client.responses.parse(model=MODEL, input="triage this", text_format=Answer, extra_headers=headers)


def _embeddings_create(client: Any, headers: dict[str, str], stream: bool) -> Any:
    return client.embeddings.create(model=EMBEDDING_MODEL, input="triage this", extra_headers=headers)


def _completions_create(client: Any, headers: dict[str, str], stream: bool) -> Any:
    extra = {"stream": True} if stream else {}
    return client.completions.create(model=LEGACY_MODEL, prompt="triage this", extra_headers=headers, **extra)


# (module suffix, class name without "Async", method) -> invocation, can it stream
INVOCATIONS: dict[tuple[str, str, str], tuple[Invoke, bool]] = {
    ("chat.completions.completions", "Completions", "create"): (_chat_create, True),
    ("chat.completions.completions", "Completions", "parse"): (_chat_parse, False),
    ("responses.responses", "Responses", "create"): (_responses_create, True),
    ("responses.responses", "Responses", "parse"): (_responses_parse, False),
    ("embeddings", "Embeddings", "create"): (_embeddings_create, False),
    ("completions", "Completions", "create"): (_completions_create, True),
}


def invocation(endpoint: Any) -> tuple[Invoke, bool]:
    """How to call ``endpoint`` (an ``Endpoint`` of the OpenAI library) through the public client."""
    module = endpoint.module.removeprefix("openai.resources.")
    cls, method = endpoint.qualname.split(".")
    return INVOCATIONS[(module, cls.removeprefix("Async"), method)]


def endpoint_id(endpoint: Any) -> str:
    return f"{endpoint.module.removeprefix('openai.resources.')}.{endpoint.qualname}"
