"""Alerting rules on the recorded rates: budget burn, spend anomaly, tokenmaxxing, repeats, pricing, errors.

Every alert carries a ``severity`` label and ``summary``, ``description`` and ``runbook``
annotations. Annotations use only ``{{ $labels.<name> }}`` (never ``$value``), so promtool
tests can state them exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any, Final

from otel_tokens import names
from otel_tokens.grafana import recording as rec
from otel_tokens.grafana.queries import SECONDS_PER_HOUR, SECONDS_PER_MONTH, aggregate, by_clause, selector

RUNBOOK: Final = "README.md#alerts"
BUDGET_BURN_FAST: Final = "OtelTokensBudgetBurnFast"
BUDGET_BURN_SLOW: Final = "OtelTokensBudgetBurnSlow"
SPEND_ANOMALY: Final = "OtelTokensSpendAnomaly"
TOKENMAXXING_TEAM: Final = "OtelTokensTokenmaxxingTeam"
TOKENMAXXING_TASK: Final = "OtelTokensTokenmaxxingTask"
HIGH_REPEAT_SHARE: Final = "OtelTokensHighRepeatShare"
UNPRICED_MODEL: Final = "OtelTokensUnpricedModel"
LLM_ERROR_RATE: Final = "OtelTokensLLMErrorRate"
Rule = dict[str, Any]


def _flag(default: float | str, text: str) -> Any:
    return field(default=default, metadata={"help": text})


@dataclass(frozen=True)
class Thresholds:
    """Alert thresholds; each field becomes a ``--flag`` of ``otel-tokens rules``."""

    fast_burn: float = _flag(14.4, "budget burn factor over 1h and 5m that pages")
    slow_burn: float = _flag(6.0, "budget burn factor over 6h and 30m that opens a ticket")
    anomaly_stddevs: float = _flag(3.0, "spend anomaly: standard deviations above the trailing baseline")
    anomaly_min_ratio: float = _flag(1.5, "spend anomaly: and at least this multiple of the baseline")
    anomaly_min_usd_per_hour: float = _flag(
        1.0, "spend anomaly: and at least this spend, so quiet teams stay silent"
    )
    baseline_window: str = _flag("7d", "trailing window of the spend baseline")
    tokenmaxxing_min_tokens_per_hour: float = _flag(
        1e6, "tokenmaxxing: tokens per hour that count as high volume"
    )
    tokenmaxxing_max_yield: float = _flag(0.3, "tokenmaxxing: yield below this is low")
    tokenmaxxing_max_unread_share: float = _flag(0.5, "tokenmaxxing: unread share above this is high")
    repeat_max_share: float = _flag(0.25, "repeated share of a task's calls above this alerts")
    repeat_min_calls_per_hour: float = _flag(100.0, "repeat alert ignores tasks with fewer calls per hour")
    error_max_share: float = _flag(0.1, "failed share of a model's calls above this alerts")
    error_min_calls_per_minute: float = _flag(1.0, "error alert ignores models with fewer calls per minute")

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith(("_share", "_yield")) and not 0 < value < 1:
                raise ValueError(f"{f.name} must be between 0 and 1, got {value!r}")
            if isinstance(value, float) and not value > 0:
                raise ValueError(f"{f.name} must be positive, got {value!r}")
        if not re.fullmatch(r"[1-9][0-9]*[mhdw]", self.baseline_window):
            raise ValueError(f"baseline_window must be a duration like 7d, got {self.baseline_window!r}")
        if self.slow_burn >= self.fast_burn:
            raise ValueError("slow_burn must be below fast_burn")


def num(value: float) -> str:
    """A PromQL number literal: ``1000`` not ``1000.0``."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def label(name: str) -> str:
    """Prometheus template of a label value, for annotations."""
    return f"{{{{ $labels.{name} }}}}"


def _alert(name: str, expr: str, wait: str, severity: str, text: tuple[str, str, str]) -> Rule:
    summary, description, action = text
    annotations = {"summary": summary, "description": description, "runbook": f"{action} See {RUNBOOK}."}
    rule = {
        "alert": name,
        "expr": expr,
        "for": wait,
        "labels": {"severity": severity},
        "annotations": annotations,
    }
    return rule if wait != "0s" else {k: v for k, v in rule.items() if k != "for"}


def _burn(
    name: str, factor: float, windows: tuple[str, str], wait: str, severity: str, budget: float
) -> Rule:
    budget_rate = f"{num(factor)} * ({num(budget)} / {SECONDS_PER_MONTH})"
    long, short = (rec.record_name(rec.ORG, names.COST_USD, f"rate{w}") for w in windows)
    days = 30 / factor
    text = (
        f"LLM spend is burning the monthly budget {num(factor)}x too fast",
        f"Spend over the last {windows[0]} and {windows[1]} is above {num(factor)} times the rate that spends "
        f"the monthly budget of {num(budget)} USD in 30 days: at this pace it is gone in {days:.1f} days.",
        "Open the 'Spend and anomalies' dashboard, find the team and task under Top movers, and stop or "
        "throttle that job; otel_tokens.task(max_cost_usd=...) caps a run.",
    )
    return _alert(name, f"{long} > {budget_rate}\nand\n{short} > {budget_rate}", wait, severity, text)


