"""Turns grafanalib's ``to_json_data()`` output into dashboard JSON current Grafana (11, 12) loads as is.

grafanalib writes schemaVersion 12 with legacy keys (``rows``, ``style``, ``fieldOptions``...),
nulls and string thresholds. This module keeps only current keys, adds what current panels
require, points every panel and target at the ``${datasource}`` variable, drops every null and
sorts keys, so regenerating is byte-stable. Anything it does not know raises ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

# Latest dashboard schema version at the time of writing (Grafana 12); older Grafana skips newer versions.
SCHEMA_VERSION: Final = 42
DATASOURCE_REF: Final = {"type": "prometheus", "uid": "${datasource}"}
_BUILTIN_ANNOTATION: Final = {
    "builtIn": 1,
    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
    "enable": True,
    "hide": True,
    "iconColor": "rgba(0, 211, 255, 1)",
    "name": "Annotations & Alerts",
    "type": "dashboard",
}
_PANEL_KEYS: Final = (
    "id",
    "title",
    "description",
    "type",
    "transformations",
    "interval",
    "timeFrom",
    "timeShift",
)
_FIELD_KEYS: Final = ("unit", "decimals", "min", "max", "mappings", "color", "displayName", "links")
_ALL: Final = "$__all"


def _plain(value: Any) -> Any:
    """grafanalib objects -> dicts and lists, the way its JSON encoder does it."""
    while hasattr(value, "to_json_data"):
        value = value.to_json_data()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _canonical(value: Any, path: str = "$") -> Any:
    """Sorted keys, no nulls: None values are dropped from objects and rejected inside arrays."""
    if isinstance(value, dict):
        return {k: _canonical(value[k], f"{path}.{k}") for k in sorted(value) if value[k] is not None}
    if isinstance(value, list):
        if any(v is None for v in value):
            raise ValueError(f"null inside array at {path}")
        return [_canonical(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _thresholds(raw: Any) -> dict[str, Any]:
    steps = raw.get("steps") if isinstance(raw, dict) else None
    out = []
    for i, step in enumerate(steps or [{"color": "green"}]):
        value = step.get("value")
        # The base step is -Infinity, which JSON can only write as null: Grafana fills it in on load.
        out.append(
            {"color": step["color"]}
            if i == 0 or value in (None, "null")
            else {"color": step["color"], "value": value}
        )
    return {"mode": raw.get("mode", "absolute") if isinstance(raw, dict) else "absolute", "steps": out}


def _field_defaults(raw: Mapping[str, Any], colour_mode: str) -> dict[str, Any]:
    out = {k: raw[k] for k in _FIELD_KEYS if raw.get(k) not in (None, [], {})}
    out["thresholds"] = _thresholds(raw.get("thresholds"))
    out.setdefault("color", {"mode": colour_mode})
    if raw.get("noValue") not in (None, "none"):  # grafanalib's default "none" would print the word
        out["noValue"] = raw["noValue"]
    return out


def _overrides(overrides: list[Any]) -> list[Any]:
    for override in overrides:
        for prop in override["properties"]:
            if isinstance(prop.get("value"), dict) and "steps" in prop["value"]:
                prop["value"] = _thresholds(prop["value"])
    return overrides


def _target(raw: Mapping[str, Any]) -> dict[str, Any]:
    instant = bool(raw.get("instant"))
    out = {
        "datasource": dict(DATASOURCE_REF),
        "editorMode": "code",
        "expr": raw["expr"],
        "format": raw.get("format") or "time_series",
        "instant": instant,
        "range": not instant,
        "refId": raw["refId"],
    }
    for key in ("legendFormat", "interval", "hide"):
        if raw.get(key):
            out[key] = raw[key]
    return out


def _legend(raw: Mapping[str, Any], show: bool = True) -> dict[str, Any]:
    mode = raw.get("displayMode", "list")
    return {
        "calcs": raw.get("calcs", []),
        "displayMode": mode,
        "placement": raw.get("placement", "bottom"),
        "showLegend": show and mode != "hidden",
    }


def _timeseries(raw: Mapping[str, Any], panel: dict[str, Any]) -> None:
    custom = {k: v for k, v in raw["fieldConfig"]["defaults"]["custom"].items() if v is not None}
    if custom.get("scaleDistribution", {}).get("type") != "log":
        custom["scaleDistribution"] = {"type": "linear"}
    panel["fieldConfig"]["defaults"]["custom"] = custom
    options = raw["options"]
    panel["options"] = {"legend": _legend(options["legend"]), "tooltip": dict(options["tooltip"])}


def _stat(raw: Mapping[str, Any], panel: dict[str, Any]) -> None:
    options = raw["options"]
    reduce = options["reduceOptions"]
    panel["fieldConfig"]["defaults"]["color"] = {"mode": "thresholds"}
    panel["options"] = {
        **{k: options[k] for k in ("colorMode", "graphMode", "justifyMode", "orientation", "textMode")},
        "percentChangeColorMode": "standard",
        "reduceOptions": {"calcs": reduce["calcs"], "fields": reduce["fields"], "values": reduce["values"]},
        "showPercentChange": False,
        "wideLayout": True,
    }


def _table(raw: Mapping[str, Any], panel: dict[str, Any]) -> None:
    custom = raw["fieldConfig"]["defaults"]["custom"]
    mode = custom.get("displayMode") or "auto"  # the pre-10 displayMode became cellOptions.type
    panel["fieldConfig"]["defaults"]["custom"] = {
        "align": custom.get("align", "auto"),
        "cellOptions": {"type": mode},
        "filterable": bool(custom.get("filterable")),
        "inspect": False,
    }
    options = raw["options"]
    panel["options"] = {
        "cellHeight": "sm",
        "footer": {"countRows": False, "reducer": ["sum"], "show": False},
        "frameIndex": 0,
        "showHeader": options["showHeader"],
        "sortBy": options.get("sortBy", []),
    }


def _bargauge(raw: Mapping[str, Any], panel: dict[str, Any]) -> None:
    legacy = raw["options"]["fieldOptions"]  # the pre-7 layout grafanalib still writes
    defaults = panel["fieldConfig"]["defaults"]
    defaults.update({k: v for k, v in legacy["defaults"].items() if k in _FIELD_KEYS and v is not None})
    defaults["color"] = {"mode": "thresholds"}
    reduce = {
        "calcs": legacy["calcs"],
        "fields": "",
        "values": legacy["values"],
        "limit": legacy.get("limit"),
    }
    panel["options"] = {
        "displayMode": raw["options"]["displayMode"],
        "legend": _legend({}, show=False),
        "maxVizHeight": 300,
        "minVizHeight": 16,
        "minVizWidth": 8,
        "namePlacement": "auto",
        "orientation": raw["options"]["orientation"],
        "reduceOptions": reduce,
        "showUnfilled": True,
        "sizing": "auto",
        "valueMode": "color",
    }


_CONVERTERS: Final[dict[str, Callable[[Mapping[str, Any], dict[str, Any]], None]]] = {
    "timeseries": _timeseries,
    "stat": _stat,
    "table": _table,
    "bargauge": _bargauge,
}


def _panel(raw: Mapping[str, Any]) -> dict[str, Any]:
    kind = raw["type"]
    if kind not in _CONVERTERS:
        raise ValueError(f"panel type {kind!r} is not one otel-tokens renders (only {sorted(_CONVERTERS)})")
    panel = {k: raw[k] for k in _PANEL_KEYS if raw.get(k) not in (None, "", [])}
    panel["datasource"] = dict(DATASOURCE_REF)
    panel["gridPos"] = {k: int(raw["gridPos"][k]) for k in ("h", "w", "x", "y")}
    panel["targets"] = [_target(t) for t in raw["targets"]]
    field_config = raw["fieldConfig"]
    panel["fieldConfig"] = {
        "defaults": _field_defaults(field_config["defaults"], "palette-classic"),
        "overrides": _overrides(field_config.get("overrides", [])),
    }
    _CONVERTERS[kind](raw, panel)
    return panel


def _current(raw: Mapping[str, Any], multi: bool) -> dict[str, Any] | None:
    value = (raw.get("current") or {}).get("value")
    if value is None:
        return None
    text = "All" if value == _ALL else value
    return {"selected": True, "text": [text], "value": [value]} if multi else {"text": text, "value": value}


def _variable(raw: Mapping[str, Any]) -> dict[str, Any]:
    kind, multi = raw["type"], bool(raw.get("multi"))
    out = {"name": raw["name"], "label": raw.get("label"), "type": kind, "hide": raw.get("hide", 0)}
    out.update({"query": raw["query"], "skipUrlSync": False, "current": _current(raw, multi)})
    if kind == "datasource":
        out.update({"refresh": 1, "regex": raw.get("regex") or "", "options": []})
    elif kind == "query":
        out.update({k: raw[k] for k in ("includeAll", "multi", "allValue", "refresh", "sort")})
        out.update({"datasource": dict(DATASOURCE_REF), "definition": raw["query"], "options": []})
        out["regex"] = raw.get("regex") or ""
    elif kind in ("textbox", "constant"):
        out["options"] = [{"selected": True, "text": raw["query"], "value": raw["query"]}]
    else:
        raise ValueError(f"variable type {kind!r} is not supported")
    return out


def normalize_dashboard(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Modern, null-free, key-sorted dashboard JSON from grafanalib's ``Dashboard.to_json_data()``."""
    dash = _plain(raw)
    if dash.get("rows"):
        raise ValueError("legacy rows are not supported: lay panels out with gridPos")
    out = {
        "annotations": {"list": [_BUILTIN_ANNOTATION, *dash["annotations"]["list"]]},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "panels": [_panel(p) for p in dash["panels"]],
        "schemaVersion": SCHEMA_VERSION,
        "templating": {"list": [_variable(v) for v in dash["templating"]["list"]]},
        "timepicker": {"refresh_intervals": dash["timepicker"]["refresh_intervals"]},
    }
    for key in (
        "description",
        "editable",
        "graphTooltip",
        "links",
        "refresh",
        "tags",
        "time",
        "timezone",
        "title",
    ):
        out[key] = dash[key]
    out.update({"uid": dash["uid"], "version": dash["version"]})
    result: dict[str, Any] = _canonical(out)
    return result
