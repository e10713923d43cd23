"""The ``otel-tokens`` command: ``demo``, ``dashboards``, ``rules``, ``report``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any


def _add_report(subparsers: Any) -> None:
    parser = subparsers.add_parser("report", help="print the outcome leaderboard from a Prometheus server")
    parser.add_argument("--prometheus", required=True, help="Prometheus base URL, e.g. http://127.0.0.1:9090")
    parser.add_argument("--by", choices=("team", "task"), default="team")
    parser.add_argument(
        "--range", default="24h", dest="window", help="window, e.g. 1h, 24h, 7d (default 24h)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from rich.console import Console

    from . import leaderboard, report

    try:
        samples = report.fetch_samples(args.prometheus, args.by, args.window)
    except (RuntimeError, ValueError) as exc:
        print(f"otel-tokens report: {exc}", file=sys.stderr)
        return 2
    rows = leaderboard.build(samples, args.by)
    if args.json:
        print(leaderboard.to_json(rows, args.by))
    else:
        Console(width=None if sys.stdout.isatty() else 150).print(
            leaderboard.render(rows, args.by, title=f"Outcome leaderboard, last {args.window}")
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .demo.runner import add_parser as add_demo

    parser = argparse.ArgumentParser(
        prog="otel-tokens", description="Outcome-linked LLM usage on OpenTelemetry."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_demo(subparsers)
    try:
        from .grafana.commands import add_dashboards_parser, add_rules_parser
    except ImportError:  # pragma: no cover - the generators are part of the package
        pass
    else:
        add_dashboards_parser(subparsers)
        add_rules_parser(subparsers)
    _add_report(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
