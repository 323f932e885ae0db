"""Wakes the projector when a service's store records events, instead of polling.

One thread per store LISTENs for the NOTIFY that the store's insert sends (channel: the
events table's name). Without notifications (the LISTEN connection lost) the projector
polls, backing off when idle, and listens again.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import psycopg
from psycopg import sql

from projections.sources import StreamReader

log = logging.getLogger(__name__)


class Waker:
    """Wakes the projector when a service store records events: one thread per store,
    LISTENing on the channel the store's insert NOTIFYs. ``listening`` says whether every
    store's channel is being listened to right now (if not, the projector polls)."""

    def __init__(self, readers: dict[str, StreamReader], stop: threading.Event) -> None:
        self.readers = readers
        self.stop = stop
        self.woken = threading.Event()
        self._up: dict[str, bool] = {s: False for s in readers}
        self._dirty: set[str] = set(readers)  # streams notified since the last take_dirty()
        self._times: dict[str, list[float]] = {s: [] for s in readers}  # when each NOTIFY came
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    @property
    def listening(self) -> bool:
        return all(self._up.values())

    def start(self) -> Waker:
        for stream in self.readers:
            t = threading.Thread(target=self._listen, args=(stream,), daemon=True,
                                 name=f"listen-{stream}")
            t.start()
            self._threads.append(t)
        return self

    def _notified(self, stream: str, commit: bool = False) -> None:
        with self._lock:
            self._dirty.add(stream)
            if commit and len(self._times[stream]) < 100_000:
                self._times[stream].append(time.time())
        self.woken.set()

    def take_dirty(self) -> tuple[set[str], dict[str, list[float]]]:
        """The streams notified since the last call (all of them while not listening),
        and when each notification arrived: one per committed transaction that recorded
        events, delivered at its commit, so these are the commits' times (to the ms)."""
        with self._lock:
            dirty, self._dirty = self._dirty, set()
            times, self._times = self._times, {s: [] for s in self.readers}
        return (set(self.readers) if not self.listening else dirty), times

    def wait(self, timeout: float) -> bool:
        woken = self.woken.wait(timeout)
        self.woken.clear()
        return woken

    def _listen(self, stream: str) -> None:
        recorder: Any = self.readers[stream].recorder  # PostgreSQL's (stream_readers)
        kwargs = {k: v for k, v in recorder.datastore.pool.kwargs.items() if k != "row_factory"}
        backoff = 0.5
        while not self.stop.is_set():
            try:
                with psycopg.connect(**kwargs, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(recorder.channel_name)))
                    self._up[stream] = True
                    self._notified(stream)  # anything recorded while we were not listening
                    backoff = 0.5
                    while not self.stop.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self._notified(stream, commit=True)
            except (psycopg.Error, OSError) as e:  # the database restarted, or is not there yet
                if self._up[stream] or backoff == 0.5:
                    log.warning("not listening to %s's store (%s); polling meanwhile", stream, e)
            self._up[stream] = False
            self._notified(stream)
            self.stop.wait(backoff)
            backoff = min(backoff * 2, 10.0)
