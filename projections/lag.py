"""How long events wait between being recorded in a store and showing in the views."""

from __future__ import annotations

import bisect
import threading
from collections import deque
from datetime import UTC, datetime
from typing import Any


class LagRecorder:
    """Lag samples and their percentiles. ``record``: per public event this process
    projected, the time its round's writes were acknowledged minus the event's recorded
    timestamp (taken by the service before its commit: it includes whatever the service
    did between deciding and committing); only events recorded after the process
    started count, a catch-up is not lag. ``record_times``: the same from given times
    (the commits' notifications)."""

    def __init__(self, keep: int = 500_000) -> None:
        self.started = datetime.now(UTC)
        self._samples: deque[tuple[float, float]] = deque(maxlen=keep)  # (projected at, lag s)
        self._lock = threading.Lock()

    def record(self, recorded_at: list[datetime], projected_at: datetime) -> None:
        done = projected_at.timestamp()
        lags = [(done, (projected_at - t).total_seconds()) for t in recorded_at
                if t >= self.started]
        with self._lock:
            self._samples.extend(lags)

    def record_times(self, times: list[float], done: float) -> None:
        with self._lock:
            self._samples.extend((done, done - t) for t in times)

    def summary(self, since: float | None = None) -> dict[str, Any]:
        with self._lock:
            lags = sorted(lag for at, lag in self._samples if since is None or at >= since)
        if not lags:
            return {"n": 0}
        pick = lambda q: round(lags[min(len(lags) - 1, int(q * len(lags)))] * 1000, 1)
        return {"n": len(lags), "p50": pick(0.5), "p95": pick(0.95), "p99": pick(0.99),
                "max": round(lags[-1] * 1000, 1),
                "over_200ms": len(lags) - bisect.bisect_right(lags, 0.2)}
