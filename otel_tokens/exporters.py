"""OTel SDK providers for ``init()``: Prometheus ``/metrics`` and OTLP when configured.

Providers the app already set globally are kept; only the missing ones are created. OTLP
exports run on the SDK's background threads (batch span and log processors, the periodic
metric reader), so a collector that is down or never answers never slows an LLM call; each
failed export is counted in ``otel_tokens_internal_errors_total{stage="export"}`` and logged
once, beside the exporter's own log lines.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import _logs, metrics, trace
from opentelemetry._logs import LoggerProvider
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import ProxyTracerProvider, TracerProvider

from . import errors

logger = logging.getLogger("otel_tokens")


@dataclass
class Setup:
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    logger_provider: LoggerProvider
    metrics_url: str | None = None
    server: Any = None
    owned: list[Any] = field(default_factory=list)
    # Stages that failed here, logged already; counted once the recorder exists.
    failed: list[str] = field(default_factory=list)


def _otlp(signal: str) -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
    )


def _is_unset_meter_provider(provider: MeterProvider) -> bool:
    return type(provider).__name__ in ("_ProxyMeterProvider", "ProxyMeterProvider", "NoOpMeterProvider")


def setup_providers(
    service_name: str | None,
    host: str,
    port: int,
    existing: tuple[TracerProvider, MeterProvider, LoggerProvider],
) -> Setup:
    from opentelemetry.sdk.resources import OTELResourceDetector, Resource

    current_tracer, current_meter, current_logger = existing
    attributes = {"service.name": service_name} if service_name else {}
    resource = (
        Resource.create(attributes).merge(OTELResourceDetector().detect())
        if attributes
        else Resource.create()
    )
    owned: list[Any] = []

    tracer_provider: TracerProvider = current_tracer
    if isinstance(current_tracer, ProxyTracerProvider):
        tracer_provider = _tracer_provider(resource)
        trace.set_tracer_provider(tracer_provider)
        owned.append(tracer_provider)

    metrics_url = None
    server = None
    failed: list[str] = []
    meter_provider: MeterProvider = current_meter
    if _is_unset_meter_provider(current_meter):
        meter_provider, server, metrics_url = _meter_provider(resource, host, port, failed)
        metrics.set_meter_provider(meter_provider)
        owned.append(meter_provider)
    elif port >= 0:
        logger.info(
            "otel-tokens: the app has its own MeterProvider; add a Prometheus reader to it for /metrics"
        )

    logger_provider: LoggerProvider = current_logger
    if type(current_logger).__name__ in ("ProxyLoggerProvider", "NoOpLoggerProvider"):
        logger_provider = _logger_provider(resource)
        _logs.set_logger_provider(logger_provider)
        owned.append(logger_provider)
    return Setup(tracer_provider, meter_provider, logger_provider, metrics_url, server, owned, failed)


class ExportFailed(RuntimeError):
    """An OTLP export that did not succeed: the collector is down, slow or refusing."""


def _reported(signal: str, export: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run one export (on the SDK's export thread) and report its failure; the result is unchanged."""
    try:
        result = export(*args, **kwargs)
    except Exception as exc:  # counted, then handled by the SDK's processor as before
        errors.report("export", exc)
        raise
    if getattr(result, "name", None) == "FAILURE":
        errors.report(
            "export",
            ExportFailed(f"OTLP {signal} export failed: the collector is down, slow or refusing"),
        )
    return result


def _span_exporter() -> Any:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    class ReportingSpanExporter(OTLPSpanExporter):
        def export(self, *args: Any, **kwargs: Any) -> Any:
            return _reported("traces", super().export, *args, **kwargs)

    return ReportingSpanExporter()


def _metric_exporter() -> Any:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    class ReportingMetricExporter(OTLPMetricExporter):
        def export(self, *args: Any, **kwargs: Any) -> Any:
            return _reported("metrics", super().export, *args, **kwargs)

    return ReportingMetricExporter()


def _log_exporter() -> Any:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

    class ReportingLogExporter(OTLPLogExporter):
        def export(self, *args: Any, **kwargs: Any) -> Any:
            return _reported("logs", super().export, *args, **kwargs)

    return ReportingLogExporter()


def _tracer_provider(resource: Any) -> TracerProvider:
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider

    provider = SdkTracerProvider(resource=resource)
    if _otlp("TRACES"):
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        # Batched: spans are exported on a background thread, never on the LLM call's path.
        provider.add_span_processor(BatchSpanProcessor(_span_exporter()))
    return provider


def _meter_provider(
    resource: Any, host: str, port: int, failed: list[str]
) -> tuple[MeterProvider, Any, str | None]:
    from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader

    readers: list[MetricReader] = []
    server = None
    url = None
    if port >= 0:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import CollectorRegistry, start_http_server

        registry = CollectorRegistry()
        readers.append(PrometheusMetricReader(registry=registry))
        try:
            server, _thread = start_http_server(port, addr=host, registry=registry)
            url = f"http://{host}:{server.server_port}/metrics"
        except OSError as exc:
            logger.error(
                "otel-tokens: cannot serve /metrics on %s:%s: %s (LLM calls are unaffected)", host, port, exc
            )
            failed.append("export")
    if _otlp("METRICS"):
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        readers.append(PeriodicExportingMetricReader(_metric_exporter()))
    return SdkMeterProvider(resource=resource, metric_readers=readers), server, url


def _logger_provider(resource: Any) -> LoggerProvider:
    from opentelemetry.sdk._logs import LoggerProvider as SdkLoggerProvider

    provider = SdkLoggerProvider(resource=resource)
    if _otlp("LOGS"):
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

        provider.add_log_record_processor(BatchLogRecordProcessor(_log_exporter()))
    return provider
