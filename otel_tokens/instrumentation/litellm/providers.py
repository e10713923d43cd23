"""LiteLLM provider ids -> OTel GenAI ``gen_ai.provider.name`` values.

LiteLLM resolves every model (``openai/gpt-4o``, ``anthropic/claude-...``, ``bedrock/...``)
to a provider id of its own. Ids with a well-known semconv value are renamed; the others
(``together_ai``, ``openrouter``, ``ollama``, ...) are lowercase identifiers already and pass
through, as the conventions allow for providers they do not list.
"""

from __future__ import annotations

from typing import Final

from .._common import provider_for

# The call never reached a provider LiteLLM could name (it rejects such models itself).
UNRESOLVED: Final = "litellm"

_SEMCONV: Final = {
    "openai": "openai",
    "chatgpt": "openai",
    "text-completion-openai": "openai",
    "azure": "azure.ai.openai",
    "azure_text": "azure.ai.openai",
    "azure_ai": "azure.ai.inference",
    "anthropic": "anthropic",
    "anthropic_text": "anthropic",
    "bedrock": "aws.bedrock",
    "vertex_ai": "gcp.vertex_ai",
    "vertex_ai_beta": "gcp.vertex_ai",
    "gemini": "gcp.gemini",
    "cohere": "cohere",
    "cohere_chat": "cohere",
    "mistral": "mistral_ai",
    "codestral": "mistral_ai",
    "text-completion-codestral": "mistral_ai",
    "groq": "groq",
    "deepseek": "deepseek",
    "xai": "x_ai",
    "perplexity": "perplexity",
    "watsonx": "ibm.watsonx.ai",
    "watsonx_text": "ibm.watsonx.ai",
    "ollama_chat": "ollama",
}


def semconv_provider(litellm_provider: str, host: str | None, port: int | None) -> str:
    """The semconv name of a LiteLLM provider id; ``openai/`` models sent to an OpenAI-compatible
    server (``api_base``) are named after that server when it is a known one.

    Example::

        semconv_provider("xai", None, None)  # "x_ai"
    """
    name = _SEMCONV.get(litellm_provider, litellm_provider)
    if name == "openai":
        return provider_for(host, port, name)
    return name
