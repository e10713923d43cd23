"""Outcome refs: compact signed strings that let an outcome be recorded later or elsewhere.

Format: ``ot1.<base64url JSON payload>.<base64url HMAC-SHA256 of the payload, 16 bytes>``, keyed
with ``HMAC-SHA256(OTEL_TOKENS_OUTCOME_KEY, "otel-tokens outcome ref signing key v1")``. The payload holds what the outcome metrics need, so another process with the same
``OTEL_TOKENS_OUTCOME_KEY`` can record the outcome with the original call's labels.
Without a key a random per-process key is used, so refs only work in the issuing process.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final

from . import names

PREFIX: Final = "ot1"
MAX_REF_LENGTH: Final = 4096
_CLOCK_SKEW_S: Final = 300.0
_MAX_SEEN: Final = 1_000_000
_MAX_TOKENS: Final = 2**53  # counts past this are not tokens of one call, and lose precision as floats
_HEX: Final = frozenset("0123456789abcdef")
_REF_KEY_LABEL: Final = b"otel-tokens outcome ref signing key v1"


class InvalidRef(ValueError):
    """A ref that is malformed, forged, altered, expired or already recorded."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class RefPayload:
    nonce: str
    labels: dict[str, str]
    tokens: int
    cost_usd: float
    trace_id: int
    span_id: int
    response_id: str | None
    issued: float


def _derive(secret: bytes) -> bytes:
    return hmac.new(secret, _REF_KEY_LABEL, hashlib.sha256).digest()


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class RefSigner:
    """Issues and verifies refs under one key; remembers recorded nonces to refuse replays."""

    def __init__(self, key: str | None, ttl_s: float) -> None:
        # OTEL_TOKENS_OUTCOME_KEY also pseudonymizes user ids (HMAC-SHA256 of the id): sign with a key
        # derived for refs only, or a user id chosen as a payload would have its pseudonym, on the
        # span, equal that payload's signature.
        self.key = _derive(key.encode()) if key else secrets.token_bytes(32)
        self.shared = key is not None
        self.ttl_s = ttl_s
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def issue(self, payload: RefPayload) -> str:
        body = {
            "n": payload.nonce,
            "l": payload.labels,
            "k": payload.tokens,
            "c": payload.cost_usd,
            "t": f"{payload.trace_id:032x}",
            "s": f"{payload.span_id:016x}",
            "i": round(payload.issued, 3),
        }
        if payload.response_id:
            body["r"] = payload.response_id
        encoded = _b64encode(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
        return f"{PREFIX}.{encoded}.{self._sign(encoded)}"

    def _sign(self, encoded: str) -> str:
        return _b64encode(hmac.new(self.key, encoded.encode("ascii"), hashlib.sha256).digest()[:16])

    def verify(self, ref: str, now: float | None = None) -> RefPayload:
        """Check a ref's form, signature and age. Raises :class:`InvalidRef` naming the problem."""
        if not isinstance(ref, str):
            raise TypeError(f"ref must be a str, not {type(ref).__name__}")
        if len(ref) > MAX_REF_LENGTH:
            raise InvalidRef("malformed", f"ref is {len(ref)} characters long; not an otel-tokens ref")
        parts = ref.split(".")
        if len(parts) != 3 or parts[0] != PREFIX or not ref.isascii():
            raise InvalidRef(
                "malformed", "not an otel-tokens outcome ref (expected 'ot1.<payload>.<signature>')"
            )
        _, encoded, signature = parts
        if not hmac.compare_digest(self._sign(encoded), signature):
            hint = (
                ""
                if self.shared
                else " (no OTEL_TOKENS_OUTCOME_KEY: refs are valid only in the issuing process)"
            )
            raise InvalidRef("bad_signature", f"ref signature does not match: forged or altered{hint}")
        try:
            body = json.loads(_b64decode(encoded))
            payload = _payload_from(body)
        except (ValueError, KeyError, TypeError, binascii.Error, RecursionError) as exc:
            raise InvalidRef("malformed", f"ref payload is malformed: {exc}"[:300]) from None
        now = time.time() if now is None else now
        if payload.issued > now + _CLOCK_SKEW_S:
            raise InvalidRef("expired", "ref was issued in the future; check the clocks")
        if payload.issued + self.ttl_s < now:
            raise InvalidRef("expired", f"ref expired {now - payload.issued - self.ttl_s:.0f}s ago")
        return payload

    def claim(self, payload: RefPayload) -> None:
        """Mark the ref recorded; a second record of the same ref raises :class:`InvalidRef`."""
        now = time.time()
        with self._lock:
            if payload.nonce in self._seen:
                raise InvalidRef("replayed", "this ref was already recorded")
            self._seen[payload.nonce] = payload.issued + self.ttl_s
            # Expired nonces can go: an expired ref is refused before it gets here.
            while self._seen and (next(iter(self._seen.values())) < now or len(self._seen) > _MAX_SEEN):
                self._seen.popitem(last=False)


def _payload_from(body: Any) -> RefPayload:
    # Only a key holder can sign a payload, but a buggy or old issuer must still not get NaN costs,
    # negative ids or non-string labels into the outcome metrics: check every field's type and range.
    if not isinstance(body, dict):
        raise ValueError("payload is not an object")
    labels = body["l"]
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise ValueError("labels are not strings")
    unknown = set(labels) - set(names.CALL_LABELS)
    if unknown:
        raise ValueError(f"unknown labels {sorted(unknown)}")
    tokens, cost, issued = body["k"], body["c"], body["i"]
    if not _is_int(tokens) or not 0 <= tokens < _MAX_TOKENS:
        raise ValueError("tokens must be a non-negative integer")
    if not _is_finite(cost) or cost < 0:
        raise ValueError("cost must be a finite non-negative number")
    if not _is_finite(issued):
        raise ValueError("issue time must be a finite number")
    nonce, response_id = body["n"], body.get("r")
    if not isinstance(nonce, str) or not nonce:
        raise ValueError("nonce must be a non-empty string")
    if response_id is not None and not isinstance(response_id, str):
        raise ValueError("response id must be a string")
    return RefPayload(
        nonce=nonce,
        labels={str(k): v for k, v in labels.items()},
        tokens=tokens,
        cost_usd=float(cost),
        trace_id=_hex_id(body["t"], 32, "trace id"),
        span_id=_hex_id(body["s"], 16, "span id"),
        response_id=response_id,
        issued=float(issued),
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_finite(value: Any) -> bool:
    if not (_is_int(value) or isinstance(value, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too big for a float
        return False


def _hex_id(value: Any, digits: int, what: str) -> int:
    if not isinstance(value, str) or len(value) != digits or not all(c in _HEX for c in value):
        raise ValueError(f"{what} must be {digits} lowercase hex digits")
    return int(value, 16)
