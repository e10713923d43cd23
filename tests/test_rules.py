"""Generated Prometheus rules: promtool accepts them and their generated unit tests pass."""

from __future__ import annotations

import argparse
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_binary import require

from otel_tokens import names
from otel_tokens.grafana import commands, rules
from otel_tokens.grafana.alerts import Thresholds

ROOT = Path(__file__).resolve().parent.parent
DOC = rules.build_rules(commands.DEFAULT_MONTHLY_BUDGET_USD)
ALERTS = rules.alert_rules(DOC)
SEVERITIES = {"critical", "warning", "info"}
RECORD = re.compile(r"^(?P<level>[a-z_]*):(?P<metric>[a-z_]+):(?P<operations>[a-z0-9_]+)$")


@pytest.fixture(scope="module")
def promtool() -> str:
    return require("promtool")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("rules") / commands.RULES_FILE
    rule_file, test_file = commands.write_rules(out, commands.DEFAULT_MONTHLY_BUDGET_USD)
    return rule_file, test_file


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)


def test_promtool_check_rules(promtool: str, generated: tuple[Path, Path]) -> None:
    result = _run(promtool, "check", "rules", str(generated[0]))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass(promtool: str, generated: tuple[Path, Path]) -> None:
    result = _run(promtool, "test", "rules", str(generated[1]))
    assert result.returncode == 0, result.stdout + result.stderr


def test_unit_tests_pass_with_other_budget_and_thresholds(promtool: str, tmp_path: Path) -> None:
    strict = Thresholds(fast_burn=10.0, slow_burn=4.0, tokenmaxxing_max_yield=0.5, error_max_share=0.05)
    _, test_file = commands.write_rules(tmp_path / "custom.yaml", 25_000, strict)
    result = _run(promtool, "test", "rules", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_prometheus_config_syntax(promtool: str) -> None:
    config = ROOT / "examples" / "compose" / "prometheus.yml"
    result = _run(promtool, "check", "config", "--syntax-only", str(config))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("rule", ALERTS, ids=[rule["alert"] for rule in ALERTS])
def test_alert_has_severity_and_annotations(rule: dict[str, Any]) -> None:
    assert rule["labels"]["severity"] in SEVERITIES
    for key in ("summary", "description", "runbook"):
        assert rule["annotations"][key].strip(), key
    assert "README.md#alerts" in rule["annotations"]["runbook"]


def test_every_alert_fires_in_one_scenario_and_stays_silent_in_another(generated: tuple[Path, Path]) -> None:
    tests = yaml.safe_load(generated[1].read_text())["tests"]
    checks = [check for case in tests for check in case["alert_rule_test"]]
    for rule in ALERTS:
        mine = [check for check in checks if check["alertname"] == rule["alert"]]
        assert any(check["exp_alerts"] for check in mine), f"{rule['alert']} never fires"
        assert any(not check["exp_alerts"] for check in mine), f"{rule['alert']} is never checked silent"
    silent = {case["name"] for case in tests if not any(c["exp_alerts"] for c in case["alert_rule_test"])}
    assert {"honest heavy user stays silent", "quiet service stays silent"} <= silent
    for name in ("honest heavy user stays silent", "quiet service stays silent"):
        case = next(case for case in tests if case["name"] == name)
        assert {check["alertname"] for check in case["alert_rule_test"]} == {r["alert"] for r in ALERTS}


def test_recording_rules_are_named_level_metric_operations() -> None:
    metrics = {spec.prometheus.removesuffix("_total") for spec in names.METRICS}
    records = [rule["record"] for group in DOC["groups"] for rule in group["rules"] if "record" in rule]
    assert len(records) == len(set(records))
    for record in records:
        match = RECORD.match(record)
        assert match, record
        assert match["metric"] in metrics, record
        assert set(filter(None, match["level"].split("_"))) <= {
            names.LABEL_TEAM,
            names.LABEL_TASK,
            names.LABEL_PROVIDER,
            names.LABEL_MODEL,
        }
    assert "team:otel_tokens_cost_usd:rate5m" in records


def test_budget_is_in_the_burn_rate_thresholds() -> None:
    text = rules.render_rules(250)
    assert "14.4 * (250 / 2592000)" in text and "6 * (250 / 2592000)" in text
    with pytest.raises(ValueError, match="monthly_budget_usd"):
        rules.build_rules(0)


def test_thresholds_are_validated() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        Thresholds(repeat_max_share=1.5)
    with pytest.raises(ValueError, match="positive"):
        Thresholds(anomaly_min_usd_per_hour=0.0)
    with pytest.raises(ValueError, match="duration"):
        Thresholds(baseline_window="a week")
    with pytest.raises(ValueError, match="slow_burn"):
        Thresholds(slow_burn=20.0)


def test_rendering_is_deterministic() -> None:
    assert rules.render_rules(1000) == rules.render_rules(1000)
    assert (ROOT / "dashboards" / commands.RULES_FILE).read_text() == rules.render_rules(1000)


def test_rules_command_writes_rules_and_tests(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="otel-tokens")
    subparsers = parser.add_subparsers()
    commands.add_rules_parser(subparsers)
    commands.add_dashboards_parser(subparsers)
    out = tmp_path / "team-rules.yaml"
    args = parser.parse_args(["rules", "--monthly-budget-usd", "300", "--out", str(out), "--fast-burn", "12"])
    assert args.func(args) == 0
    assert "12 * (300 / 2592000)" in out.read_text()
    assert yaml.safe_load((tmp_path / "team-rules.test.yaml").read_text())["rule_files"] == [out.name]
    args = parser.parse_args(["dashboards", "--out", str(tmp_path / "dash")])
    assert args.func(args) == 0
    assert len(list((tmp_path / "dash").glob("*.json"))) == 3
    with pytest.raises(SystemExit):
        parser.parse_args(["rules", "--monthly-budget-usd", "-5"])
