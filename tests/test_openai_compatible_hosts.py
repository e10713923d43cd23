"""OpenAI-compatible servers reached through the ``openai`` SDK with another ``base_url`` get the
``gen_ai.provider.name`` their host tells (else ``openai``), their ``server.address`` /
``server.port``, and that provider's prices.

Real hostnames cannot be resolved here, so the client's HTTP transport sends every request to
the loopback fake server, keeping the URL the SDK built for the real host in the ``Host``
header: the SDK, the instrumentation and the span see the real host.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx2
import pytest
from genai_prices import Usage as PriceUsage
from genai_prices import calc_price

from otel_tokens import names as n

MSGS = [{"role": "user", "content": "hello"}]
HEADERS = {"x-fake-input-tokens": "40", "x-fake-output-tokens": "10"}
_SSL = ssl.create_default_context()
_ENDPOINTS = ("/chat/completions", "/embeddings", "/completions", "/responses")

# base_url -> (gen_ai.provider.name, server.address, server.port)
HOSTS = {
    "https://api.openai.com/v1": ("openai", "api.openai.com", 443),
    "https://api.groq.com/openai/v1": ("groq", "api.groq.com", 443),
    "http://localhost:11434/v1": ("ollama", "localhost", 11434),  # Ollama's OpenAI endpoint
    "http://gpu-box.lan:11434/v1": ("ollama", "gpu-box.lan", 11434),  # told by Ollama's port
    "http://127.0.0.1:8000/v1": ("openai", "127.0.0.1", 8000),  # vLLM: nothing tells it apart
    "http://localhost:1234/v1": ("openai", "localhost", 1234),  # LM Studio
    "https://api.together.xyz/v1": ("together_ai", "api.together.xyz", 443),
    "https://api.fireworks.ai/inference/v1": ("fireworks_ai", "api.fireworks.ai", 443),
    "https://api.deepseek.com": ("deepseek", "api.deepseek.com", 443),
    "https://api.x.ai/v1": ("x_ai", "api.x.ai", 443),
    "https://api.mistral.ai/v1": ("mistral_ai", "api.mistral.ai", 443),
    "https://api.perplexity.ai": ("perplexity", "api.perplexity.ai", 443),
    "https://openrouter.ai/api/v1": ("openrouter", "openrouter.ai", 443),
    "https://generativelanguage.googleapis.com/v1beta/openai/": (
        "gcp.gemini",
        "generativelanguage.googleapis.com",
        443,
    ),
    "https://my-resource.openai.azure.com/openai/v1/": (
        "azure.ai.openai",
        "my-resource.openai.azure.com",
        443,
    ),
    "https://my-project.services.ai.azure.com/models": (
        "azure.ai.inference",
        "my-project.services.ai.azure.com",
        443,
    ),
    "https://api.anthropic.com/v1/": ("anthropic", "api.anthropic.com", 443),
    "https://api.cohere.com/compatibility/v1": ("cohere", "api.cohere.com", 443),
}


def _to_fake(request: Any, port: int) -> None:
    """Point ``request`` at the fake server's OpenAI route for the same endpoint."""
    path = request.url.path
    endpoint = next(e for e in _ENDPOINTS if path.endswith(e))
    request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=port, path=f"/v1{endpoint}")


class ToFake(httpx2.HTTPTransport):
    def __init__(self, port: int) -> None:
        super().__init__(verify=_SSL)
        self.port = port

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        _to_fake(request, self.port)
        return super().handle_request(request)


class AsyncToFake(httpx2.AsyncHTTPTransport):
    def __init__(self, port: int) -> None:
        super().__init__(verify=_SSL)
        self.port = port

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        _to_fake(request, self.port)
        return await super().handle_async_request(request)


@pytest.fixture
def make_client(make_openai_client, fake_llm):
    """``make_client(base_url, aio=False)``: an OpenAI client whose requests all reach the fake."""

    def make(base_url: str, aio: bool = False) -> Any:
        transport = (AsyncToFake if aio else ToFake)(fake_llm.port)
        return make_openai_client(aio, base_url=base_url, transport=transport)

    return make


@pytest.mark.parametrize("base_url", HOSTS)
def test_provider_and_server_come_from_the_host(instrumented, make_client, fake_llm, base_url) -> None:
    provider, host, port = HOSTS[base_url]
    reply = make_client(base_url).chat.completions.create(
        model="some-model", messages=MSGS, extra_headers=HEADERS
    )
    assert reply.choices[0].message.content
    assert fake_llm.requests[-1].headers["host"] == (host if port in (80, 443) else f"{host}:{port}")
    attrs = instrumented.only_span().attributes
    assert attrs[n.GEN_AI_PROVIDER_NAME] == provider
    assert attrs[n.SERVER_ADDRESS] == host
    assert attrs[n.SERVER_PORT] == port
    assert instrumented.total(n.CALLS.name, provider=provider, status="ok") == 1
    assert instrumented.total(n.TOKENS.name, provider=provider) == 50


# base_url, model, genai-prices provider id: the call is priced with the host's provider prices.
PRICED = [
    ("https://api.groq.com/openai/v1", "llama-3.3-70b-versatile", "groq"),
    ("https://api.together.xyz/v1", "meta-llama/Llama-3.3-70B-Instruct-Turbo", "together"),
    ("https://api.deepseek.com", "deepseek-chat", "deepseek"),
]


@pytest.mark.parametrize(("base_url", "model", "price_provider"), PRICED)
def test_cost_uses_the_host_provider_prices(
    instrumented, make_client, base_url, model, price_provider
) -> None:
    headers = {**HEADERS, "x-fake-response-model": model}
    make_client(base_url).chat.completions.create(model=model, messages=MSGS, extra_headers=headers)
    expected = float(
        calc_price(
            PriceUsage(input_tokens=40, output_tokens=10), model, provider_id=price_provider
        ).total_price
    )
    span = instrumented.only_span()
    assert span.attributes[n.ATTR_COST_PRICED] is True
    assert span.attributes[n.ATTR_COST_USD] == pytest.approx(expected)
    assert instrumented.total(n.COST_USD.name, provider=HOSTS[base_url][0]) == pytest.approx(expected)


async def test_ollama_openai_endpoint_streams_unpriced(instrumented, make_client) -> None:
    client = make_client("http://localhost:11434/v1", aio=True)
    stream = await client.chat.completions.create(
        model="llama3.2", messages=MSGS, extra_headers=HEADERS, stream=True
    )
    chunks = [chunk async for chunk in stream]
    assert all(chunk.choices for chunk in chunks)  # the usage chunk otel-tokens asked for stays hidden
    span = instrumented.only_span()
    assert span.attributes[n.GEN_AI_PROVIDER_NAME] == "ollama"
    assert span.attributes[n.GEN_AI_USAGE_INPUT_TOKENS] == 40
    assert span.attributes[n.ATTR_COST_PRICED] is False
    assert instrumented.total(n.UNPRICED_CALLS.name, provider="ollama") == 1
