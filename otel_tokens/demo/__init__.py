"""Demo helpers: a loopback fake LLM server for tests, benchmarks and ``otel-tokens demo``."""
