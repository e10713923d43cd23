"""Renders the :mod:`layouts` specs with grafanalib (the only module importing it) into modern JSON.

grafanalib builds the panels; :func:`normalize.normalize_dashboard` turns its legacy output into
JSON that current Grafana loads without migration.

>>> sorted(render_all())
['otel-tokens-leaderboard.json', 'otel-tokens-overview.json', 'otel-tokens-spend.json']
"""

from __future__ import annotations

from typing import Any, Final

import grafanalib.core as G

from otel_tokens import names
from otel_tokens.grafana import layouts, normalize
from otel_tokens.grafana.queries import VARIABLES

GRID_WIDTH: Final = 24
TAGS: Final = ["otel-tokens", "llm"]
DATASOURCE_VARIABLE: Final = "datasource"
# Multi-select "All" must match the empty team too (team="" when unset), so not a|b|c.
ALL_VALUE: Final = ".*"


def _datasource() -> dict[str, str]:
    return dict(normalize.DATASOURCE_REF)


def _steps(steps: layouts.Steps) -> list[dict[str, Any]]:
    return [{"color": colour, "value": bound} for colour, bound in steps or (("green", None),)]


def _targets(panel: layouts.Panel) -> list[Any]:
    fmt = "table" if panel.kind == "table" else "time_series"
    return [
        G.Target(
            expr=query.expr,
            legendFormat=query.legend,
            refId=chr(ord("A") + i),
            instant=query.instant,
            format=fmt,
            datasource=_datasource(),
        )
        for i, query in enumerate(panel.queries)
    ]


def _table(panel: layouts.Panel, common: dict[str, Any]) -> Any:
    queries = panel.queries
    rename = {f"Value #{chr(ord('A') + i)}": query.column for i, query in enumerate(queries)}
    organize = {"excludeByName": {"Time": True}, "renameByName": rename}
    overrides = [
        {"matcher": {"id": "byName", "options": q.column}, "properties": [{"id": "unit", "value": q.unit}]}
        for q in queries
        if q.unit
    ]
    yield_column = {"id": "byName", "options": queries[1].column}
    overrides.append(
        {
            "matcher": yield_column,
            "properties": [
                {"id": "thresholds", "value": {"mode": "absolute", "steps": _steps(layouts.YIELD_STEPS)}},
                {"id": "custom.cellOptions", "value": {"type": "color-text"}},
            ],
        }
    )
    return G.Table(
        **common,
        transformations=[{"id": "merge", "options": {}}, {"id": "organize", "options": organize}],
        overrides=overrides,
        sortBy=[G.TableSortByField(displayName=queries[0].column, desc=True)],
    )


def _panel(panel: layouts.Panel, x: int, y: int) -> Any:
    common: dict[str, Any] = {
        "title": panel.title,
        "description": panel.description,
        "dataSource": _datasource(),
        "targets": _targets(panel),
        "gridPos": G.GridPos(h=panel.height, w=panel.width, x=x, y=y),
        "thresholds": _steps(panel.steps),
    }
    if panel.kind == "stat":
        return G.Stat(**common, format=panel.unit, reduceCalc="lastNotNull", graphMode="none")
    if panel.kind == "bargauge":
        return G.BarGauge(
            **common,
            format=panel.unit,
            calc="lastNotNull",
            displayMode=G.GAUGE_DISPLAY_MODE_GRADIENT,
            max=None,
        )
    if panel.kind == "table":
        return _table(panel, common)
    return G.TimeSeries(
        **common,
        unit=panel.unit,
        drawStyle="bars" if panel.bars else "line",
        fillOpacity=80 if panel.bars else (30 if panel.stacked else 10),
        stacking={"mode": "normal" if panel.stacked else "none", "group": "A"},
        tooltipMode="multi",
        tooltipSort="desc",
        thresholdsStyleMode="line" if panel.threshold_lines else "off",
    )


def _layout(panels: tuple[layouts.Panel, ...]) -> list[Any]:
    """Left to right, wrapping to a new row when the grid is full."""
    placed, x, y, row_height = [], 0, 0, 0
    for panel in panels:
        if x + panel.width > GRID_WIDTH:
            x, y, row_height = 0, y + row_height, 0
        placed.append(_panel(panel, x, y))
        x, row_height = x + panel.width, max(row_height, panel.height)
    return placed


def _variables(spec: layouts.Dashboard) -> list[Any]:
    variables = [
        G.Template(name=DATASOURCE_VARIABLE, label="Data source", type="datasource", query="prometheus")
    ]
    for label in VARIABLES:
        variables.append(
            G.Template(
                name=label,
                label=label.capitalize(),
                query=f"label_values({names.CALLS.prometheus}, {label})",
                dataSource=_datasource(),
                includeAll=True,
                multi=True,
                allValue=ALL_VALUE,
                default="$__all",
                refresh=G.REFRESH_ON_TIME_RANGE_CHANGE,
            )
        )
    if spec.with_budget:
        budget = str(layouts.DEFAULT_MONTHLY_BUDGET_USD)
        variables.append(
            G.Template(
                name=layouts.BUDGET_VARIABLE,
                label="Monthly budget (USD)",
                type="textbox",
                query=budget,
                default=budget,
            )
        )
    return variables


def build(spec: layouts.Dashboard) -> Any:
    """The grafanalib ``Dashboard`` of one layout spec."""
    return G.Dashboard(
        title=spec.title,
        uid=spec.uid,
        description=spec.description,
        tags=TAGS,
        panels=_layout(spec.panels),
        templating=G.Templating(list=_variables(spec)),
        time=G.Time("now-6h", "now"),
        timezone="browser",
        refresh="1m",
        graphTooltip=G.GRAPH_TOOLTIP_MODE_SHARED_CROSSHAIR,
        version=1,
    ).auto_panel_ids()


def render(spec: layouts.Dashboard) -> dict[str, Any]:
    """Modern dashboard JSON (a dict) of one layout spec."""
    return normalize.normalize_dashboard(build(spec).to_json_data())


def render_all() -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON for every dashboard otel-tokens ships."""
    return {spec.filename: render(spec) for spec in layouts.all_dashboards()}
