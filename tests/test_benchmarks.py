"""The benchmark harnesses run (short mode): they measure, they do not assert timings."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parent.parent / "benchmarks"


def _run(*args: str) -> str:
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_overhead_harness_reports_every_variant() -> None:
    out = _run(str(BENCH / "bench_overhead.py"), "--quick")
    rows = [line.split() for line in out.splitlines()]
    for variant in ("uninstrumented", "floor", "otel-tokens"):
        surfaces = [" ".join(row[1:-4]) for row in rows if row and row[0] == variant]
        assert "openai sync" in surfaces and "anthropic async stream" in surfaces, (variant, surfaces)
    for peer in ("openai-v2", "openllmetry"):  # measured when its environment exists, else said so
        assert any(row and row[0] in (peer, f"{peer}:") for row in rows), peer
    assert out.count("stream overhead minus non-streamed overhead, per chunk") == 2
    isolated = [
        line.rsplit(":", 1)[1] for line in out.splitlines() if line.startswith("per-chunk overhead, isolated")
    ]
    assert len(isolated) == 3, out
    assert all(value.endswith(" us") and math.isfinite(float(value.split()[0])) for value in isolated), (
        isolated
    )
    assert "import + init, SDKs already imported by the app" in out


def test_pending_memory_harness_stays_bounded() -> None:
    out = _run(str(BENCH / "bench_pending_memory.py"), "--calls", "5000")
    table = dict(line.split(maxsplit=1) for line in out.splitlines() if line.strip())
    assert int(table["peak_pending"].replace(",", "")) <= 1  # dropped responses resolve at once
    assert table["final_gauge"].strip() == "0"
    assert table["resolved"].strip() == "5,000"  # every call got exactly one outcome


def test_repeat_memory_harness_stays_bounded() -> None:
    out = _run(str(BENCH / "bench_repeat_memory.py"), "--requests", "3000", "--max-entries", "1000")
    last_row = [line.split() for line in out.splitlines() if line.strip().startswith("3000")][-1]
    assert last_row[1] == "1000"  # entries capped
