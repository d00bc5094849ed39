"""OpenTelemetry traces: a REST call followed through the outbox and Kafka into the other services.

A REST request's server span is FastAPI's own (its native OpenTelemetry support follows the tracer
provider set here). W3C trace context (`traceparent`, `tracestate`) travels as Kafka headers. The
unit of work writes the context of the current span, or of the span of the message that caused the
event, into the outbox row (`outbox.headers`); the relay sends it as headers from a producer span; a
consumer starts its span as a child of what it finds in a record's headers. Events published while a
batch is processed are linked to the message that caused each of them (`Origin.cause`), so a batch of
many traces keeps them apart.

Off by default. `configure()` turns it on when `OTEL_TRACES_EXPORTER` names an exporter (`otlp`,
over HTTP/protobuf, or `console`), with the other standard variables (`OTEL_SERVICE_NAME`,
`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_TRACES_SAMPLER`, `OTEL_BSP_*`, `OTEL_SDK_DISABLED`) read by the
SDK. While it is off, no span is made; a trace context that arrives on a message is still passed on
to the events it causes, so the services that do trace stay connected through one that does not.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from fastapi.telemetry import TelemetryConfig
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACE_HEADERS = ("traceparent", "tracestate")

_propagator = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("servicekit")
_enabled = False

KafkaHeaders = Sequence[tuple[str, bytes]]
ConsumedMessage = tuple[str, str, int, int, KafkaHeaders | None]
"""(event id, topic, partition, offset, record headers)"""

# While a consumer processes a batch: the trace context of each message, by CloudEvent id.
_causes: ContextVar[Mapping[str, Context] | None] = ContextVar("trace_causes", default=None)


def enabled() -> bool:
    return _enabled


def configure(service_name: str) -> bool:
    """Install a tracer provider when `OTEL_TRACES_EXPORTER` asks for one; returns whether it did."""
    global _enabled
    exporters = [
        name.strip().lower()
        for name in os.environ.get("OTEL_TRACES_EXPORTER", "none").split(",")
        if name.strip().lower() not in ("", "none")
    ]
    if not exporters or os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    # Imported here: a service that does not trace never loads the SDK.
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, read by Resource.create, win over our name.
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service_name}
    provider = TracerProvider(resource=Resource.create(attributes))
    for name in exporters:
        exporter: SpanExporter
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()
        elif name == "console":
            exporter = ConsoleSpanExporter()
        else:
            raise ValueError(f"OTEL_TRACES_EXPORTER: unsupported exporter {name!r} (otlp, console, none)")
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _enabled = True
    return True


def fastapi_telemetry() -> TelemetryConfig:
    """FastAPI's native OpenTelemetry: request spans from our tracer provider while tracing is on, and
    nothing else (metrics are Prometheus', logs our own). Named outright, so that FastAPI does not ask
    for the global providers on every request (three environment lookups each time)."""
    if not _enabled:
        return {"tracing": False, "metrics": False, "logs": False}
    return {"tracing": True, "tracer_provider": trace.get_tracer_provider(), "metrics": False, "logs": False}


def extract_kafka(headers: KafkaHeaders | None) -> Context | None:
    """The trace context a record carries, if any."""
    if not headers:
        return None
    carrier = {name: value.decode(errors="replace") for name, value in headers if name in TRACE_HEADERS}
    if "traceparent" not in carrier:
        return None
    context = _propagator.extract(carrier)
    return context if trace.get_current_span(context).get_span_context().is_valid else None


def outbox_headers(cause_id: str | None) -> dict[str, str] | None:
    """The trace headers of an event about to be written to the outbox: the context of the message that
    caused it when a consumer is processing that message, else the current span's; None without one."""
    causes = _causes.get()
    context = causes.get(cause_id) if causes is not None and cause_id is not None else None
    if context is None and not _enabled:
        return None
    carrier: dict[str, str] = {}
    _propagator.inject(carrier, context=context)
    return carrier or None


def headers_json(headers: Mapping[str, str] | None) -> str | None:
    return json.dumps(dict(headers), separators=(",", ":")) if headers else None


def headers_of_json(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    loaded: dict[str, str] = json.loads(text)
    return loaded


@contextmanager
def consuming(group: str, messages: Sequence[ConsumedMessage]) -> Iterator[None]:
    """While a batch is processed: a consumer span per message (event id, topic, partition, offset,
    headers), each a child of the context its record carries, ended when the batch is done."""
    causes: dict[str, Context] = {}
    spans: list[Span] = []
    for event_id, topic, partition, offset, headers in messages:
        parent = extract_kafka(headers)
        if _enabled:
            span = _tracer.start_span(
                f"{topic} process",
                context=parent,
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.operation.type": "process",
                    "messaging.destination.name": topic,
                    "messaging.destination.partition.id": str(partition),
                    "messaging.kafka.offset": offset,
                    "messaging.consumer.group.name": group,
                    "messaging.message.id": event_id,
                },
            )
            spans.append(span)
            causes[event_id] = trace.set_span_in_context(span)
        elif parent is not None:
            causes[event_id] = parent
    token = _causes.set(causes)
    try:
        if len(spans) == 1:
            # One message: its span is the current one, so logs and nested spans belong to its trace.
            with trace.use_span(spans[0], end_on_exit=False, record_exception=False):
                yield
        else:
            yield
    except BaseException as error:
        for span in spans:
            span.record_exception(error)
            span.set_status(StatusCode.ERROR, f"{type(error).__name__}: {error}")
        raise
    finally:
        _causes.reset(token)
        for span in spans:
            span.end()


@contextmanager
def producing(messages: Sequence[tuple[str, Mapping[str, str]]]) -> Iterator[list[dict[str, str]]]:
    """While the relay sends (topic, stored headers) messages: the headers to send with each, from a
    producer span that is a child of the stored context. Without tracing, the stored ones as they are."""
    if not _enabled:
        yield [dict(headers) for _topic, headers in messages]
        return
    spans: list[Span] = []
    sent: list[dict[str, str]] = []
    for topic, headers in messages:
        if "traceparent" not in headers:
            sent.append(dict(headers))
            continue
        span = _tracer.start_span(
            f"{topic} publish",
            context=_propagator.extract(dict(headers)),
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "send",
                "messaging.destination.name": topic,
            },
        )
        spans.append(span)
        carrier = dict(headers)
        _propagator.inject(carrier, context=trace.set_span_in_context(span))
        sent.append(carrier)
    try:
        yield sent
    except BaseException as error:
        for span in spans:
            span.set_status(StatusCode.ERROR, f"{type(error).__name__}: {error}")
        raise
    finally:
        for span in spans:
            span.end()


def current_ids() -> dict[str, Any]:
    """The current trace and span ids, for log lines; empty outside a recorded span."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": format(context.trace_id, "032x"), "span_id": format(context.span_id, "016x")}
