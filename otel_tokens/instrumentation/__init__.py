"""One instrumentor per LLM library; :data:`INSTRUMENTORS` lists them by entry-point name."""

from __future__ import annotations

from typing import Final

# entry point name -> "module:Class"; imported lazily so no LLM SDK is required.
INSTRUMENTORS: Final = {
    "otel_tokens_openai": "otel_tokens.instrumentation.openai:OpenAIInstrumentor",
    "otel_tokens_anthropic": "otel_tokens.instrumentation.anthropic:AnthropicInstrumentor",
}
