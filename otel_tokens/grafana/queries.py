"""PromQL builders for the dashboards and the rules, derived only from :mod:`otel_tokens.names`.

Every selector is checked against the labels its metric carries, so a query cannot filter or
group by a label the metric does not have. Dashboards pass :data:`DASHBOARD_FILTERS` (one regex
matcher per template variable); rules pass :data:`NO_FILTERS` and fixed windows.

>>> spend_usd()
'sum(increase(otel_tokens_cost_usd_total{team=~"$team", task=~"$task", model=~"$model", provider=~"$provider"}[$__range]))'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from otel_tokens import names
from otel_tokens.names import MetricSpec, Outcome

Matcher = tuple[str, str, str]  # (label, operator, value)
Filters = tuple[tuple[str, str], ...]  # (label, regex) pairs

RATE_WINDOW: Final = "$__rate_interval"
RANGE_WINDOW: Final = "$__range"
VARIABLES: Final = (names.LABEL_TEAM, names.LABEL_TASK, names.LABEL_MODEL, names.LABEL_PROVIDER)
DASHBOARD_FILTERS: Final[Filters] = tuple((label, f"${label}") for label in VARIABLES)
NO_FILTERS: Final[Filters] = ()
SECONDS_PER_HOUR: Final = 3600
SECONDS_PER_MONTH: Final = 30 * 24 * SECONDS_PER_HOUR
WASTE: Final = (Outcome.UNREAD.value, Outcome.DISCARDED.value)
HISTOGRAM_LABEL: Final = "le"


def prom_label(attribute: str) -> str:
    """Prometheus label of an OTel attribute key, as the exporters write it: ``gen_ai.provider.name`` ->
    ``gen_ai_provider_name``."""
    return attribute.replace(".", "_")


# The semconv histograms carry gen_ai labels instead of ours; these filters still apply to them.
_SEMCONV_FILTERS: Final = {
    names.LABEL_MODEL: prom_label(names.GEN_AI_RESPONSE_MODEL),
    names.LABEL_PROVIDER: prom_label(names.GEN_AI_PROVIDER_NAME),
}


def eq(label: str, value: str) -> Matcher:
    """Equality matcher: ``eq(names.LABEL_OUTCOME, "used")`` -> ``outcome="used"``."""
    return (label, "=", value)


def among(label: str, values: Sequence[str]) -> Matcher:
    """Regex matcher over ``values`` (plain equality for a single value)."""
    return (label, "=~", "|".join(values)) if len(values) > 1 else eq(label, values[0])


def _labels(spec: MetricSpec) -> set[str]:
    return {prom_label(label) for label in spec.labels}


def selector(
    spec: MetricSpec, *matchers: Matcher, filters: Filters = DASHBOARD_FILTERS, suffix: str = ""
) -> str:
    """``metric{matchers, filters}``; filters on labels the metric lacks are skipped, matchers are not."""
    known = _labels(spec)
    parts = []
    for label, op, value in matchers:
        if label not in known:
            raise ValueError(f"{spec.prometheus} has no label {label!r}")
        parts.append(f'{label}{op}"{value}"')
    for label, regex in filters:
        target = label if label in known else _SEMCONV_FILTERS.get(label, "")
        if target in known:
            parts.append(f'{target}=~"{regex}"')
    inner = ", ".join(parts)
    return f"{spec.prometheus}{suffix}{{{inner}}}" if inner else f"{spec.prometheus}{suffix}"


def by_clause(by: Sequence[str]) -> str:
    """`` by (team, task) `` for a non-empty grouping, else nothing."""
    return f" by ({', '.join(by)}) " if by else ""


def aggregate(
    spec: MetricSpec,
    window: str,
    *matchers: Matcher,
    by: Sequence[str] = (),
    func: str = "rate",
    filters: Filters = DASHBOARD_FILTERS,
    suffix: str = "",
    offset: str = "",
) -> str:
    """``sum by (by) (func(selector[window] offset offset))``; ``by`` must name labels of the metric."""
    allowed = _labels(spec) | ({HISTOGRAM_LABEL} if spec.kind == "histogram" else set())
    missing = [label for label in by if label not in allowed]
    if missing:
        raise ValueError(f"{spec.prometheus} cannot be grouped by {missing}")
    inner = selector(spec, *matchers, filters=filters, suffix=suffix)
    shift = f" offset {offset}" if offset else ""
    return f"sum{by_clause(by)}({func}({inner}[{window}]{shift}))"


def share(numerator: str, denominator: str) -> str:
    """Numerator over denominator per group: 0 where the numerator has no series, no value where the
    denominator is zero (instead of NaN)."""
    return f"({numerator} or {denominator} * 0) / ({denominator} > 0)"


def spend_usd(
    window: str = RANGE_WINDOW, by: Sequence[str] = (), filters: Filters = DASHBOARD_FILTERS
) -> str:
    """Spend in USD over ``window`` (the dashboard range by default)."""
    return aggregate(names.COST_USD, window, by=by, func="increase", filters=filters)


def spend_usd_per_hour(
    window: str = RATE_WINDOW, by: Sequence[str] = (), filters: Filters = DASHBOARD_FILTERS, offset: str = ""
) -> str:
    """Spend rate in USD per hour, optionally ``offset`` into the past."""
    expr = aggregate(names.COST_USD, window, by=by, filters=filters, offset=offset)
    return f"{SECONDS_PER_HOUR} * {expr}"


def volume(
    spec: MetricSpec, window: str = RANGE_WINDOW, by: Sequence[str] = (), filters: Filters = DASHBOARD_FILTERS
) -> str:
    """Increase of any call counter (calls, tokens, unpriced calls, runaway runs) over ``window``."""
    return aggregate(spec, window, by=by, func="increase", filters=filters)


def outcome_share(
    outcomes: Sequence[str],
    spec: MetricSpec = names.OUTCOME_TOKENS,
    window: str = RANGE_WINDOW,
    by: Sequence[str] = (),
    filters: Filters = DASHBOARD_FILTERS,
    func: str = "increase",
) -> str:
    """Share of resolved ``spec`` (tokens, cost or calls) whose outcome is one of ``outcomes``."""
    part = aggregate(spec, window, among(names.LABEL_OUTCOME, outcomes), by=by, func=func, filters=filters)
    return share(part, aggregate(spec, window, by=by, func=func, filters=filters))


def yield_share(
    spec: MetricSpec = names.OUTCOME_TOKENS,
    window: str = RANGE_WINDOW,
    by: Sequence[str] = (),
    filters: Filters = DASHBOARD_FILTERS,
) -> str:
    """Yield: the used share of resolved tokens (or cost, with ``spec=names.OUTCOME_COST_USD``)."""
    return outcome_share((Outcome.USED.value,), spec, window, by, filters)


def used(
    spec: MetricSpec, window: str = RANGE_WINDOW, by: Sequence[str] = (), filters: Filters = DASHBOARD_FILTERS
) -> str:
    """Increase of an outcome counter (tokens, cost or calls) for outcome ``used``."""
    return aggregate(
        spec, window, eq(names.LABEL_OUTCOME, Outcome.USED.value), by=by, func="increase", filters=filters
    )


def cost_per_used_output(
    window: str = RANGE_WINDOW, by: Sequence[str] = (), filters: Filters = DASHBOARD_FILTERS
) -> str:
    """All resolved spend divided by the used outputs: waste makes each useful output dearer.

    Matches ``otel_tokens.leaderboard`` (the demo and ``otel-tokens report``).
    """
    calls = used(names.OUTCOME_CALLS, window, by, filters)
    spend = aggregate(names.OUTCOME_COST_USD, window, by=by, func="increase", filters=filters)
    return f"{spend} / ({calls} > 0)"


def waste(
    spec: MetricSpec, window: str = RANGE_WINDOW, by: Sequence[str] = (), filters: Filters = DASHBOARD_FILTERS
) -> str:
    """Tokens (or dollars) whose output was never read or was thrown away."""
    return aggregate(spec, window, among(names.LABEL_OUTCOME, WASTE), by=by, func="increase", filters=filters)


def outcomes_over_time(spec: MetricSpec = names.OUTCOME_TOKENS, window: str = RATE_WINDOW) -> str:
    """Resolved tokens per second by outcome, for a stacked time series."""
    return aggregate(spec, window, by=(names.LABEL_OUTCOME,))


def pending_calls() -> str:
    """Calls awaiting an outcome, summed over processes."""
    return f"sum({selector(names.PENDING_CALLS)})"


def internal_errors(window: str = RATE_WINDOW) -> str:
    """Failures inside otel-tokens per stage and window."""
    return aggregate(names.INTERNAL_ERRORS, window, by=(names.LABEL_STAGE,), func="increase")


def error_share(
    window: str = RATE_WINDOW, by: Sequence[str] = (), filters: Filters = DASHBOARD_FILTERS
) -> str:
    """Share of calls that failed (``status="error"``)."""
    errors = aggregate(
        names.CALLS, window, eq(names.LABEL_STATUS, names.CallStatus.ERROR.value), by=by, filters=filters
    )
    return share(errors, aggregate(names.CALLS, window, by=by, filters=filters))


def repeat_share(
    window: str = RATE_WINDOW, by: Sequence[str] = (), filters: Filters = DASHBOARD_FILTERS
) -> str:
    """Share of calls whose request was seen within the repeat window."""
    repeats = aggregate(names.REPEAT_CALLS, window, by=by, filters=filters)
    return share(repeats, aggregate(names.CALLS, window, by=by, filters=filters))


def quantile(q: float, spec: MetricSpec = names.OPERATION_DURATION, window: str = RATE_WINDOW) -> str:
    """``q``-quantile of a semconv histogram (latency or time to first chunk)."""
    buckets = aggregate(spec, window, by=(HISTOGRAM_LABEL,), suffix="_bucket")
    return f"histogram_quantile({q}, {buckets})"


def spend_baseline(
    stat: str, window: str = "1h", history: str = "7d", filters: Filters = DASHBOARD_FILTERS
) -> str:
    """``stat`` (``avg`` or ``stddev``) of the hourly spend rate over the trailing ``history``, an hour back."""
    current = spend_usd_per_hour(window, filters=filters)
    return f"{stat}_over_time(({current})[{history}:{window}] offset {window})"


def top_movers(k: int = 10, window: str = "1h", compare: str = "1d", by: Sequence[str] = ()) -> str:
    """The ``k`` groups whose hourly spend rose most against the same hour ``compare`` ago."""
    now = spend_usd_per_hour(window, by=by)
    before = spend_usd_per_hour(window, by=by, offset=compare)
    return f"topk({k}, ({now} - ({before} or {now} * 0)) > 0)"
