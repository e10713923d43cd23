"""One instrumentor per LLM library; :data:`INSTRUMENTORS` lists them by entry-point name."""

from __future__ import annotations

from typing import Final

# entry point name -> "module:Class"; imported lazily so no LLM SDK is required.
INSTRUMENTORS: Final = {
    "otel_tokens_openai": "otel_tokens.instrumentation.openai:OpenAIInstrumentor",
    "otel_tokens_anthropic": "otel_tokens.instrumentation.anthropic:AnthropicInstrumentor",
    "otel_tokens_ollama": "otel_tokens.instrumentation.ollama:OllamaInstrumentor",
    "otel_tokens_groq": "otel_tokens.instrumentation.groq:GroqInstrumentor",
    "otel_tokens_mistralai": "otel_tokens.instrumentation.mistralai:MistralAIInstrumentor",
    "otel_tokens_cohere": "otel_tokens.instrumentation.cohere:CohereInstrumentor",
    "otel_tokens_google_genai": "otel_tokens.instrumentation.google_genai:GoogleGenAIInstrumentor",
    "otel_tokens_litellm": "otel_tokens.instrumentation.litellm:LiteLLMInstrumentor",
    "otel_tokens_bedrock": "otel_tokens.instrumentation.bedrock:BedrockInstrumentor",
}
