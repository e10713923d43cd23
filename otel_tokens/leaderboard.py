"""The outcome leaderboard: per team or task, spend against what was actually used.

Built from flat metric samples, whether scraped from ``/metrics`` (the demo) or queried from
Prometheus (``otel-tokens report``), so both print the same numbers the same way. Ordered by
used tokens, never by raw volume.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from . import names
from .names import Outcome

Sample = tuple[str, dict[str, str], float]  # (prometheus metric name, labels, value)

_WASTE = (Outcome.UNREAD.value, Outcome.DISCARDED.value)


@dataclass
class Row:
    group: str
    calls: float = 0.0
    tokens: float = 0.0
    spend_usd: float = 0.0
    used_tokens: float = 0.0
    resolved_tokens: float = 0.0
    used_calls: float = 0.0
    unread_tokens: float = 0.0
    waste_tokens: float = 0.0
    waste_usd: float = 0.0
    repeat_calls: float = 0.0

    @property
    def yield_share(self) -> float | None:
        return self.used_tokens / self.resolved_tokens if self.resolved_tokens else None

    @property
    def unread_share(self) -> float | None:
        return self.unread_tokens / self.resolved_tokens if self.resolved_tokens else None

    @property
    def cost_per_used_output(self) -> float | None:
        """All spend divided by the outputs that were used: waste makes useful work dearer."""
        return self.spend_usd / self.used_calls if self.used_calls else None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            yield_share=self.yield_share,
            unread_share=self.unread_share,
            cost_per_used_output=self.cost_per_used_output,
        )
        return data


def build(samples: Iterable[Sample], by: str) -> list[Row]:
    """Aggregate samples into one row per value of label ``by`` (``team`` or ``task``)."""
    if by not in (names.LABEL_TEAM, names.LABEL_TASK):
        raise ValueError(f"by must be 'team' or 'task', got {by!r}")
    rows: dict[str, Row] = defaultdict(lambda: Row(""))
    for metric, labels, value in samples:
        group = labels.get(by) or ("(no team)" if by == names.LABEL_TEAM else names.UNLABELED_TASK)
        row = rows[group]
        row.group = group
        outcome = labels.get(names.LABEL_OUTCOME)
        if metric == names.CALLS.prometheus:
            row.calls += value
        elif metric == names.TOKENS.prometheus:
            row.tokens += value
        elif metric == names.COST_USD.prometheus:
            row.spend_usd += value
        elif metric == names.REPEAT_CALLS.prometheus:
            row.repeat_calls += value
        elif metric == names.OUTCOME_TOKENS.prometheus:
            row.resolved_tokens += value
            if outcome == Outcome.USED.value:
                row.used_tokens += value
            if outcome == Outcome.UNREAD.value:
                row.unread_tokens += value
            if outcome in _WASTE:
                row.waste_tokens += value
        elif metric == names.OUTCOME_CALLS.prometheus and outcome == Outcome.USED.value:
            row.used_calls += value
        elif metric == names.OUTCOME_COST_USD.prometheus and outcome in _WASTE:
            row.waste_usd += value
    return sorted(rows.values(), key=lambda r: (-r.used_tokens, r.group))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:,.4f}"


def render(rows: list[Row], by: str, title: str = "Outcome leaderboard") -> Any:
    """A rich Table of the rows."""
    from rich.table import Table

    table = Table(title=f"{title} (by {by}, ordered by used tokens)")
    for header in (
        "#",
        by,
        "calls",
        "tokens",
        "spend",
        "yield",
        "cost/used output",
        "unread",
        "waste tok",
        "waste $",
    ):
        table.add_column(header, justify="left" if header == by else "right")
    for rank, row in enumerate(rows, 1):
        table.add_row(
            str(rank),
            row.group,
            f"{row.calls:,.0f}",
            f"{row.tokens:,.0f}",
            _usd(row.spend_usd),
            _pct(row.yield_share),
            _usd(row.cost_per_used_output),
            _pct(row.unread_share),
            f"{row.waste_tokens:,.0f}",
            _usd(row.waste_usd),
        )
    return table


def to_json(rows: list[Row], by: str) -> str:
    return json.dumps({"by": by, "rows": [r.as_dict() for r in rows]}, indent=2, sort_keys=True)


def parse_exposition(text: str) -> list[Sample]:
    """Samples of the otel-tokens counters in a Prometheus text exposition (``/metrics``)."""
    from prometheus_client.parser import text_string_to_metric_families

    wanted = {
        spec.prometheus
        for spec in (
            names.CALLS,
            names.TOKENS,
            names.COST_USD,
            names.OUTCOME_TOKENS,
            names.OUTCOME_CALLS,
            names.OUTCOME_COST_USD,
            names.REPEAT_CALLS,
        )
    }
    samples: list[Sample] = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in wanted:
                samples.append((sample.name, dict(sample.labels), float(sample.value)))
    return samples
