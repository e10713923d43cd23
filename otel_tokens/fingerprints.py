"""Repeated requests: a keyed hash of the canonical request, seen again within a sliding window.

The fingerprint is blake2b over the canonical JSON of what decides the answer (provider,
operation, model, messages or input, tools, decoding parameters); transport options are
left out. Only the 16-byte digest is kept, never content, and the set of digests is bounded.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections import OrderedDict
from typing import Any, Final

# Arguments that do not change the answer: transport, bookkeeping, identity.
_IGNORED: Final = frozenset(
    {
        "extra_headers",
        "extra_query",
        "extra_body",
        "timeout",
        "stream",
        "stream_options",
        "user",
        "safety_identifier",
        "metadata",
        "store",
        "service_tier",
        "prompt_cache_key",
        "prompt_cache_retention",
        # Mistral's and Cohere's transport options
        "http_headers",
        "server_url",
        "timeout_ms",
        "retries",
        "request_options",
        # Bedrock's bookkeeping fields (botocore's names)
        "requestMetadata",
        "performanceConfig",
        "performanceConfigLatency",
        "serviceTier",
    }
)


def _plain(value: Any) -> Any:
    """JSON-able form of SDK arguments: pydantic models dumped, classes by name, sentinels dropped."""
    if isinstance(value, type):  # e.g. a pydantic response_format class
        schema = getattr(value, "model_json_schema", None)
        return schema() if callable(schema) else f"{value.__module__}.{value.__qualname__}"
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json")
        except ValueError:  # e.g. google-genai configs holding Python functions as tools
            return dump(mode="python", exclude_none=True)
    if isinstance(value, (bytes, bytearray)):  # images, documents: equal bytes only are a repeat
        return hashlib.blake2b(value, digest_size=16).hexdigest()
    if hasattr(value, "read"):  # a file-like body (Bedrock InvokeModel) is read only as it is sent
        return f"<unread body {secrets.token_hex(8)}>"  # never a repeat: its content is unknown
    if callable(value):
        return f"<callable {getattr(value, '__module__', '')}.{getattr(value, '__qualname__', '')}>"
    return f"<{type(value).__qualname__}>"


def canonical(provider: str, operation: str, kwargs: dict[str, Any]) -> bytes:
    body = {
        k: v
        for k, v in kwargs.items()
        if k not in _IGNORED and v is not None and type(v).__name__ not in ("NotGiven", "Omit")
    }
    return _ENCODER.encode([provider, operation, body]).encode()


# Built once: json.dumps with options builds a new encoder on every call.
_ENCODER: Final = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=_plain, ensure_ascii=False)


class RepeatDetector:
    """Remembers request digests for ``window_s`` seconds (at most ``max_entries`` of them)."""

    def __init__(self, window_s: float, max_entries: int = 100_000, key: bytes | None = None) -> None:
        self.window_s = window_s
        self.max_entries = max_entries
        self._key = (key or secrets.token_bytes(32))[:64]
        self._seen: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    def digest(self, provider: str, operation: str, kwargs: dict[str, Any]) -> bytes:
        return hashlib.blake2b(canonical(provider, operation, kwargs), digest_size=16, key=self._key).digest()

    def check(self, digest: bytes, now: float | None = None) -> bool:
        """True when ``digest`` was seen within the window; records it either way."""
        now = time.monotonic() if now is None else now
        horizon = now - self.window_s
        with self._lock:
            seen_at = self._seen.pop(digest, None)
            self._seen[digest] = now
            while self._seen:
                oldest_digest, oldest_at = next(iter(self._seen.items()))
                if oldest_at > horizon and len(self._seen) <= self.max_entries:
                    break
                del self._seen[oldest_digest]
        return seen_at is not None and seen_at > horizon

    def __len__(self) -> int:
        return len(self._seen)
