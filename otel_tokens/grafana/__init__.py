"""Generated Grafana dashboards, Prometheus rules and their tests, all built from :mod:`otel_tokens.names`.

``queries`` owns the PromQL, ``layouts`` what each dashboard shows, ``dashboards`` the grafanalib
rendering (the only grafanalib import), ``normalize`` the modern JSON, ``rules`` and
``promtool_tests`` the alerting side, ``commands`` the CLI entry points and :func:`generate_all`.
"""
