"""The concurrency benchmark harness runs (``--quick``): every call one span and one outcome.

It measures, it does not assert timings; ``tests/test_concurrency.py`` is the in-suite check.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parent.parent / "benchmarks" / "bench_concurrency.py"


def test_concurrency_harness_reports_no_mismatch() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    table = {
        line[:24].strip(): line[24:].split()
        for line in result.stdout.splitlines()
        if line.strip() and not line.startswith("load:")
    }
    assert table["mismatches"] == ["0"]
    expected, observed = table["spans"]
    assert expected == observed == table["calls"][0] == table["outcome events"][1]
    assert int(expected) == 4 * 6 + 60  # the --quick load: 4 threads x 6 calls, 60 asyncio tasks
    assert float(table["wall time s"][0]) > 0
