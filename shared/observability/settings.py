"""The observability settings (``CINEMA_*``; tracing also reads the standard ``OTEL_*``
variables: docs/observability.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ObservabilitySettings:
    log_format: str = "json"  # or "text": one line per record as a person reads it
    metrics: bool = True  # off: no counting at all (to measure what counting costs)
    # Spans as JSON lines in this file (no collector needed); with the standard
    # OTEL_EXPORTER_OTLP_ENDPOINT set they go there too. Neither: no tracing.
    trace_file: str = ""
    # The share of new traces kept, when OTEL_TRACES_SAMPLER does not choose the sampler:
    # parent-based, so a saga is kept or dropped whole, where it starts.
    trace_ratio: float = 0.1
    # The stuck-saga detector: a booking PENDING longer than this has no answer from
    # inventory; other steps get their own time (the payment's reconciliation, the hold)
    # plus ``stuck_margin_s``.
    stuck_pending_s: float = 30.0
    stuck_margin_s: float = 30.0

    @classmethod
    def from_env(cls, variables: Mapping[str, str]) -> ObservabilitySettings:
        def _env(name: str, default: str) -> str:
            return variables.get(f"CINEMA_{name}", default)

        return cls(
            log_format=_env("LOG_FORMAT", "json"),
            metrics=_env("METRICS", "on").lower() not in ("off", "0", "false", "no"),
            trace_file=_env("TRACE_FILE", ""),
            trace_ratio=float(variables.get("OTEL_TRACES_SAMPLER_ARG", "0.1")),
            stuck_pending_s=float(_env("STUCK_PENDING_S", "30")),
            stuck_margin_s=float(_env("STUCK_MARGIN_S", "30")),
        )
