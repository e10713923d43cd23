"""Small readers shared by provider modules: argument sentinels, numbers, server addresses."""

from __future__ import annotations

import contextlib
import weakref
from typing import Any, Final

from .. import names

# Hosts of OpenAI-compatible services reached through another SDK's base_url.
_HOST_PROVIDERS: Final = (
    ("api.openai.com", "openai"),
    ("openai.azure.com", "azure.ai.openai"),
    ("services.ai.azure.com", "azure.ai.inference"),
    ("api.groq.com", "groq"),
    ("api.deepseek.com", "deepseek"),
    ("api.x.ai", "x_ai"),
    ("api.mistral.ai", "mistral_ai"),
    ("api.perplexity.ai", "perplexity"),
    ("api.together.xyz", "together_ai"),
    ("api.fireworks.ai", "fireworks_ai"),
    ("openrouter.ai", "openrouter"),
    ("generativelanguage.googleapis.com", "gcp.gemini"),
    ("api.anthropic.com", "anthropic"),
    ("api.cohere.com", "cohere"),
    ("ollama.com", "ollama"),  # Ollama's cloud (OpenAI-compatible at https://ollama.com/v1)
    ("api.cerebras.ai", "cerebras"),
    ("api.moonshot.ai", "moonshot_ai"),
    ("api.moonshot.cn", "moonshot_ai"),
)
OLLAMA_PORT: Final = 11434
# Larger counts are provider bugs, and would overflow OTLP's int64 cumulative counters.
MAX_TOKENS: Final = 2**32


def given(value: Any) -> Any:
    """``value``, or None for the SDKs' "not given" sentinels (``NOT_GIVEN``, ``omit``, Mistral's
    ``UNSET``, Cohere's ``...``)."""
    kind = type(value)
    if kind in _PLAIN:  # the common case, decided without the name lookup
        return value
    if value is None or value is Ellipsis or kind.__name__ in ("NotGiven", "Omit", "Unset"):
        return None
    return value


_PLAIN: Final = frozenset({str, int, float, bool, list, dict, tuple})


def as_int(value: Any) -> int:
    """A token count: ints (or whole floats, as Cohere sends) only, negatives clamp to 0 (a
    provider bug must not subtract)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return value if 0 < value < MAX_TOKENS else 0


def provider_for(host: str | None, port: int | None, default: str) -> str:
    if host:
        for suffix, provider in _HOST_PROVIDERS:
            if host == suffix or host.endswith("." + suffix):
                return provider
    if port == OLLAMA_PORT:
        return "ollama"
    return default


_servers: weakref.WeakKeyDictionary[Any, tuple[str, str | None, int | None]] = weakref.WeakKeyDictionary()


def server_of(client: Any, default_provider: str) -> tuple[str, str | None, int | None]:
    """(provider, host, port) of a Stainless-style client (``client.base_url``), cached per client."""
    try:
        return _servers[client]
    except (KeyError, TypeError):
        pass
    url = getattr(client, "base_url", None)
    host = getattr(url, "host", None) or None
    port = getattr(url, "port", None)
    if port is None and url is not None:
        scheme = getattr(url, "scheme", "https")
        port = 443 if scheme == "https" else 80
    result = (provider_for(host, port, default_provider), host, port)
    with contextlib.suppress(TypeError):  # clients that cannot be weakly referenced are not cached
        _servers[client] = result
    return result


def request_attributes(kwargs: dict[str, Any], mapping: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """Semconv request attributes from call arguments: (kwarg, attribute) pairs, sentinels skipped."""
    attributes: dict[str, Any] = {}
    for key, attribute in mapping:
        value = given(kwargs.get(key))
        if value is None:
            continue
        if attribute == names.GEN_AI_REQUEST_STOP_SEQUENCES:
            value = [value] if isinstance(value, str) else [str(v) for v in value]
        elif not isinstance(value, (str, int, float, bool)):
            continue
        attributes[attribute] = value
    return attributes
