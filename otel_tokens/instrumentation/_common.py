"""Small readers shared by provider modules: argument sentinels, numbers, server addresses,
the result types of Stainless-generated SDKs (openai, anthropic, groq), endpoint twins."""

from __future__ import annotations

import contextlib
import functools
import weakref
from collections.abc import Iterable, Iterator
from typing import Any, Final
from urllib.parse import urlsplit

from .. import names
from ._provider import Endpoint, RawKind

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


_DEFAULT_PORTS: Final = {"https": 443, "http": 80}


@functools.lru_cache(maxsize=64)  # base URLs are few (one per client); parsing one per call costs ~1 us
def url_server(url: str) -> tuple[str | None, int | None]:
    """(host, port) of a base URL string; the port defaults by scheme (https 443, http 80).

    Example::

        url_server("https://api.mistral.ai/v1")  # ("api.mistral.ai", 443)
    """
    parts = urlsplit(url)
    return parts.hostname, parts.port or _DEFAULT_PORTS.get(parts.scheme)


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


def field_of(container: Any, name: str) -> Any:
    """A field of an SDK object that the SDK also accepts (or keeps, as extra fields) as a plain dict."""
    if isinstance(container, dict):
        return container.get(name)
    return getattr(container, name, None)


# --- Stainless-generated SDKs (openai, anthropic, groq) -------------------------------------------
_STAINLESS_STREAMS: Final = frozenset({"Stream", "AsyncStream"})
_stream_classes: weakref.WeakKeyDictionary[type, bool] = weakref.WeakKeyDictionary()


def is_stainless_stream(result: Any) -> bool:
    """The result is the SDK's ``Stream`` / ``AsyncStream``, or a peer's wrapper around one."""
    cls = type(result)
    try:
        return _stream_classes[cls]
    except KeyError:
        pass
    except TypeError:  # an unhashable class: decide without the cache
        return _is_stream_class(cls)
    found = _stream_classes[cls] = _is_stream_class(cls)
    return found


def _is_stream_class(cls: type) -> bool:
    # A peer's stream wrapper (OpenLLMetry's, openai-v2's) around the SDK's stream hides its type.
    # (hasattr on a pydantic model class raises inside its metaclass: worth caching per class.)
    return cls.__name__ in _STAINLESS_STREAMS or hasattr(cls, "__next__") or hasattr(cls, "__anext__")


def stainless_raw_kind(result: Any) -> RawKind | None:
    """``with_raw_response`` / ``with_streaming_response`` results: ``APIResponse`` parses lazily;
    ``LegacyAPIResponse`` (older SDKs) has its body read already."""
    name = type(result).__name__
    if name == "LegacyAPIResponse":
        return "eager"
    if name in ("APIResponse", "AsyncAPIResponse"):
        return "lazy"
    return None


def sync_and_async(module: str, cls: str, methods: Iterable[str], **fields: Any) -> Iterator[Endpoint]:
    """Endpoints for each method of ``cls`` and of its ``Async`` twin, the pair of resource classes
    Stainless SDKs generate (``Completions`` / ``AsyncCompletions``); ``fields``: the rest of each
    :class:`Endpoint`.

    Example::

        sync_and_async("groq.resources.embeddings", "Embeddings", ("create",), read_request=..., ...)
    """
    for prefix, is_async in (("", False), ("Async", True)):
        for method in methods:
            yield Endpoint(module=module, qualname=f"{prefix}{cls}.{method}", is_async=is_async, **fields)
