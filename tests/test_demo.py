"""`otel-tokens demo` end to end, and `otel-tokens report` against a real Prometheus that scraped it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_binary import require

from otel_tokens import leaderboard
from otel_tokens.demo.organisation import TOKENMAXXING_TEAM
from otel_tokens.demo.prometheus import LocalPrometheus, free_port


def _start_demo(
    tmp_path: Path, port: int, duration: float, linger: float
) -> tuple[subprocess.Popen[str], Path]:
    out = tmp_path / "table.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "otel_tokens.cli",
            "demo",
            "--duration",
            str(duration),
            "--rate",
            "60",
            "--port",
            str(port),
            "--no-live",
            "--json-out",
            str(out),
            "--linger",
            str(linger),
            "--seed",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, out


def _wait_for(path: Path, process: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() or path.stat().st_size == 0:
        if process.poll() is not None:
            pytest.fail(f"demo exited early:\n{process.stdout.read() if process.stdout else ''}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("demo did not finish in time")
        time.sleep(0.1)
    time.sleep(0.2)  # the file is written in one go; give the writer a moment to close it


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def test_demo_singles_out_the_tokenmaxxing_team(tmp_path: Path) -> None:
    port = free_port()
    process, out = _start_demo(tmp_path, port, duration=4, linger=4)
    try:
        _wait_for(out, process, timeout=60)
        metrics_text = _scrape(port)
        scraped = leaderboard.build(leaderboard.parse_exposition(metrics_text), "team")
        table = json.loads(out.read_text())
    finally:
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    by_team = {row.group: row for row in scraped}
    assert set(by_team) == {"support", "platform", TOKENMAXXING_TEAM}
    worst_yield = min(scraped, key=lambda r: r.yield_share or 0.0)
    worst_unread = max(scraped, key=lambda r: r.unread_share or 0.0)
    assert worst_yield.group == TOKENMAXXING_TEAM
    assert worst_unread.group == TOKENMAXXING_TEAM
    # The final table printed by the demo is exactly what its /metrics says.
    assert table["team"] == [row.as_dict() for row in scraped]
    assert all(row.calls > 0 and row.spend_usd > 0 for row in scraped)
    # The looping member of the tokenmaxxing team has the highest repeat share.
    by_task = leaderboard.build(leaderboard.parse_exposition(metrics_text), "task")
    loopiest = max(by_task, key=lambda r: r.repeat_calls / r.calls if r.calls else 0.0)
    assert loopiest.group == "agent-loop"
    assert loopiest.repeat_calls > 0
    assert TOKENMAXXING_TEAM in output and "Outcome leaderboard" in output


def test_report_from_prometheus_matches_demo_ranking(tmp_path: Path) -> None:
    require("prometheus")
    port = free_port()
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    process, out = _start_demo(tmp_path, port, duration=6, linger=5)
    try:
        # Start scraping as soon as the demo serves /metrics, so every series is seen from its start.
        deadline = time.monotonic() + 30
        while True:
            try:
                _scrape(port)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("demo never served /metrics")
                time.sleep(0.1)
        with LocalPrometheus(metrics_url, scrape_interval="500ms") as prometheus:
            _wait_for(out, process, timeout=60)
            time.sleep(2.5)  # scrapes after the final flush
            report = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "otel_tokens.cli",
                    "report",
                    "--prometheus",
                    prometheus.url,
                    "--by",
                    "team",
                    "--range",
                    "5m",
                    "--json",
                ],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
    finally:
        process.communicate(timeout=30)
    assert report.returncode == 0, report.stderr
    reported = json.loads(report.stdout)["rows"]
    demo_rows = json.loads(out.read_text())["team"]
    assert [r["group"] for r in reported] == [r["group"] for r in demo_rows]
    tokenmaxxer = next(r for r in reported if r["group"] == TOKENMAXXING_TEAM)
    assert tokenmaxxer["yield_share"] == min(r["yield_share"] for r in reported)


def test_report_rejects_bad_range_and_unreachable_server() -> None:
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "otel_tokens.cli",
            "report",
            "--prometheus",
            "http://127.0.0.1:1",
            "--range",
            "soon",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert bad.returncode == 2 and "--range" in bad.stderr
    down = subprocess.run(
        [
            sys.executable,
            "-m",
            "otel_tokens.cli",
            "report",
            "--prometheus",
            f"http://127.0.0.1:{free_port()}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert down.returncode == 2 and "cannot query Prometheus" in down.stderr
