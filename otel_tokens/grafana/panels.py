"""Modern JSON of each panel type (timeseries, stat, table, bargauge) from grafanalib's legacy panels.

Keeps only current keys, fills the options current panels require (``wideLayout``,
``footer``, ``reduceOptions``...), moves the pre-7 bar gauge ``fieldOptions`` into
``fieldConfig`` and points the panel and every target at the ``${datasource}`` variable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

DATASOURCE_REF: Final = {"type": "prometheus", "uid": "${datasource}"}
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
    out = {k: raw[k] for k in _FIELD_KEYS if raw.get(k) not in (None, "", [], {})}
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


def target(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A Prometheus query in the current shape: code mode, explicit instant/range."""
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
    if custom.get("displayMode") not in (None, "auto"):
        raise ValueError("table displayMode is pre-10 Grafana: set custom.cellOptions in an override")
    # No cellOptions: "auto" is Grafana's default and the legacy displayMode is dropped.
    panel["fieldConfig"]["defaults"]["color"] = {"mode": "thresholds"}
    panel["fieldConfig"]["defaults"]["custom"] = {
        "align": custom.get("align", "auto"),
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
    defaults.update({k: v for k, v in legacy["defaults"].items() if k in _FIELD_KEYS and v not in (None, [])})
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


def panel(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Current-Grafana JSON of one grafanalib panel (already plain dicts); unknown types raise."""
    kind = raw["type"]
    if kind not in _CONVERTERS:
        raise ValueError(f"panel type {kind!r} is not one otel-tokens renders (only {sorted(_CONVERTERS)})")
    panel = {k: raw[k] for k in _PANEL_KEYS if raw.get(k) not in (None, "", [])}
    panel["datasource"] = dict(DATASOURCE_REF)
    panel["gridPos"] = {k: int(raw["gridPos"][k]) for k in ("h", "w", "x", "y")}
    panel["targets"] = [target(t) for t in raw["targets"]]
    field_config = raw["fieldConfig"]
    panel["fieldConfig"] = {
        "defaults": _field_defaults(field_config["defaults"], "palette-classic"),
        "overrides": _overrides(field_config.get("overrides", [])),
    }
    _CONVERTERS[kind](raw, panel)
    return panel
