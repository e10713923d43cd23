"""What of a Bedrock request the repeat detector hashes (``otel_tokens.fingerprints``).

The generic fingerprint writes bytes as ``<bytes>``, so two Converse calls differing only in an
image, or two InvokeModel calls with different bodies, would look alike; here bytes become their
digest. Bookkeeping fields do not count.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any, Final

# Request fields that do not change the answer.
_NOT_FINGERPRINTED: Final = frozenset(
    {"requestMetadata", "performanceConfig", "performanceConfigLatency", "serviceTier"}
)


def _fingerprinted(value: Any) -> Any:
    """``value`` with bytes (images, documents, an InvokeModel body) replaced by their digest,
    so requests differing only there are not taken for repeats; a file body is never a repeat."""
    if isinstance(value, (bytes, bytearray)):
        return "blake2b:" + hashlib.blake2b(value, digest_size=16).hexdigest()
    if isinstance(value, dict):
        return {key: _fingerprinted(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_fingerprinted(item) for item in value]
    if hasattr(value, "read"):
        return f"<unread body {secrets.token_hex(8)}>"
    return value


def fingerprint_view(params: dict[str, Any]) -> dict[str, Any]:
    """The request parameters as the repeat detector should see them.

    Example::

        fingerprint_view({"modelId": "m", "body": b"{}", "requestMetadata": {"k": "v"}})
        # {"modelId": "m", "body": "blake2b:..."}
    """
    return {key: _fingerprinted(value) for key, value in params.items() if key not in _NOT_FINGERPRINTED}
