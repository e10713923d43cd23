"""What each dashboard shows: plain panel specs built from :mod:`queries`, rendered by :mod:`dashboards`.

Kept free of grafanalib so the content of a dashboard can be read (and tested) on its own.
Leaderboards group by team and task only: there are no per-person labels, by design.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final, Literal

from otel_tokens import names
from otel_tokens.grafana import queries as q
from otel_tokens.grafana.alerts import Thresholds

PanelKind = Literal["timeseries", "stat", "table", "bargauge"]
Steps = tuple[tuple[str, float | None], ...]  # (colour, lower bound); the first bound is None
USD, SHARE, COUNT = "currencyUSD", "percentunit", "short"  # Grafana unit ids
BUDGET_VARIABLE: Final = "monthly_budget_usd"
DEFAULT_MONTHLY_BUDGET_USD: Final = 1000
BAND_STDDEVS: Final = 3
# Red below half, amber below 80 %: the same reading everywhere a yield is shown.
YIELD_STEPS: Final[Steps] = (("red", None), ("orange", 0.5), ("green", 0.8))


@dataclass(frozen=True)
class Query:
    """One PromQL target of a panel; ``column`` and ``unit`` name a leaderboard column."""

    expr: str
    legend: str = ""
    instant: bool = False
    column: str = ""
    unit: str = ""


@dataclass(frozen=True)
class Panel:
    """One panel: what it shows and its size, not how grafanalib draws it."""

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
    """One dashboard: its stable uid, file name and panels in reading order."""

    uid: str
    filename: str
    title: str
    description: str
    panels: tuple[Panel, ...]
    with_budget: bool = False


def legend(*labels: str) -> str:
    """Grafana legend showing the given labels: ``{{team}} / {{task}}``."""
    return " / ".join(f"{{{{{label}}}}}" for label in labels)


def _stat(title: str, description: str, expr: str, unit: str, steps: Steps = ()) -> Panel:
    return Panel("stat", title, description, (Query(expr, instant=True),), unit, 4, 5, steps=steps)


def _quantiles(spec: names.MetricSpec) -> tuple[Query, ...]:
    return tuple(Query(q.quantile(p, spec), f"p{round(p * 100)}") for p in (0.5, 0.95))


def _series(
    title: str, about: str, *queries: Query, unit: str = COUNT, width: int = 8, bars: bool = False
) -> Panel:
    return Panel("timeseries", title, about, queries, unit, width, bars=bars)


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
    """Outcomes overview: yield, spend, cost per used output, waste, outcomes, health."""
    waste = "whose output was never read or was thrown away."
    unpriced = "Calls whose model had no known price: their cost is missing from every spend figure."
    health = "Failures inside otel-tokens by stage (never the user's calls), and label overflows."
    overflows = q.volume(names.LABEL_OVERFLOWS, q.RATE_WINDOW, (names.LABEL_LABEL,))
    cost_yield = q.yield_share(names.OUTCOME_COST_USD)
    panels = (
        _stat("Yield (tokens)", "Used share of resolved tokens.", q.yield_share(), SHARE, YIELD_STEPS),
        _stat("Yield (cost)", "Used share of resolved spend.", cost_yield, SHARE, YIELD_STEPS),
        _stat("Spend", "Spend over the selected range.", q.spend_usd(), USD),
        _stat("Cost per used output", "Cost of used calls / used calls.", q.cost_per_used_output(), USD),
        _stat("Waste (tokens)", f"Tokens {waste}", q.waste(names.OUTCOME_TOKENS), COUNT),
        _stat("Waste (USD)", f"Dollars {waste}", q.waste(names.OUTCOME_COST_USD), USD),
        _series(
            "Spend rate", "US dollars per hour.", Query(q.spend_usd_per_hour(), "USD/h"), unit=USD, width=12
        ),
        replace(
            _series("Outcomes over time", "Resolved tokens per second, stacked by outcome.", width=12),
            queries=(Query(q.outcomes_over_time(), legend(names.LABEL_OUTCOME)),),
            stacked=True,
        ),
        _series("Pending calls", "Calls awaiting an outcome.", Query(q.pending_calls(), "pending")),
        Panel("stat", "Unpriced calls", unpriced, (Query(q.volume(names.UNPRICED_CALLS), instant=True),)),
        _series(
            "Internal health",
            health,
            Query(q.internal_errors(), legend(names.LABEL_STAGE)),
            Query(overflows, "overflow " + legend(names.LABEL_LABEL)),
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
    """Outcome leaderboard: per team and per (team, task) tables ranked by used tokens."""
    team, task = names.LABEL_TEAM, names.LABEL_TASK
    about = "Outcome-linked usage per team and per task over the selected range. No per-person rows."
    panels = (
        _leaderboard((team,), "Teams by used tokens"),
        _leaderboard((team, task), "Tasks by used tokens"),
    )
    return Dashboard(
        "otel-tokens-leaderboard", "otel-tokens-leaderboard.json", "Outcome leaderboard", about, panels
    )


def spend() -> Dashboard:
    """Spend and anomalies: budget burn, baseline band, movers, latency, errors, repeats, runaways."""
    alerts = Thresholds()
    budget_per_hour = f"${BUDGET_VARIABLE} / {q.SECONDS_PER_MONTH // q.SECONDS_PER_HOUR}"
    burn = [Query(f"{q.spend_usd_per_hour(w)} / ({budget_per_hour})", w) for w in ("1h", "6h")]
    baseline, spread = q.spend_baseline("avg"), q.spend_baseline("stddev")
    team_task = (names.LABEL_TEAM, names.LABEL_TASK)
    semconv = "(semconv histogram: filtered by model and provider only)"
    band = (
        Query(q.spend_usd_per_hour("1h"), "spend"),
        Query(baseline, "baseline"),
        Query(f"{baseline} + {BAND_STDDEVS} * {spread}", "upper"),
        Query(f"clamp_min({baseline} - {BAND_STDDEVS} * {spread}, 0)", "lower"),
    )
    movers = Query(q.top_movers(by=team_task), legend(*team_task), instant=True)
    runaway = q.volume(names.RUNAWAY_RUNS, q.RATE_WINDOW, by=team_task)
    blocked = q.volume(names.BUDGET_BLOCKS, q.RATE_WINDOW, by=team_task)
    panels = (
        _series(
            "Spend vs budget",
            f"Spend per hour against the monthly budget (variable {BUDGET_VARIABLE}) spread over 30 days.",
            Query(q.spend_usd_per_hour(), "spend"),
            Query(budget_per_hour, "budget"),
            unit=USD,
            width=12,
        ),
        replace(
            _series(
                "Budget burn rate",
                "Spend rate / budget rate, and the burn-rate alert thresholds.",
                *burn,
                width=12,
            ),
            steps=(("green", None), ("orange", alerts.slow_burn), ("red", alerts.fast_burn)),
            threshold_lines=True,
        ),
        _series(
            "Spend vs trailing baseline",
            f"Hourly spend against its 7-day average ± {BAND_STDDEVS} standard deviations.",
            *band,
            unit=USD,
            width=12,
        ),
        Panel(
            "bargauge", "Top movers", "Hourly spend rise against the same hour yesterday.", (movers,), USD, 12
        ),
        _series("Latency", f"Operation duration {semconv}.", *_quantiles(names.OPERATION_DURATION), unit="s"),
        _series(
            "Time to first chunk",
            f"Streams only {semconv}.",
            *_quantiles(names.TIME_TO_FIRST_CHUNK),
            unit="s",
        ),
        _series(
            "Error rate",
            "Share of calls that failed, by provider.",
            Query(q.error_share(by=(names.LABEL_PROVIDER,)), legend(names.LABEL_PROVIDER)),
            unit=SHARE,
        ),
        _series(
            "Repeat share per task",
            "Share of calls whose request was already seen within the repeat window.",
            Query(q.repeat_share(by=(names.LABEL_TASK,)), legend(names.LABEL_TASK)),
            unit=SHARE,
            width=12,
        ),
        _series(
            "Runaway runs",
            "Task runs over the call or token threshold, and calls a budget guard refused.",
            Query(runaway, legend(*team_task)),
            Query(blocked, "blocked " + legend(*team_task)),
            width=12,
            bars=True,
        ),
    )
    about = "Budget burn, anomalies against the trailing baseline, latency, errors and repeats."
    return Dashboard(
        "otel-tokens-spend", "otel-tokens-spend.json", "Spend and anomalies", about, panels, True
    )


def all_dashboards() -> tuple[Dashboard, ...]:
    """The three dashboards otel-tokens ships, in file order."""
    return (overview(), leaderboard(), spend())
