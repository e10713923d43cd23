"""Turns grafanalib's ``to_json_data()`` output into dashboard JSON current Grafana (11, 12) loads as is.

grafanalib writes schemaVersion 12 with legacy keys (``rows``, ``style``, ``fieldOptions``...),
nulls and string thresholds. This module keeps only current keys, adds what current panels
require, points every panel and target at the ``${datasource}`` variable, drops every null and
sorts keys, so regenerating is byte-stable. Anything it does not know raises ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from otel_tokens.grafana.panels import DATASOURCE_REF, panel

__all__ = ["DATASOURCE_REF", "SCHEMA_VERSION", "normalize_dashboard"]

# Latest dashboard schema version at the time of writing (Grafana 12); older Grafana skips newer versions.
SCHEMA_VERSION: Final = 42
_BUILTIN_ANNOTATION: Final = {
    "builtIn": 1,
    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
    "enable": True,
    "hide": True,
    "iconColor": "rgba(0, 211, 255, 1)",
    "name": "Annotations & Alerts",
    "type": "dashboard",
}
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
        "panels": [panel(p) for p in dash["panels"]],
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
