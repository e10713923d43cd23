"""Find Debian's prometheus/promtool: skip locally when missing, fail in CI (CI=true)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def require(binary: str) -> str:
    path = shutil.which(binary) or (f"/usr/bin/{binary}" if Path(f"/usr/bin/{binary}").exists() else None)
    if path is not None:
        return path
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{binary} is required in CI (Debian package 'prometheus'); scripts/test installs it")
    pytest.skip(f"{binary} not installed (apt-get install prometheus)")
