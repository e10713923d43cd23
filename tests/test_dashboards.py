"""Generated dashboards: committed files match the generator, and current Grafana loads them as they are."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from otel_tokens import names
from otel_tokens.grafana import commands, layouts, provisioning, queries
from otel_tokens.grafana.dashboards import render_all

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "dashboards"
SCHEMAS = ROOT.parent / "shared" / "grafana-schema"
COMPOSE = ROOT / "examples" / "compose"
DASHBOARDS = render_all()
PANELS = [(file, panel) for file, doc in DASHBOARDS.items() for panel in doc["panels"]]
PANEL_IDS = [f"{file.removesuffix('.json')}:{panel['title']}" for file, panel in PANELS]
CURRENT_PANEL_TYPES = {"timeseries", "stat", "table", "bargauge", "text"}
BUILTIN_VARIABLES = {"__rate_interval", "__range", "__interval", "__range_s", "__interval_ms"}

# Schema errors Grafana is known to accept; every other error fails the test.
ALLOWED_SCHEMA_ERRORS = {
    # The base threshold step is -Infinity, which Grafana serializes as null; we write no nulls
    # and leave the value out. Grafana sets steps[0].value to -Infinity on load (validateFieldConfig),
    # but the schema marks "value" required.
    ("required", "thresholds.steps.0"): "'value' is a required property",
    # In Grafana's CUE, MatcherConfig.options and DynamicConfigValue.value are `_` (any value);
    # the JSON-schema export typed them "object", yet byName matchers take a string and a unit
    # override takes a string.
    ("type", "matcher.options"): "is not of type 'object'",
    ("type", "properties.*.value"): "is not of type 'object'",
}


def _require(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (required in CI)")
    pytest.skip(reason)


def _validator(file: str, definition: str) -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    if not SCHEMAS.is_dir():
        _require(f"Grafana JSON schemas not found at {SCHEMAS}")
    schema = json.loads((SCHEMAS / file).read_text())
    return jsonschema.Draft7Validator({**schema, "$ref": f"#/definitions/{definition}"})


def _allowed(error: Any) -> bool:
    path = ".".join(str(p) for p in error.absolute_path)
    for (validator, pattern), message in ALLOWED_SCHEMA_ERRORS.items():
        regex = re.escape(pattern).replace(r"\*", r"\d+") + "$"
        if error.validator == validator and re.search(regex, path) and message in error.message:
            return True
    return False


def _errors(validator: Any, instance: Any) -> list[str]:
    return [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(instance)
        if not _allowed(e)
    ]


def _walk(value: Any, path: str = "$") -> list[str]:
    """Paths of every null."""
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _walk(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _walk(v, f"{path}[{i}]")]
    return []


def test_committed_artifacts_match_the_generator(tmp_path: Path) -> None:
    written = commands.generate_all(tmp_path)
    assert len(written) == 7
    for path in written:
        relative = path.relative_to(tmp_path)
        committed = COMMITTED / relative
        assert committed.is_file(), f"{relative} is not committed: run generate_all(Path('dashboards'))"
        assert committed.read_text() == path.read_text(), f"{relative} is stale: regenerate it"
    stale = {p.name for p in COMMITTED.glob("*.json")} - {p.name for p in written}
    assert not stale, f"dashboards no longer generated: {stale}"


def test_generation_is_deterministic() -> None:
    assert json.dumps(render_all(), sort_keys=True) == json.dumps(DASHBOARDS, sort_keys=True)


@pytest.mark.parametrize("file", sorted(DASHBOARDS))
def test_dashboard_document_matches_the_grafana_schema(file: str) -> None:
    validator = _validator("dashboard.jsonschema.json", "Dashboard")
    # Panels are checked one by one below: under the schema's oneOf(Panel, RowPanel) an allowed
    # error would surface only as "not valid under any of the given schemas".
    assert _errors(validator, {**DASHBOARDS[file], "panels": []}) == []


@pytest.mark.parametrize(("file", "panel"), PANELS, ids=PANEL_IDS)
def test_panel_matches_the_grafana_schemas(file: str, panel: dict[str, Any]) -> None:
    kind = panel["type"]
    assert kind in CURRENT_PANEL_TYPES
    errors = _errors(_validator("dashboard.jsonschema.json", "Panel"), panel)
    errors += _errors(_validator(f"{kind}.jsonschema.json", "Options"), panel["options"])
    schema = json.loads((SCHEMAS / f"{kind}.jsonschema.json").read_text())
    custom = panel["fieldConfig"]["defaults"].get("custom", {})
    if "FieldConfig" in schema["definitions"]:
        errors += _errors(_validator(f"{kind}.jsonschema.json", "FieldConfig"), custom)
    else:
        assert custom == {}, f"{kind} has no field config schema"
    query = _validator("prometheus.jsonschema.json", "Dataquery")
    errors += [error for target in panel["targets"] for error in _errors(query, target)]
    assert errors == []


@pytest.mark.parametrize("file", sorted(DASHBOARDS))
def test_dashboard_is_modern_json(file: str) -> None:
    doc = DASHBOARDS[file]
    assert _walk(doc) == []
    assert doc["schemaVersion"] >= 39
    for legacy in ("rows", "style", "sharedCrosshair", "hideControls", "__inputs", "gnetId", "id"):
        assert legacy not in doc
    ids = [panel["id"] for panel in doc["panels"]]
    assert len(ids) == len(set(ids))
    reference = {"type": "prometheus", "uid": "${datasource}"}
    for panel in doc["panels"]:
        assert all(isinstance(panel["gridPos"][k], int) for k in "hwxy")
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        assert panel["datasource"] == reference
        assert panel["targets"] and all(target["datasource"] == reference for target in panel["targets"])
    assert json.dumps(doc, sort_keys=True) == json.dumps(doc)  # keys already sorted


@pytest.mark.parametrize("file", sorted(DASHBOARDS))
def test_template_variables(file: str) -> None:
    variables = {v["name"]: v for v in DASHBOARDS[file]["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for label in queries.VARIABLES:
        variable = variables[label]
        assert variable["type"] == "query"
        assert variable["multi"] and variable["includeAll"]
        assert variable["allValue"] == ".*"  # so the All option also matches team=""
        assert variable["query"] == f"label_values({names.CALLS.prometheus}, {label})"
    for panel in DASHBOARDS[file]["panels"]:
        for target in panel["targets"]:
            used = {m[0] or m[1] for m in re.findall(r"\$\{(\w+)\}|\$(\w+)", target["expr"])}
            assert used - BUILTIN_VARIABLES <= set(variables), (panel["title"], used)


def test_uids_are_stable() -> None:
    assert sorted(doc["uid"] for doc in DASHBOARDS.values()) == [
        "otel-tokens-leaderboard",
        "otel-tokens-overview",
        "otel-tokens-spend",
    ]


def test_queries_use_only_registry_metrics_and_team_level_groupings() -> None:
    known = {spec.prometheus for spec in names.METRICS}
    known |= {f"{spec.prometheus}_bucket" for spec in names.METRICS if spec.kind == "histogram"}
    groupings = {
        *queries.VARIABLES,
        names.LABEL_OUTCOME,
        names.LABEL_STAGE,
        names.LABEL_LABEL,
        queries.HISTOGRAM_LABEL,
    }
    for _, panel in PANELS:
        for target in panel["targets"]:
            expr = target["expr"]
            metrics = set(re.findall(r"\b([a-z_:][a-z0-9_:]*)(?=\{|\[)", expr))
            assert metrics <= known, (panel["title"], metrics - known)
            for labels in re.findall(r"by \(([^)]*)\)", expr):
                assert {label.strip() for label in labels.split(",")} <= groupings, (panel["title"], labels)


def test_leaderboards_rank_by_used_tokens() -> None:
    tables = [panel for file, panel in PANELS if panel["type"] == "table"]
    assert len(tables) == 2
    for table in tables:
        assert table["options"]["sortBy"] == [{"desc": True, "displayName": "Used tokens"}]
        first = table["targets"][0]["expr"]
        assert names.OUTCOME_TOKENS.prometheus in first
        assert f'{names.LABEL_OUTCOME}="{names.Outcome.USED.value}"' in first


def test_provisioning_points_at_the_dashboards() -> None:
    provider = yaml.safe_load((COMMITTED / provisioning.DASHBOARD_PROVIDER).read_text())["providers"][0]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == provisioning.DASHBOARDS_PATH
    source = yaml.safe_load((COMMITTED / provisioning.DATASOURCE).read_text())["datasources"][0]
    assert source["type"] == "prometheus"
    assert source["uid"] == provisioning.DATASOURCE_UID


def test_compose_example_wires_collector_prometheus_and_grafana() -> None:
    collector = yaml.safe_load((COMPOSE / "otel-collector.yaml").read_text())
    grpc, http = (collector["receivers"]["otlp"]["protocols"][p]["endpoint"] for p in ("grpc", "http"))
    assert grpc.endswith(":4317") and http.endswith(":4318")
    exporter = collector["exporters"]["prometheus"]
    assert "namespace" not in exporter  # names stay otel_tokens_*
    assert exporter["resource_to_telemetry_conversion"]["enabled"] is True
    metrics = collector["service"]["pipelines"]["metrics"]
    assert metrics["receivers"] == ["otlp"] and "prometheus" in metrics["exporters"]
    compose = yaml.safe_load((COMPOSE / "docker-compose.yaml").read_text())
    mounts = [m.split(":")[0] for service in compose["services"].values() for m in service.get("volumes", [])]
    for mount in mounts:
        if mount.startswith("."):
            assert (COMPOSE / mount).exists(), mount
    grafana = " ".join(compose["services"]["grafana"]["volumes"])
    assert provisioning.DASHBOARDS_PATH in grafana
    scrape = yaml.safe_load((COMPOSE / "prometheus.yml").read_text())["scrape_configs"]
    targets = {t for job in scrape for group in job["static_configs"] for t in group["targets"]}
    assert "host.docker.internal:9464" in targets
    assert any(target.startswith("otel-collector:") for target in targets)


def test_budget_variable_default_matches_the_rules_default() -> None:
    spend = DASHBOARDS["otel-tokens-spend.json"]["templating"]["list"]
    budget = next(v for v in spend if v["name"] == layouts.BUDGET_VARIABLE)
    assert budget["query"] == str(commands.DEFAULT_MONTHLY_BUDGET_USD)
