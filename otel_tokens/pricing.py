"""Cost of a call: genai-prices' bundled data (offline), overridden per model by a YAML file.

Prices are looked up once per (provider, model) and kept as per-token rates, so the hot
path is a few multiplications. Models with tiered prices fall back to a full calculation.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from .names import TOKEN_TYPES
from .records import Usage

PER_MILLION: Final = 1_000_000
# A prices file lists a few models; a bigger one is a mistake (or /dev/zero) and is never read whole.
MAX_PRICES_FILE_BYTES: Final = 4 * 1024 * 1024
# Semconv provider names -> genai-prices provider ids.
_PRICE_PROVIDER: Final = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "aws.bedrock": "aws",
    "mistral_ai": "mistral",
    "cohere": "cohere",
    "groq": "groq",
    "azure.ai.openai": "azure",
    "x_ai": "x-ai",
    "deepseek": "deepseek",
    "fireworks_ai": "fireworks",
    "moonshot_ai": "moonshotai",
}


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per token for each disjoint token type."""

    input: float
    cache_read: float
    cache_write: float
    output: float
    reasoning: float

    def cost(self, usage: Usage) -> float:
        uncached, cache_read, cache_write, output, reasoning = usage.counts()
        return (
            uncached * self.input
            + cache_read * self.cache_read
            + cache_write * self.cache_write
            + output * self.output
            + reasoning * self.reasoning
        )


class PricesFileError(ValueError):
    """The prices override file is unreadable or malformed."""


def load_overrides(path: str | Path) -> dict[str, Rates]:
    """Parse an override file: ``models: {name: {input: 1.0, output: 4.0, ...}}`` in USD per million tokens.

    Example::

        models:
          my-finetune:
            input: 0.30
            cache_read: 0.03
            output: 1.20
    """
    import yaml

    try:
        data = yaml.safe_load(_read_bounded(Path(path)))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PricesFileError(f"OTEL_TOKENS_PRICES: cannot read {path}: {exc}") from exc
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, dict):
        raise PricesFileError(f"OTEL_TOKENS_PRICES: {path} needs a top-level 'models' mapping")
    return {str(name): _rates_from_mapping(str(name), spec, path) for name, spec in models.items()}


def _read_bounded(path: Path) -> str:
    with path.open("rb") as file:
        raw = file.read(MAX_PRICES_FILE_BYTES + 1)
    if len(raw) > MAX_PRICES_FILE_BYTES:
        raise PricesFileError(
            f"OTEL_TOKENS_PRICES: {path} is larger than {MAX_PRICES_FILE_BYTES} bytes; not a prices file"
        )
    return raw.decode("utf-8")


def _price_per_million(raw: Any) -> float | None:
    # YAML gives bools, .inf, .nan and integers too big for a float: none of them is a price.
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return None
    try:
        price = float(raw)
    except OverflowError:
        return None
    return price if 0 <= price < math.inf else None


def _rates_from_mapping(name: str, spec: Any, path: str | Path) -> Rates:
    if not isinstance(spec, dict):
        raise PricesFileError(f"OTEL_TOKENS_PRICES: {path}: model {name!r} needs a mapping of prices")
    unknown = set(spec) - set(TOKEN_TYPES)
    if unknown:
        raise PricesFileError(
            f"OTEL_TOKENS_PRICES: {path}: model {name!r} has unknown keys {sorted(unknown)}"
        )
    values: dict[str, float] = {}
    for key, raw in spec.items():
        price = _price_per_million(raw)
        if price is None:
            raise PricesFileError(
                f"OTEL_TOKENS_PRICES: {path}: {name}.{key} must be a finite non-negative number, got {raw!r:.40}"
            )
        values[key] = price / PER_MILLION
    if "input" not in values or "output" not in values:
        raise PricesFileError(
            f"OTEL_TOKENS_PRICES: {path}: model {name!r} needs at least 'input' and 'output'"
        )
    return Rates(
        input=values["input"],
        cache_read=values.get("cache_read", values["input"]),
        cache_write=values.get("cache_write", values["input"]),
        output=values["output"],
        reasoning=values.get("reasoning", values["output"]),
    )


class _Tiered:
    """Marker: this model's price depends on the call's size; compute it in full each time."""


_TIERED: Final = _Tiered()


class PriceBook:
    """Thread-safe price lookups with per-(provider, model) caching.

    ``cost()`` returns ``None`` when no price is known for the model.
    """

    def __init__(self, overrides: dict[str, Rates] | None = None) -> None:
        self._overrides = overrides or {}
        self._cache: dict[tuple[str, str], Rates | _Tiered | None] = {}
        self._lock = threading.Lock()

    def cost(self, provider: str, model: str | None, usage: Usage) -> float | None:
        if not model or not isinstance(model, str):  # a provider may send anything as its model
            return None
        key = (provider, model)
        try:
            entry = self._cache[key]
        except KeyError:
            entry = self._resolve(provider, model)
            with self._lock:
                if len(self._cache) < 10_000:  # bounded: models are few, but names come from responses
                    self._cache[key] = entry
        if entry is None:
            return None
        if isinstance(entry, Rates):
            return entry.cost(usage)
        return _full_price(provider, model, usage)

    def _resolve(self, provider: str, model: str) -> Rates | _Tiered | None:
        override = self._overrides.get(model)
        if override is not None:
            return override
        return _bundled_rates(provider, model)


def _genai_usage(usage: Usage) -> Any:
    from genai_prices import Usage as GenaiUsage

    return GenaiUsage(
        input_tokens=usage.input_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        output_tokens=usage.output_tokens,
    )


def _full_price(provider: str, model: str, usage: Usage) -> float | None:
    from genai_prices import calc_price

    try:
        result = calc_price(_genai_usage(usage), model, provider_id=_PRICE_PROVIDER.get(provider, provider))
    except LookupError:
        return None
    return float(result.total_price)


def _bundled_rates(provider: str, model: str) -> Rates | _Tiered | None:
    # One calculation per token type at a million tokens gives the per-token rates.
    from genai_prices import calc_price
    from genai_prices.types import TieredPrices

    provider_id = _PRICE_PROVIDER.get(provider, provider)
    probes = {
        "input": Usage(input_tokens=PER_MILLION),
        "cache_read": Usage(input_tokens=PER_MILLION, cache_read_tokens=PER_MILLION),
        "cache_write": Usage(input_tokens=PER_MILLION, cache_write_tokens=PER_MILLION),
        "output": Usage(output_tokens=PER_MILLION),
    }
    rates: dict[str, float] = {}
    for name, probe in probes.items():
        try:
            result = calc_price(_genai_usage(probe), model, provider_id=provider_id)
        except LookupError:
            return None
        if any(isinstance(v, TieredPrices) for v in vars(result.model_price).values()):
            return _TIERED
        rates[name] = float(result.total_price) / PER_MILLION
    return Rates(
        input=rates["input"],
        cache_read=rates["cache_read"],
        cache_write=rates["cache_write"],
        output=rates["output"],
        reasoning=rates["output"],
    )
