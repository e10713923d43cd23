"""Settings: one row per environment variable (type, default, doc); keyword arguments win.

``SETTINGS`` is the table the README documents; :func:`load` reads it once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Final


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true/false, got {raw!r}")


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise ValueError(f"expected a positive number, got {raw!r}")
    return value


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError(f"expected a positive integer, got {raw!r}")
    return value


def _port(raw: str) -> int:
    value = int(raw)
    if not -1 <= value <= 65535:
        raise ValueError(f"expected a port number, got {raw!r}")
    return value


def _capture_content(raw: str) -> bool:
    # Accepts the values of the OTel GenAI instrumentations: true/false and the newer modes.
    value = raw.strip().lower()
    if value in ("span_only", "event_only", "span_and_event", "no_content"):
        return value in ("span_only", "span_and_event")  # content goes on spans only when asked for
    return _bool(value)


MODES: Final = ("instrument", "processor", "both")


def parse_mode(raw: object) -> str:
    """One of :data:`MODES` (case and spaces ignored); anything else raises naming the choices."""
    if not isinstance(raw, str):
        raise TypeError(f"mode must be a str, not {type(raw).__name__}")
    value = raw.strip().lower()
    if value not in MODES:
        raise ValueError(f"mode must be one of {', '.join(map(repr, MODES))}, got {raw!r}")
    return value


def _text(raw: str) -> str:
    return raw


@dataclass(frozen=True)
class Row:
    """One setting: its field, environment variable, parser, default and documentation."""

    field: str
    env: str
    parse: Callable[[str], Any]
    default: Any
    doc: str


SETTINGS: Final = (
    Row(
        "outcome_ttl_s",
        "OTEL_TOKENS_OUTCOME_TTL",
        _positive_float,
        300.0,
        "Seconds after which a call without a verdict is resolved by inference.",
    ),
    Row(
        "outcome_key",
        "OTEL_TOKENS_OUTCOME_KEY",
        _text,
        None,
        "Secret for signing outcome refs (HMAC-SHA256) and pseudonymizing user ids. "
        "Without it, refs are valid only in the issuing process.",
    ),
    Row("ref_ttl_s", "OTEL_TOKENS_REF_TTL", _positive_float, 86400.0, "Seconds an outcome ref stays valid."),
    Row(
        "track_reads",
        "OTEL_TOKENS_TRACK_READS",
        _bool,
        True,
        "Return read-tracking proxies so unread outputs can be told apart; false: unresolved calls end as unmarked.",
    ),
    Row(
        "max_pending",
        "OTEL_TOKENS_MAX_PENDING",
        _positive_int,
        100_000,
        "Most calls awaiting an outcome; past it the oldest is resolved by inference.",
    ),
    Row(
        "max_label_values",
        "OTEL_TOKENS_MAX_LABEL_VALUES",
        _positive_int,
        200,
        "Distinct values per user-supplied metric label (task, team, model) before __other__.",
    ),
    Row(
        "prices_file",
        "OTEL_TOKENS_PRICES",
        _text,
        None,
        "YAML file of per-model prices (USD per million tokens by token type) overriding genai-prices.",
    ),
    Row(
        "capture_content",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
        _capture_content,
        False,
        "Record prompt and completion content on spans (off by default).",
    ),
    Row(
        "prometheus_port",
        "OTEL_TOKENS_PROMETHEUS_PORT",
        _port,
        9464,
        "Port of the /metrics endpoint served by init(); 0 picks a free port, -1 serves none.",
    ),
    Row(
        "prometheus_host",
        "OTEL_TOKENS_PROMETHEUS_HOST",
        _text,
        "127.0.0.1",
        "Address the /metrics endpoint binds to.",
    ),
    Row(
        "mode",
        "OTEL_TOKENS_MODE",
        parse_mode,
        "instrument",
        "'instrument' patches the installed LLM libraries; 'processor' patches nothing and derives metrics and "
        "outcomes from other instrumentations' GenAI spans; 'both' does both and counts each call once.",
    ),
    Row(
        "repeat_window_s",
        "OTEL_TOKENS_REPEAT_WINDOW",
        _positive_float,
        600.0,
        "Seconds within which an identical request counts as a repeat.",
    ),
    Row(
        "runaway_calls",
        "OTEL_TOKENS_RUNAWAY_CALLS",
        _positive_int,
        100,
        "Calls after which a task run counts as runaway.",
    ),
    Row(
        "runaway_tokens",
        "OTEL_TOKENS_RUNAWAY_TOKENS",
        _positive_int,
        1_000_000,
        "Tokens after which a task run counts as runaway.",
    ),
    Row(
        "raise_internal_errors",
        "OTEL_TOKENS_RAISE_INTERNAL_ERRORS",
        _bool,
        False,
        "Re-raise failures inside otel-tokens instead of logging them (for otel-tokens' own tests).",
    ),
)


@dataclass(frozen=True)
class Settings:
    outcome_ttl_s: float
    outcome_key: str | None
    ref_ttl_s: float
    track_reads: bool
    max_pending: int
    max_label_values: int
    prices_file: str | None
    capture_content: bool
    prometheus_port: int
    prometheus_host: str
    mode: str
    repeat_window_s: float
    runaway_calls: int
    runaway_tokens: int
    raise_internal_errors: bool

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the non-None keyword arguments applied (keyword arguments win over env)."""
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        given = {k: v for k, v in overrides.items() if v is not None}
        if "mode" in given:
            given["mode"] = parse_mode(given["mode"])
        return replace(self, **given)


def load(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Read every setting from ``environ`` (default ``os.environ``); a bad value raises ``ValueError`` naming it."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for row in SETTINGS:
        raw = env.get(row.env)
        if raw is None or (raw == "" and row.default is not None and row.parse is not _bool):
            values[row.field] = row.default
            continue
        try:
            values[row.field] = row.parse(raw)
        except ValueError as exc:
            raise ValueError(f"{row.env}: {exc}") from None
    return Settings(**values).with_overrides(**overrides)
