"""Recording rules: the spend, outcome and error rates the alerts (and heavy dashboards) read.

Names follow ``level:metric:operations``: the aggregation labels joined by ``_`` (empty for a
sum over everything), the Prometheus metric without ``_total``, then the operations.

>>> record_name(TEAM, names.COST_USD, "rate5m")
'team:otel_tokens_cost_usd:rate5m'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from otel_tokens import names
from otel_tokens.grafana.queries import NO_FILTERS, aggregate, eq, outcome_share, share
from otel_tokens.names import MetricSpec, Outcome

ORG: Final[tuple[str, ...]] = ()
TEAM: Final = (names.LABEL_TEAM,)
TEAM_TASK: Final = (names.LABEL_TEAM, names.LABEL_TASK)
PROVIDER_MODEL: Final = (names.LABEL_PROVIDER, names.LABEL_MODEL)
BURN_WINDOWS: Final = ("5m", "30m", "1h", "6h")
ERROR_WINDOW: Final = "5m"
OUTCOME_WINDOW: Final = "1h"  # outcomes resolve up to OTEL_TOKENS_OUTCOME_TTL (5 min) after the call
USED_RATIO: Final = f"{Outcome.USED.value}_ratio_rate{OUTCOME_WINDOW}"
UNREAD_RATIO: Final = f"{Outcome.UNREAD.value}_ratio_rate{OUTCOME_WINDOW}"

Rule = dict[str, str]


def record_name(level: Sequence[str], spec: MetricSpec, operations: str) -> str:
    """``team_task:otel_tokens_tokens:rate1h``: aggregation labels, metric without ``_total``, operations."""
    return f"{'_'.join(level)}:{spec.prometheus.removesuffix('_total')}:{operations}"


def baseline_name(stat: str, window: str) -> str:
    """``team:otel_tokens_cost_usd:rate1h_avg_over_time7d`` and its ``stddev`` twin."""
    return record_name(TEAM, names.COST_USD, f"rate1h_{stat}_over_time{window}")


def _record(level: Sequence[str], spec: MetricSpec, operations: str, expr: str) -> Rule:
    return {"record": record_name(level, spec, operations), "expr": expr}


def _rate(spec: MetricSpec, window: str, level: Sequence[str]) -> str:
    return aggregate(spec, window, by=level, filters=NO_FILTERS)


def spend_records() -> list[Rule]:
    """Spend rates: everything over the burn-rate windows, per team over 5m and 1h."""
    cost = names.COST_USD
    org = [_record(ORG, cost, f"rate{w}", _rate(cost, w, ORG)) for w in BURN_WINDOWS]
    return org + [_record(TEAM, cost, f"rate{w}", _rate(cost, w, TEAM)) for w in ("5m", "1h")]


def baseline_records(window: str) -> list[Rule]:
    """Mean and standard deviation of each team's hourly spend rate over the trailing ``window``."""
    hourly = record_name(TEAM, names.COST_USD, "rate1h")
    # Offset by the hour being judged, so a spike does not raise its own baseline.
    return [
        {"record": baseline_name(stat, window), "expr": f"{stat}_over_time({hourly}[{window}] offset 1h)"}
        for stat in ("avg", "stddev")
    ]


def outcome_records() -> list[Rule]:
    """Token volume, yield and unread share per team and per task; repeat share per task."""
    rules, w = [], OUTCOME_WINDOW
    for level in (TEAM, TEAM_TASK):
        rules.append(_record(level, names.TOKENS, f"rate{w}", _rate(names.TOKENS, w, level)))
        for outcome, operations in ((Outcome.USED, USED_RATIO), (Outcome.UNREAD, UNREAD_RATIO)):
            expr = outcome_share((outcome.value,), names.OUTCOME_TOKENS, w, level, NO_FILTERS, "rate")
            rules.append(_record(level, names.OUTCOME_TOKENS, operations, expr))
    calls = _rate(names.CALLS, w, TEAM_TASK)
    rules.append(_record(TEAM_TASK, names.CALLS, f"rate{w}", calls))
    repeats = share(_rate(names.REPEAT_CALLS, w, TEAM_TASK), calls)
    rules.append(_record(TEAM_TASK, names.REPEAT_CALLS, f"ratio_rate{w}", repeats))
    return rules


def error_records() -> list[Rule]:
    """Call rate and failed share per provider and model."""
    w, level = ERROR_WINDOW, PROVIDER_MODEL
    failed = eq(names.LABEL_STATUS, names.CallStatus.ERROR.value)
    errors = aggregate(names.CALLS, w, failed, by=level, filters=NO_FILTERS)
    return [
        _record(level, names.CALLS, f"rate{w}", _rate(names.CALLS, w, level)),
        _record(level, names.CALLS, f"error_ratio_rate{w}", share(errors, _rate(names.CALLS, w, level))),
    ]
