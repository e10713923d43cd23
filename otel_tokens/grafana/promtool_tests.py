"""Generates the ``promtool test rules`` file for the generated rules.

Each alert gets a scenario where it fires; every alert must stay silent for an honest heavy user
(high volume, high yield, steady day/night spend) and for a quiet service (tiny volume, terrible
yield, a 20x spike). Loads are derived from the thresholds, so custom thresholds keep valid
tests. Values are compared only as alerts or through ``round()``, so nothing depends on float noise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from otel_tokens import names
from otel_tokens.grafana import alerts as a
from otel_tokens.grafana import recording as rec
from otel_tokens.grafana.alerts import Thresholds
from otel_tokens.grafana.queries import SECONDS_PER_HOUR, SECONDS_PER_MONTH
from otel_tokens.grafana.rules import alert_rules, build_rules
from otel_tokens.grafana.workloads import Load, Phases, load_series, series

DAY: Final = 24 * 60
# Two days give the baseline a day/night cycle; promtool time grows with the length (8 days took 20 s).
HISTORY: Final = 2 * DAY
# promtool caps a query at 10000 samples: a 7-day window of a rule evaluated every minute is 10080.
EVALUATION_INTERVAL: Final = "5m"
_TEMPLATE: Final = re.compile(r"\{\{ \$labels\.(\w+) \}\}")


def _render(text: str, labels: Mapping[str, str]) -> str:
    rendered = _TEMPLATE.sub(lambda m: labels.get(m[1], ""), text)
    if "{{" in rendered:
        raise ValueError(f"annotation uses more than $labels, cannot be stated exactly: {text!r}")
    return rendered


def _check(rule: Mapping[str, Any], minutes: int, labels: Mapping[str, str] | None) -> dict[str, Any]:
    """``rule`` fires with ``labels`` at ``minutes`` (stays silent when ``labels`` is None)."""
    expected = []
    if labels is not None:
        annotations = {key: _render(text, labels) for key, text in rule["annotations"].items()}
        expected.append({"exp_labels": {**labels, **rule["labels"]}, "exp_annotations": annotations})
    return {"eval_time": f"{minutes}m", "alertname": rule["alert"], "exp_alerts": expected}


@dataclass(frozen=True)
class Scenario:
    """A workload, when to check it, and which alerts must fire (all others stay silent)."""

    name: str
    loads: tuple[Load, ...]
    phases: Phases
    at: int  # minute at which alerts are checked
    fires: Mapping[str, Load]  # alert -> the load it fires for; an empty mapping means every alert is silent
    silent: tuple[str, ...] = ()  # alerts that must not fire at ``at`` besides
    extra: tuple[dict[str, str], ...] = ()
    checks: tuple[tuple[str, str, float], ...] = ()  # round()ed PromQL, its labels and exact value at ``at``


# Labels an alert carries besides severity: the grouping of the rates it reads.
FIRING_LABELS: Final = {
    a.BUDGET_BURN_FAST: rec.ORG,
    a.BUDGET_BURN_SLOW: rec.ORG,
    a.SPEND_ANOMALY: rec.TEAM,
    a.TOKENMAXXING_TEAM: rec.TEAM,
    a.TOKENMAXXING_TASK: rec.TEAM_TASK,
    a.HIGH_REPEAT_SHARE: rec.TEAM_TASK,
    a.UNPRICED_MODEL: rec.PROVIDER_MODEL,
    a.LLM_ERROR_RATE: rec.PROVIDER_MODEL,
}


def scenarios(budget: float, t: Thresholds) -> list[Scenario]:
    """The scenarios, with loads scaled to the budget and thresholds."""
    budget_per_hour = budget / SECONDS_PER_MONTH * SECONDS_PER_HOUR
    floor, volume, calls = (
        t.anomaly_min_usd_per_hour,
        t.tokenmaxxing_min_tokens_per_hour,
        t.repeat_min_calls_per_hour,
    )
    fast = Load("growth", "summarize", 1.5 * t.fast_burn * budget_per_hour)
    slow = replace(fast, usd_per_hour=(t.fast_burn + t.slow_burn) / 2 * budget_per_hour)
    spike = replace(fast, usd_per_hour=2 * floor)
    low_yield = t.tokenmaxxing_max_yield / 2
    maxx = Load("growth", "auto-summarize", 1.0, 5 * volume, used=low_yield, unread=(1 - low_yield) * 0.9)
    repeats = Load(
        "support", "triage", 0.5, calls_per_hour=4 * calls, repeat_share=(1 + t.repeat_max_share) / 2
    )
    per_hour = 240 * t.error_min_calls_per_minute
    errors = Load("support", "triage", 1.0, calls_per_hour=per_hour, error_share=(1 + t.error_max_share) / 2)
    unpriced = Load("research", "eval", 0.0, provider="acme", model="acme-large-2")
    appears = series(names.UNPRICED_CALLS, unpriced.labels(), 0.0, ((1.0, 200),))
    appears["values"] = "1+0x200"  # the counter's first sample is already 1: increase() alone misses it
    good = 1 - (1 - t.tokenmaxxing_max_yield) / 4
    unread = min(t.tokenmaxxing_max_unread_share / 4, (1 - good) / 2)
    honest = Load("research", "code-review", 0.8 * budget_per_hour, 3 * volume, 6 * calls, good, unread)
    honest = replace(honest, error_share=t.error_max_share / 10, repeat_share=t.repeat_max_share / 10)
    # Quiet even during its 20x spike: every rate stays a fifth of the alerts' volume floors.
    few = min(calls, 60 * t.error_min_calls_per_minute) / 100
    quiet = Load("ops", "nightly-digest", floor / 100, volume / 100, few, 0.0, 1.0, 0.5, 0.9)
    history: Phases = ((1.0, HISTORY),)
    # Checked two hours into a day shift: above the anomaly floor, yet a swing the baseline has seen.
    day_night: Phases = ((0.6, DAY // 2), (1.4, DAY // 2)) * 2 + ((0.6, DAY // 2), (1.4, 120))
    hourly = rec.record_name(rec.ORG, names.COST_USD, "rate1h")
    used = rec.record_name(rec.TEAM, names.OUTCOME_TOKENS, rec.USED_RATIO)
    return [
        Scenario(
            "budget burns fast",
            (fast,),
            ((1.0, 80),),
            70,
            {a.BUDGET_BURN_FAST: fast},
            checks=((f"round(100 * 3600 * {hourly})", "{}", round(100 * fast.usd_per_hour)),),
        ),
        Scenario(
            "budget burns slowly",
            (slow,),
            ((1.0, 430),),
            420,
            {a.BUDGET_BURN_SLOW: slow},
            (a.BUDGET_BURN_FAST,),
        ),
        Scenario(
            "team spend spikes",
            (spike,),
            (*history, (10.0, 100)),
            HISTORY + 90,
            {a.SPEND_ANOMALY: spike},
        ),
        Scenario(
            "tokenmaxxing",
            (maxx,),
            ((1.0, 120),),
            100,
            {a.TOKENMAXXING_TEAM: maxx, a.TOKENMAXXING_TASK: maxx},
            checks=(
                (f"round(100 * {used})", f'{{{names.LABEL_TEAM}="{maxx.team}"}}', round(100 * low_yield)),
            ),
        ),
        Scenario("repeated requests", (repeats,), ((1.0, 100),), 90, {a.HIGH_REPEAT_SHARE: repeats}),
        Scenario(
            "unpriced model", (unpriced,), ((1.0, 20),), 10, {a.UNPRICED_MODEL: unpriced}, extra=(appears,)
        ),
        Scenario(
            "unpriced model an hour later",
            (unpriced,),
            ((1.0, 200),),
            150,
            {},
            (a.UNPRICED_MODEL,),
            (appears,),
        ),
        Scenario("failing model", (errors,), ((1.0, 40),), 30, {a.LLM_ERROR_RATE: errors}),
        Scenario("honest heavy user stays silent", (honest,), day_night, HISTORY + DAY // 2 + 110, {}),
        Scenario("quiet service stays silent", (quiet,), (*history, (20.0, 120)), HISTORY + 110, {}),
    ]


def _test_case(scenario: Scenario, rules: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    series = [s for load in scenario.loads for s in load_series(load, scenario.phases)] + list(scenario.extra)
    checked: list[dict[str, Any]] = []
    for alert, load in scenario.fires.items():
        labels = {key: load.labels()[key] for key in FIRING_LABELS[alert]}
        checked.append(_check(rules[alert], scenario.at, labels))
    silent = scenario.silent if scenario.fires else tuple(rules)
    checked += [_check(rules[alert], scenario.at, None) for alert in silent]
    case: dict[str, Any] = {"name": scenario.name, "interval": "1m", "input_series": series}
    case["alert_rule_test"] = checked
    if scenario.checks:
        case["promql_expr_test"] = [
            {
                "expr": expr,
                "eval_time": f"{scenario.at}m",
                "exp_samples": [{"labels": labels, "value": value}],
            }
            for expr, labels, value in scenario.checks
        ]
    return case


def build_tests(
    rule_file: str, monthly_budget_usd: float, thresholds: Thresholds | None = None
) -> dict[str, Any]:
    """The promtool test file (as a dict) for the rules ``build_rules`` makes from the same arguments."""
    t = thresholds or Thresholds()
    doc = build_rules(monthly_budget_usd, t)
    rules = {rule["alert"]: rule for rule in alert_rules(doc)}
    if set(rules) != set(FIRING_LABELS):
        raise ValueError(f"alerts without test scenarios: {sorted(set(rules) ^ set(FIRING_LABELS))}")
    return {
        "rule_files": [rule_file],
        "evaluation_interval": EVALUATION_INTERVAL,
        "group_eval_order": [group["name"] for group in doc["groups"]],
        "tests": [_test_case(s, rules) for s in scenarios(monthly_budget_usd, t)],
    }
