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
from typing import TYPE_CHECKING, Any

from opentelemetry import _logs, metrics, trace
from opentelemetry._logs import LoggerProvider
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider

from . import config, errors, runtime
from .instrumentation import INSTRUMENTORS

if TYPE_CHECKING:
    from .processor import TokenMetricsSpanProcessor

logger = logging.getLogger("otel_tokens")

_active: dict[str, Any] = {}
# (tracer provider, processor) pairs added by instrument() in processor or both mode. A tracer
# provider cannot remove a processor, so uninstrument() shuts ours down (it then does nothing).
_processors: list[tuple[TracerProvider, TokenMetricsSpanProcessor]] = []
# What instrument() returns for the span processor, next to the entry-point names it patched.
PROCESSOR = "processor"


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

    Keyword arguments override settings (``outcome_ttl_s=60``). ``mode="processor"`` (or
    ``OTEL_TOKENS_MODE``) patches nothing and adds :class:`~otel_tokens.processor.TokenMetricsSpanProcessor`
    to the tracer provider instead, for apps another GenAI instrumentation already traces;
    ``mode="both"`` does both and counts each call once. Returns the entry-point names
    instrumented, plus ``"processor"`` when the span processor was added.

    Example::

        otel_tokens.instrument(tracer_provider=tp, meter_provider=mp, logger_provider=lp)
    """
    rt = runtime.ensure(tracer_provider, meter_provider, logger_provider, **settings)
    mode = config.parse_mode(settings["mode"]) if settings.get("mode") is not None else rt.settings.mode
    done = []
    if mode != "processor":
        done += _patch_libraries(tracer_provider, meter_provider, logger_provider)
    if mode != "instrument" and _add_processor(tracer_provider):
        done.append(PROCESSOR)
    return done


def _patch_libraries(
    tracer_provider: TracerProvider | None,
    meter_provider: MeterProvider | None,
    logger_provider: LoggerProvider | None,
) -> list[str]:
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


def _add_processor(tracer_provider: TracerProvider | None) -> bool:
    """Add the span processor to ``tracer_provider`` (the global one when None), once per provider."""
    provider = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
    if any(added is provider for added, _ in _processors):
        return True
    add = getattr(provider, "add_span_processor", None)
    if add is None:
        logger.warning(
            "otel-tokens: the tracer provider %s takes no span processors; processor mode derives "
            "nothing (set up the OpenTelemetry SDK, or call otel_tokens.init())",
            type(provider).__name__,
        )
        return False
    from .processor import TokenMetricsSpanProcessor

    processor = TokenMetricsSpanProcessor()
    add(processor)
    _processors.append((provider, processor))
    return True


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
    while _processors:
        _processors.pop()[1].shutdown()
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

    ``mode="processor"`` (or ``OTEL_TOKENS_MODE=processor``) patches nothing: the span processor
    on the tracer provider set up or found here derives the metrics from other instrumentations'
    spans. See :func:`instrument`.

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
