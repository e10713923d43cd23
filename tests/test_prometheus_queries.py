"""Every dashboard and rule expression runs on a real Prometheus scraping real OTel-exported metrics.

A Prometheus binary scrapes ``tests/scripts/metrics_app.py serve-loop`` (real instrumented calls) every second (and loads the generated
rules); each panel query, with Grafana's variables substituted, must parse and run, and each
panel's main query must return data once a few scrapes exist.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_binary import require

from otel_tokens import names
from otel_tokens.grafana import commands, rules
from otel_tokens.grafana.dashboards import render_all

ROOT = Path(__file__).resolve().parent.parent
EMITTER = ROOT / "tests" / "scripts" / "metrics_app.py"
DEADLINE_S = 60.0
# What Grafana substitutes for its built-in variables on a 1h dashboard with a 1s scrape interval.
BUILTINS = {"__rate_interval": "1m", "__range": "1h", "__interval": "15s", "__range_s": "3600"}
DASHBOARDS = render_all()
RULE_DOC = rules.build_rules(commands.DEFAULT_MONTHLY_BUDGET_USD)


def _defaults(doc: dict[str, Any]) -> dict[str, str]:
    """Template variable -> what an untouched dashboard sends: All (.*) or the textbox default."""
    values = {}
    for variable in doc["templating"]["list"]:
        values[variable["name"]] = ".*" if variable["type"] == "query" else str(variable["query"])
    return {**values, **BUILTINS}


def _substitute(expr: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match[1] or match[2]
        assert name in values, f"${name} is not a template variable"
        return values[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


def _panel_queries() -> list[tuple[str, str, bool]]:
    """(id, expression, is the panel's main query) for every target of every panel."""
    out = []
    for file, doc in DASHBOARDS.items():
        values = _defaults(doc)
        for panel in doc["panels"]:
            for i, target in enumerate(panel["targets"]):
                ident = f"{file.removesuffix('.json')}:{panel['title']}:{target['refId']}"
                out.append((ident, _substitute(target["expr"], values), i == 0))
    return out


QUERIES = _panel_queries()
MAIN = [(ident, expr) for ident, expr, main in QUERIES if main]
RULE_EXPRS = [
    (rule.get("record") or rule["alert"], rule["expr"])
    for group in RULE_DOC["groups"]
    for rule in group["rules"]
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return dict(json.load(response))
    except urllib.error.HTTPError as error:  # 400/422 carry the PromQL error as JSON
        return dict(json.load(error))


def _wait_until(check: Any, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {DEADLINE_S:.0f}s waiting for {what}")
        time.sleep(0.5)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = require("prometheus")
    tmp = tmp_path_factory.mktemp("prometheus")
    emitter_port, port = _free_port(), _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    with (tmp / "emitter.log").open("wb") as log:
        emitter = subprocess.Popen(
            [sys.executable, str(EMITTER), "serve-loop", str(emitter_port)], stdout=log, stderr=log, env=env
        )
    rule_file = tmp / commands.RULES_FILE
    rule_file.write_text(rules.render_rules(commands.DEFAULT_MONTHLY_BUDGET_USD))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rule_file)],
        "scrape_configs": [
            {"job_name": "emitter", "static_configs": [{"targets": [f"127.0.0.1:{emitter_port}"]}]}
        ],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    args = [
        binary,
        f"--config.file={tmp / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    with (tmp / "prometheus.log").open("wb") as log:
        server = subprocess.Popen(args, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until(lambda: server.poll() is None and _ready(url), "Prometheus to be ready")
        time.sleep(1)
        if emitter.poll() is not None:
            pytest.fail(f"the emitter exited:\n{(tmp / 'emitter.log').read_text()}")
        yield url
    finally:
        _stop(server)
        _stop(emitter)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _query(url: str, expr: str) -> dict[str, Any]:
    return _get(f"{url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")


def _assert_runs(url: str, expr: str) -> dict[str, Any]:
    answer = _query(url, expr)
    assert answer["status"] == "success", f"{answer.get('errorType')}: {answer.get('error')}\n{expr}"
    return answer


def test_every_registry_metric_is_scraped_under_its_names_py_name(prometheus: str) -> None:
    expected = {spec.prometheus + ("_bucket" if spec.kind == "histogram" else "") for spec in names.METRICS}

    def scraped() -> set[str]:
        result = _assert_runs(prometheus, 'count by (__name__) ({__name__=~"otel_tokens_.+|gen_ai_.+"})')
        return {sample["metric"]["__name__"] for sample in result["data"]["result"]}

    _wait_until(lambda: expected <= scraped(), f"the emitter's metrics, missing {expected - scraped()}")


@pytest.mark.parametrize(("ident", "expr"), [(i, e) for i, e, _ in QUERIES], ids=[i for i, _, _ in QUERIES])
def test_dashboard_query_parses_and_runs(prometheus: str, ident: str, expr: str) -> None:
    _assert_runs(prometheus, expr)


@pytest.mark.parametrize(("ident", "expr"), MAIN, ids=[ident for ident, _ in MAIN])
def test_panel_main_query_returns_data(prometheus: str, ident: str, expr: str) -> None:
    _wait_until(lambda: bool(_assert_runs(prometheus, expr)["data"]["result"]), f"data from {ident}")


@pytest.mark.parametrize(("name", "expr"), RULE_EXPRS, ids=[name for name, _ in RULE_EXPRS])
def test_rule_expression_parses_and_runs(prometheus: str, name: str, expr: str) -> None:
    _assert_runs(prometheus, expr)


def test_prometheus_loads_and_evaluates_the_rules(prometheus: str) -> None:
    groups = _get(f"{prometheus}/api/v1/rules")["data"]["groups"]
    loaded = {rule["name"] for group in groups for rule in group["rules"]}
    assert loaded == {name for name, _ in RULE_EXPRS}
    for record in (rule for rule in RULE_EXPRS if ":" in rule[0]):
        if "over_time" in record[0]:
            continue  # the baseline group runs every 5m: too slow for this test
        _wait_until(
            lambda r=record[0]: bool(_query(prometheus, r)["data"]["result"]), f"recorded {record[0]}"
        )
    unhealthy = [
        rule for group in _get(f"{prometheus}/api/v1/rules")["data"]["groups"] for rule in group["rules"]
    ]
    assert [(r["name"], r.get("lastError")) for r in unhealthy if r["health"] == "err"] == []
