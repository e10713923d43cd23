"""Synthetic workloads as promtool input series: one team's task calling one model at steady rates.

A workload runs through phases (a scale applied to every rate, for some minutes), so a
scenario can model a spike or a day/night cycle. Counters start at 0 and grow every minute.

>>> series(names.COST_USD, {}, 60.0, ((1.0, 3), (2.0, 2)))["values"]
'0 1+1x2 5+2x1'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from otel_tokens import names
from otel_tokens.grafana.alerts import num
from otel_tokens.names import MetricSpec, Outcome, TokenType

Phases = tuple[tuple[float, int], ...]  # (scale of every rate, minutes)
OPERATION: Final = "chat"


@dataclass(frozen=True)
class Load:
    """One team's task calling one model, at steady hourly rates."""

    team: str
    task: str
    usd_per_hour: float
    tokens_per_hour: float = 0.0
    calls_per_hour: float = 0.0
    used: float = 1.0
    unread: float = 0.0
    error_share: float = 0.0
    repeat_share: float = 0.0
    provider: str = "openai"
    model: str = "gpt-4o"

    def labels(self) -> dict[str, str]:
        values = (self.provider, self.model, OPERATION, self.task, self.team)
        return dict(zip(names.CALL_LABELS, values, strict=True))


def _values(per_minute: float, phases: Phases) -> str:
    """Expanding notation of a counter growing by ``per_minute * scale`` in each phase."""
    parts, value = ["0"], 0.0
    for scale, minutes in phases:
        step = round(per_minute * scale, 9)
        parts.append(f"{num(round(value + step, 9))}+{num(step)}x{minutes - 1}")
        value += step * minutes
    return " ".join(parts)


def series(spec: MetricSpec, labels: Mapping[str, str], per_hour: float, phases: Phases) -> dict[str, str]:
    """One promtool input series of counter ``spec`` growing at ``per_hour`` (scaled per phase)."""
    inner = ",".join(f'{key}="{value}"' for key, value in labels.items())
    return {"series": f"{spec.prometheus}{{{inner}}}", "values": _values(per_hour / 60, phases)}


def load_series(load: Load, phases: Phases) -> list[dict[str, str]]:
    """Input series of every call metric the rules read, for ``load`` over ``phases``."""
    base = load.labels()
    split: list[tuple[MetricSpec, str, str, float]] = [
        (names.TOKENS, names.LABEL_TOKEN_TYPE, TokenType.INPUT.value, 0.7 * load.tokens_per_hour),
        (names.TOKENS, names.LABEL_TOKEN_TYPE, TokenType.OUTPUT.value, 0.3 * load.tokens_per_hour),
        (
            names.CALLS,
            names.LABEL_STATUS,
            names.CallStatus.OK.value,
            (1 - load.error_share) * load.calls_per_hour,
        ),
        (
            names.CALLS,
            names.LABEL_STATUS,
            names.CallStatus.ERROR.value,
            load.error_share * load.calls_per_hour,
        ),
    ]
    discarded = 1 - load.used - load.unread
    for outcome, part in (
        (Outcome.USED, load.used),
        (Outcome.UNREAD, load.unread),
        (Outcome.DISCARDED, discarded),
    ):
        split.append((names.OUTCOME_TOKENS, names.LABEL_OUTCOME, outcome.value, part * load.tokens_per_hour))
    out = [series(names.COST_USD, base, load.usd_per_hour, phases)]
    out += [series(spec, {**base, key: value}, rate, phases) for spec, key, value, rate in split if rate > 0]
    if load.repeat_share:
        out.append(series(names.REPEAT_CALLS, base, load.repeat_share * load.calls_per_hour, phases))
    return out
