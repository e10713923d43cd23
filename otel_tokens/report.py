"""``otel-tokens report``: the outcome leaderboard from a Prometheus server."""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from typing import Any

from . import leaderboard, names

_RANGE = re.compile(r"^\d+[smhdwy]$")


def query(prometheus_url: str, promql: str, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    """Run an instant query; raise ``RuntimeError`` with Prometheus' error text on failure."""
    url = prometheus_url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"--prometheus must be an http(s) URL, got {prometheus_url!r}")
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - scheme checked above
            body = json.loads(response.read())
    except OSError as exc:
        raise RuntimeError(f"cannot query Prometheus at {prometheus_url}: {exc}") from exc
    if body.get("status") != "success":
        raise RuntimeError(f"Prometheus rejected {promql!r}: {body.get('error')}")
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def fetch_samples(prometheus_url: str, by: str, window: str) -> list[leaderboard.Sample]:
    """Increases over ``window`` of the leaderboard's counters, summed by ``by`` (and outcome)."""
    if not _RANGE.match(window):
        raise ValueError(f"--range must look like 24h, 30m or 7d, got {window!r}")
    samples: list[leaderboard.Sample] = []
    specs = (
        (names.CALLS, False),
        (names.TOKENS, False),
        (names.COST_USD, False),
        (names.REPEAT_CALLS, False),
        (names.OUTCOME_TOKENS, True),
        (names.OUTCOME_CALLS, True),
        (names.OUTCOME_COST_USD, True),
    )
    for spec, per_outcome in specs:
        group = f"{by}, {names.LABEL_OUTCOME}" if per_outcome else by
        promql = f"sum by ({group}) (increase({spec.prometheus}[{window}]))"
        for item in query(prometheus_url, promql):
            value = float(item["value"][1])
            if value == value:  # skip NaN
                samples.append((spec.prometheus, dict(item["metric"]), value))
    return samples
