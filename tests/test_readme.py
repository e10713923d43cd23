"""The README documents every setting and every metric, and shows the two commands."""

from __future__ import annotations

from pathlib import Path

from otel_tokens import config, names

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented() -> None:
    missing = [row.env for row in config.SETTINGS if f"`{row.env}`" not in README]
    assert missing == []


def test_every_metric_is_documented() -> None:
    missing = [spec.prometheus for spec in names.METRICS if f"`{spec.prometheus}" not in README]
    assert missing == []


def test_two_commands() -> None:
    assert "pip install '.[demo]' && otel-tokens demo" in README
    assert "bash scripts/test" in README


def test_every_alert_is_documented() -> None:
    from otel_tokens.grafana import rules

    alerts = [rule["alert"] for rule in rules.alert_rules(rules.build_rules(1000))]
    assert alerts
    assert [a for a in alerts if f"`{a}`" not in README] == []


def test_supported_libraries_table_is_generated() -> None:
    from otel_tokens.instrumentation import support

    start, end = "<!-- supported-libraries:start -->\n", "\n<!-- supported-libraries:end -->"
    documented = README[README.index(start) + len(start) : README.index(end)]
    assert documented == support.table()
    assert documented.count("\n| `") == len(support.rows()) >= 9
