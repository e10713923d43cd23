"""What each dashboard shows: plain panel specs built from :mod:`queries`, rendered by :mod:`dashboards`.

Kept free of grafanalib so the content of a dashboard can be read (and tested) on its own.
Leaderboards group by team and task only: there are no per-person labels, by design.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from otel_tokens import names
from otel_tokens.grafana import queries as q

PanelKind = Literal["timeseries", "stat", "table", "bargauge"]
Steps = tuple[tuple[str, float | None], ...]  # (colour, lower bound); the first bound is None
USD: Final = "currencyUSD"
SHARE: Final = "percentunit"
COUNT: Final = "short"
BUDGET_VARIABLE: Final = "monthly_budget_usd"
DEFAULT_MONTHLY_BUDGET_USD: Final = 1000
BAND_STDDEVS: Final = 3
# Red below half, amber below 80 %: the same reading everywhere a yield is shown.
YIELD_STEPS: Final[Steps] = (("red", None), ("orange", 0.5), ("green", 0.8))


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""
    instant: bool = False
    column: str = ""  # table column title (instant table queries)
    unit: str = ""  # per-column unit for tables


@dataclass(frozen=True)
class Panel:
    kind: PanelKind
    title: str
    description: str
    queries: tuple[Query, ...]
    unit: str = COUNT
    width: int = 8
    height: int = 8
    stacked: bool = False
    bars: bool = False
    steps: Steps = ()
    threshold_lines: bool = False


@dataclass(frozen=True)
class Dashboard:
    uid: str
    filename: str
    title: str
    description: str
    panels: tuple[Panel, ...]
    with_budget: bool = False


def legend(*labels: str) -> str:
    """Grafana legend showing the given labels: ``{{team}} / {{task}}``."""
    return " / ".join("{{%s}}" % label for label in labels)


def _stat(title: str, description: str, expr: str, unit: str, steps: Steps = ()) -> Panel:
    return Panel(
        "stat", title, description, (Query(expr, instant=True),), unit, width=4, height=5, steps=steps
    )


def _leaderboard(level: tuple[str, ...], title: str) -> Panel:
    cols = (
        ("Used tokens", q.used(names.OUTCOME_TOKENS, by=level), COUNT),
        ("Yield", q.yield_share(by=level), SHARE),
        ("Cost per used output", q.cost_per_used_output(by=level), USD),
        ("Unread share", q.outcome_share((names.Outcome.UNREAD.value,), by=level), SHARE),
        ("Spend", q.spend_usd(by=level), USD),
        ("Tokens", q.volume(names.TOKENS, by=level), COUNT),
        ("Calls", q.volume(names.CALLS, by=level), COUNT),
    )
    queries = tuple(Query(expr, instant=True, column=name, unit=unit) for name, expr, unit in cols)
    description = "Sorted by used tokens (output that was actually used), never by raw volume."
    return Panel("table", title, description, queries, width=24, height=10)


def overview() -> Dashboard:
    waste = "Tokens whose output was never read or was thrown away."
    panels = (
        _stat("Yield (tokens)", "Used share of resolved tokens.", q.yield_share(), SHARE, steps=YIELD_STEPS),
        _stat(
            "Yield (cost)",
            "Used share of resolved spend.",
            q.yield_share(names.OUTCOME_COST_USD),
            SHARE,
            steps=YIELD_STEPS,
        ),
        _stat("Spend", "Spend over the selected range.", q.spend_usd(), USD),
        _stat(
            "Cost per used output",
            "Cost of used calls / number of used calls.",
            q.cost_per_used_output(),
            USD,
        ),
        _stat("Waste (tokens)", waste, q.waste(names.OUTCOME_TOKENS), COUNT),
        _stat("Waste (USD)", waste.replace("Tokens", "Dollars"), q.waste(names.OUTCOME_COST_USD), USD),
        Panel(
            "timeseries",
            "Spend rate",
            "US dollars per hour.",
            (Query(q.spend_usd_per_hour(), "USD/h"),),
            USD,
            12,
        ),
        Panel(
            "timeseries",
            "Outcomes over time",
            "Resolved tokens per second, stacked by outcome.",
            (Query(q.outcomes_over_time(), legend(names.LABEL_OUTCOME)),),
            width=12,
            stacked=True,
        ),
        Panel(
            "timeseries",
            "Pending calls",
            "Calls awaiting an outcome.",
            (Query(q.pending_calls(), "pending"),),
        ),
        Panel(
            "stat",
            "Unpriced calls",
            "Calls whose model had no known price: their cost is missing from every spend figure.",
            (Query(q.volume(names.UNPRICED_CALLS), instant=True),),
        ),
        Panel(
            "timeseries",
            "Internal errors",
            "Failures inside otel-tokens, by stage (never the user's calls).",
            (Query(q.internal_errors(), legend(names.LABEL_STAGE)),),
            bars=True,
        ),
    )
    return Dashboard(
        "otel-tokens-overview",
        "otel-tokens-overview.json",
        "Outcomes overview",
        "Yield, spend and waste.",
        panels,
    )


def leaderboard() -> Dashboard:
    team, task = names.LABEL_TEAM, names.LABEL_TASK
    description = "Outcome-linked usage per team and per task over the selected range. No per-person rows."
    panels = (
        _leaderboard((team,), "Teams by used tokens"),
        _leaderboard((team, task), "Tasks by used tokens"),
    )
    return Dashboard(
        "otel-tokens-leaderboard", "otel-tokens-leaderboard.json", "Outcome leaderboard", description, panels
    )


def spend() -> Dashboard:
    budget_per_hour = f"${BUDGET_VARIABLE} / {q.SECONDS_PER_MONTH // q.SECONDS_PER_HOUR}"
    burn = f"{q.spend_usd_per_hour('1h')} / ({budget_per_hour})"
    burn6h = f"{q.spend_usd_per_hour('6h')} / ({budget_per_hour})"
    baseline, spread = q.spend_baseline("avg"), q.spend_baseline("stddev")
    team_task = (names.LABEL_TEAM, names.LABEL_TASK)
    dur, ttfc = names.OPERATION_DURATION, names.TIME_TO_FIRST_CHUNK
    panels = (
        Panel(
            "timeseries",
            "Spend vs budget",
            f"Spend per hour against the monthly budget (variable {BUDGET_VARIABLE}) spread over 30 days.",
            (Query(q.spend_usd_per_hour(), "spend"), Query(budget_per_hour, "budget")),
            USD,
            12,
        ),
        Panel(
            "timeseries",
            "Budget burn rate",
            "Spend rate / budget rate. The burn-rate alerts fire above 14.4 (1h) and 6 (6h).",
            (Query(burn, "1h"), Query(burn6h, "6h")),
            width=12,
            steps=(("green", None), ("orange", 6.0), ("red", 14.4)),
            threshold_lines=True,
        ),
        Panel(
            "timeseries",
            "Spend vs trailing baseline",
            f"Hourly spend against its 7-day average ± {BAND_STDDEVS} standard deviations.",
            (
                Query(q.spend_usd_per_hour("1h"), "spend"),
                Query(baseline, "baseline"),
                Query(f"{baseline} + {BAND_STDDEVS} * {spread}", "upper"),
                Query(f"clamp_min({baseline} - {BAND_STDDEVS} * {spread}, 0)", "lower"),
            ),
            USD,
            12,
        ),
        Panel(
            "bargauge",
            "Top movers",
            "Team and task whose hourly spend rose most against the same hour yesterday.",
            (Query(q.top_movers(by=team_task), legend(*team_task), instant=True),),
            USD,
            12,
        ),
        Panel(
            "timeseries",
            "Latency",
            "Operation duration (semconv histogram, filtered by model and provider only).",
            (Query(q.quantile(0.5, dur), "p50"), Query(q.quantile(0.95, dur), "p95")),
            "s",
        ),
        Panel(
            "timeseries",
            "Time to first chunk",
            "Streams only (semconv histogram, filtered by model and provider only).",
            (Query(q.quantile(0.5, ttfc), "p50"), Query(q.quantile(0.95, ttfc), "p95")),
            "s",
        ),
        Panel(
            "timeseries",
            "Error rate",
            "Share of calls that failed, by provider.",
            (Query(q.error_share(by=(names.LABEL_PROVIDER,)), legend(names.LABEL_PROVIDER)),),
            SHARE,
        ),
        Panel(
            "timeseries",
            "Repeat share per task",
            "Share of calls whose request was already seen within the repeat window.",
            (Query(q.repeat_share(by=(names.LABEL_TASK,)), legend(names.LABEL_TASK)),),
            SHARE,
            12,
        ),
        Panel(
            "timeseries",
            "Runaway runs",
            "Task runs over the call or token threshold.",
            (Query(q.volume(names.RUNAWAY_RUNS, q.RATE_WINDOW, by=team_task), legend(*team_task)),),
            width=12,
            bars=True,
        ),
    )
    description = "Budget burn, anomalies against the trailing baseline, latency, errors and repeats."
    return Dashboard(
        "otel-tokens-spend", "otel-tokens-spend.json", "Spend and anomalies", description, panels, True
    )


def all_dashboards() -> tuple[Dashboard, ...]:
    return (overview(), leaderboard(), spend())