def _anomaly(t: Thresholds) -> Rule:
    hourly = rec.record_name(rec.TEAM, names.COST_USD, "rate1h")
    avg, spread = rec.baseline_name("avg", t.baseline_window), rec.baseline_name("stddev", t.baseline_window)
    expr = (
        f"{hourly} > {avg} + {num(t.anomaly_stddevs)} * {spread}\n"
        f"and {hourly} > {num(t.anomaly_min_ratio)} * {avg}\n"
        f"and {hourly} > {num(t.anomaly_min_usd_per_hour)} / {SECONDS_PER_HOUR}"
    )
    text = (
        f"Team {label(names.LABEL_TEAM)} spends far above its usual rate",
        f"The last hour's spend of team {label(names.LABEL_TEAM)} is over {num(t.anomaly_stddevs)} standard "
        f"deviations and {num(t.anomaly_min_ratio)}x above its {t.baseline_window} baseline, and above "
        f"{num(t.anomaly_min_usd_per_hour)} USD/h.",
        "Compare the team's tasks on the 'Spend and anomalies' dashboard (Top movers, Runaway runs); "
        "confirm the new load is intended with the team.",
    )
    return _alert(SPEND_ANOMALY, expr, "15m", "warning", text)


def _tokenmaxxing(level: tuple[str, ...], name: str, t: Thresholds) -> Rule:
    volume = rec.record_name(level, names.TOKENS, f"rate{rec.OUTCOME_WINDOW}")
    yield_ = rec.record_name(level, names.OUTCOME_TOKENS, rec.USED_RATIO)
    unread = rec.record_name(level, names.OUTCOME_TOKENS, rec.UNREAD_RATIO)
    expr = (
        f"{volume} > {num(t.tokenmaxxing_min_tokens_per_hour)} / {SECONDS_PER_HOUR}\n"
        f"and (\n  {yield_} < {num(t.tokenmaxxing_max_yield)}\n  or {unread} > "
        f"{num(t.tokenmaxxing_max_unread_share)}\n)"
    )
    who = " ".join(f"{key} {label(key)}" for key in level)
    text = (
        f"High LLM volume with little used output ({who})",
        f"{who[0].upper()}{who[1:]} burns over {t.tokenmaxxing_min_tokens_per_hour:,.0f} tokens/h while under "
        f"{t.tokenmaxxing_max_yield:.0%} of its tokens are used or over {t.tokenmaxxing_max_unread_share:.0%} "
        "are never read.",
        "Check the 'Outcome leaderboard' for the unread and discarded share; ask the owners whether the "
        "output is consumed (and marked used) or the job can be stopped.",
    )
    return _alert(name, expr, "30m", "warning", text)


def _repeats(t: Thresholds) -> Rule:
    share_ = rec.record_name(rec.TEAM_TASK, names.REPEAT_CALLS, f"ratio_rate{rec.OUTCOME_WINDOW}")
    calls = rec.record_name(rec.TEAM_TASK, names.CALLS, f"rate{rec.OUTCOME_WINDOW}")
    expr = (
        f"{share_} > {num(t.repeat_max_share)}\n"
        f"and {calls} > {num(t.repeat_min_calls_per_hour)} / {SECONDS_PER_HOUR}"
    )
    task = f"task {label(names.LABEL_TASK)} of team {label(names.LABEL_TEAM)}"
    text = (
        f"Many repeated LLM requests in {task}",
        f"Over {t.repeat_max_share:.0%} of the calls of {task} repeat a request seen shortly before.",
        "Cache the responses or fix the retry loop; the repeat share per task is on 'Spend and anomalies'.",
    )
    return _alert(HIGH_REPEAT_SHARE, expr, "30m", "info", text)


def _unpriced() -> Rule:
    by = (names.LABEL_PROVIDER, names.LABEL_MODEL)
    seen = aggregate(names.UNPRICED_CALLS, "1h", by=by, func="increase", filters=())
    counter = selector(names.UNPRICED_CALLS, filters=())
    # increase() misses a counter's first appearance, so a series new within the hour counts too.
    expr = f"{seen} > 0\nor\nsum{by_clause(by)}({counter} unless {counter} offset 1h)"
    model = f"{label(names.LABEL_MODEL)} ({label(names.LABEL_PROVIDER)})"
    text = (
        f"Calls to model {model} have no price",
        f"Calls to {model} count as 0 USD in every spend figure and budget alert.",
        "Add the model to the price override file (OTEL_TOKENS_PRICES) or upgrade genai-prices.",
    )
    return _alert(UNPRICED_MODEL, expr, "0s", "info", text)


def _errors(t: Thresholds) -> Rule:
    share_ = rec.record_name(rec.PROVIDER_MODEL, names.CALLS, f"error_ratio_rate{rec.ERROR_WINDOW}")
    calls = rec.record_name(rec.PROVIDER_MODEL, names.CALLS, f"rate{rec.ERROR_WINDOW}")
    expr = f"{share_} > {num(t.error_max_share)}\nand {calls} > {num(t.error_min_calls_per_minute)} / 60"
    model = f"{label(names.LABEL_MODEL)} ({label(names.LABEL_PROVIDER)})"
    text = (
        f"LLM calls to {model} are failing",
        f"Over {t.error_max_share:.0%} of the calls to {model} failed in the last {rec.ERROR_WINDOW}.",
        "Check the provider status page and the error.type of the failed spans; fail over or back off.",
    )
    return _alert(LLM_ERROR_RATE, expr, "10m", "warning", text)


def alerting_rules(monthly_budget_usd: float, t: Thresholds) -> list[Rule]:
    """Every alert, budget burn first."""
    return [
        _burn(BUDGET_BURN_FAST, t.fast_burn, ("1h", "5m"), "2m", "critical", monthly_budget_usd),
        _burn(BUDGET_BURN_SLOW, t.slow_burn, ("6h", "30m"), "15m", "warning", monthly_budget_usd),
        _anomaly(t),
        _tokenmaxxing(rec.TEAM, TOKENMAXXING_TEAM, t),
        _tokenmaxxing(rec.TEAM_TASK, TOKENMAXXING_TASK, t),
        _repeats(t),
        _unpriced(),
        _errors(t),
    ]
