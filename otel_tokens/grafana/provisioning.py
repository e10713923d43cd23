"""Grafana provisioning files: a file provider for the generated dashboards and a Prometheus datasource.

The paths match ``examples/compose/docker-compose.yaml``, which mounts ``dashboards/`` at
:data:`DASHBOARDS_PATH` and the two provisioning folders under ``/etc/grafana/provisioning``.
"""

from __future__ import annotations

from typing import Any, Final

DASHBOARDS_PATH: Final = "/var/lib/grafana/dashboards/otel-tokens"
DATASOURCE_UID: Final = "prometheus"
PROMETHEUS_URL: Final = "http://prometheus:9090"
SCRAPE_INTERVAL: Final = "15s"
DASHBOARD_PROVIDER: Final = "provisioning/dashboards/otel-tokens.yaml"
DATASOURCE: Final = "provisioning/datasources/prometheus.yaml"


def dashboard_provider(path: str = DASHBOARDS_PATH) -> dict[str, Any]:
    """A file provider that loads every dashboard JSON under ``path`` into an "otel-tokens" folder."""
    provider = {
        "name": "otel-tokens",
        "orgId": 1,
        "folder": "otel-tokens",
        "folderUid": "otel-tokens",
        "type": "file",
        "disableDeletion": True,
        # Generated files are the source of truth: UI edits would be lost at the next regeneration.
        "allowUiUpdates": False,
        "updateIntervalSeconds": 30,
        "options": {"path": path, "foldersFromFilesStructure": False},
    }
    return {"apiVersion": 1, "providers": [provider]}


def datasource(url: str = PROMETHEUS_URL) -> dict[str, Any]:
    """The Prometheus datasource the dashboards' ``datasource`` variable picks by default."""
    source = {
        "name": "Prometheus",
        "uid": DATASOURCE_UID,
        "type": "prometheus",
        "access": "proxy",
        "url": url,
        "isDefault": True,
        "editable": False,
        # Tells Grafana the scrape interval, so $__rate_interval always spans enough samples.
        "jsonData": {"timeInterval": SCRAPE_INTERVAL, "httpMethod": "POST"},
    }
    return {"apiVersion": 1, "datasources": [source]}


def provisioning_files() -> dict[str, dict[str, Any]]:
    """Relative path (under the dashboards output folder) -> YAML document."""
    return {DASHBOARD_PROVIDER: dashboard_provider(), DATASOURCE: datasource()}
