"""``instrument()`` with the app's providers, and ``init()`` that also sets providers up.

``init()`` respects providers the app already set globally, serves Prometheus metrics,
exports OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, and instruments every supported
LLM library that is installed.
"""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import _logs, metrics, trace
from opentelemetry._logs import LoggerProvider
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider

from . import config, errors, runtime
from .instrumentation import INSTRUMENTORS

logger = logging.getLogger("otel_tokens")

_active: dict[str, Any] = {}


def _instrumentor(path: str) -> Any:
    module, _, cls = path.partition(":")
    return getattr(importlib.import_module(module), cls)()


def instrument(
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    logger_provider: LoggerProvider | None = None,
    **settings: Any,
) -> list[str]:
    """Instrument every installed LLM library with these providers (global ones when None).

    Keyword arguments override settings (``outcome_ttl_s=60``). Returns the entry-point
    names instrumented.

    Example::

        otel_tokens.instrument(tracer_provider=tp, meter_provider=mp, logger_provider=lp)
    """
    runtime.ensure(tracer_provider, meter_provider, logger_provider, **settings)
    disabled = {x.strip() for x in os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "").split(",")}
    done = []
    for name, path in INSTRUMENTORS.items():
        if name in disabled:
            continue
        try:
            instrumentor = _instrumentor(path)
        except Exception as exc:  # noqa: BLE001 - one broken instrumentor must not stop the app or the others
            errors.report("instrument", exc)
            continue
        if instrumentor.is_instrumented_by_opentelemetry:
            done.append(name)
            continue
        if instrumentor._check_dependency_conflicts() is not None:
            continue  # the library is not installed, or in an unsupported version
        instrumentor.instrument(
            tracer_provider=tracer_provider, meter_provider=meter_provider, logger_provider=logger_provider
        )
        _active[name] = instrumentor
        done.append(name)
    return done


def uninstrument() -> None:
    """Restore every patched method and flush pending outcomes.

    Example::

        otel_tokens.uninstrument()
    """
    for name, path in INSTRUMENTORS.items():
        try:
            instrumentor = _active.pop(name, None) or _instrumentor(path)
        except Exception:  # noqa: BLE001, S112 - reported when instrument() failed to load it
            continue
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
    runtime.clear()


@dataclass
class Handle:
    """What :func:`init` set up. ``shutdown()`` flushes outcomes and stops what init started."""

    instrumented: list[str]
    metrics_url: str | None = None
    owned: list[Any] = field(default_factory=list)
    _server: Any = None

    def force_flush(self, timeout_millis: int = 30_000) -> None:
        rt = runtime.get()
        if rt is not None:
            rt.tracker.sweep()
        for provider in self.owned:
            provider.force_flush(timeout_millis)

    def shutdown(self) -> None:
        uninstrument()
        for provider in self.owned:
            provider.shutdown()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def init(
    service_name: str | None = None,
    prometheus_port: int | None = None,
    prometheus_host: str | None = None,
    **settings: Any,
) -> Handle:
    """Set up OTel (unless the app already has providers), serve /metrics, instrument LLM libraries.

    Example::

        handle = otel_tokens.init(service_name="support-bot")
        ...
        handle.shutdown()
    """
    from .exporters import setup_providers

    resolved = config.load(prometheus_port=prometheus_port, prometheus_host=prometheus_host, **settings)
    setup = setup_providers(
        service_name,
        resolved.prometheus_host,
        resolved.prometheus_port,
        existing=(trace.get_tracer_provider(), metrics.get_meter_provider(), _logs.get_logger_provider()),
    )
    instrumented = instrument(setup.tracer_provider, setup.meter_provider, setup.logger_provider, **settings)
    rt = runtime.get()
    for stage in setup.failed:  # already logged once by setup_providers; counted now the recorder exists
        if rt is not None:
            rt.recorder.count_internal_error(stage)
    return Handle(instrumented, setup.metrics_url, setup.owned, setup.server)
