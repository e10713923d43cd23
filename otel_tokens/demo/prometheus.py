"""A throwaway local Prometheus (Debian's ``prometheus`` binary) scraping given ``/metrics`` URLs.

Used by ``otel-tokens demo --prometheus`` and by tests; always on loopback, on a free port.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import yaml


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalPrometheus:
    def __init__(
        self,
        *metrics_urls: str,
        rules_files: tuple[Path, ...] = (),
        scrape_interval: str = "1s",
        binary: str = "prometheus",
    ) -> None:
        if not metrics_urls:
            raise ValueError("at least one metrics URL is needed")
        self.metrics_urls = metrics_urls
        self.rules_files = rules_files
        self.scrape_interval = scrape_interval
        self.binary = binary
        self.port = 0
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _config(self) -> dict[str, object]:
        targets = []
        for url in self.metrics_urls:
            parsed = urllib.parse.urlsplit(url)
            targets.append(
                {"targets": [parsed.netloc], "labels": {"metrics_path": parsed.path or "/metrics"}}
            )
        jobs = [
            {
                "job_name": f"otel-tokens-{i}",
                "metrics_path": t["labels"]["metrics_path"],  # type: ignore[index]
                "static_configs": [{"targets": t["targets"]}],
            }
            for i, t in enumerate(targets)
        ]
        return {
            "global": {"scrape_interval": self.scrape_interval, "evaluation_interval": self.scrape_interval},
            "rule_files": [str(p) for p in self.rules_files],
            "scrape_configs": jobs,
        }

    def start(self, timeout_s: float = 30.0) -> LocalPrometheus:
        binary = shutil.which(self.binary)
        if binary is None:
            raise RuntimeError(f"{self.binary!r} not found on PATH (Debian: apt-get install prometheus)")
        self._dir = tempfile.TemporaryDirectory(prefix="otel-tokens-prometheus-")
        config = Path(self._dir.name) / "prometheus.yml"
        config.write_text(yaml.safe_dump(self._config()), encoding="utf-8")
        self.port = free_port()
        self._process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={Path(self._dir.name) / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"prometheus exited with status {self._process.returncode}")
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as response:  # noqa: S310
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("prometheus did not become ready in time")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> LocalPrometheus:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
