"""What a service keeps of its aggregates in memory, who may change it, and when it is
dropped.

Aggregates stay in memory between messages instead of being loaded from the store for
each one (a hot show has thousands of events). The cache is changed by the holder of the
write lock alone, by this process's own writes, never fast-forwarded from the store: a
copy made stale by another writer can only lose the version check on save, and is then
dropped. Whatever may no longer match the store (a failed write, a lost connection, a
restarted database, partitions another instance followed) is dropped and read again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    Cache,
    LRUCache,
    ProcessingEvent,
)
from eventsourcing.persistence import InterfaceError, OperationalError

# Errors after which the store may not hold what this process believes it wrote (or
# holds what it believes failed): a lost connection leaves a commit's outcome unknown.
# (A store that went back, StoreDiverged, is reported by the recorder itself, through
# ``on_diverged``, whichever caller gets it.)
STORE_IN_DOUBT = (OperationalError, InterfaceError)


class CachedAggregates(Application):
    def start_caching(self) -> None:
        """Called once the application is constructed."""
        # One writer at a time inside a process: commands and reactions never race.
        # Take it with writing(), not directly.
        self.write_lock = threading.RLock()
        # The batch being decided by this thread: later messages of a batch must see
        # the aggregates earlier ones changed (not yet saved), not the stored versions.
        self._deciding = threading.local()
        # Moves on whenever what this process kept in memory was dropped because the store
        # may have gone back; the consumer then rewinds to the positions recorded there.
        self.store_epoch = 0

    @contextmanager
    def writing(self) -> Iterator[None]:
        """The write lock. Inside it, find() hands out the cached aggregates themselves,
        not copies (a deep copy per message cost more than deciding it): one writer at a
        time uses them. A write that fails drops whatever it read from the cache, since
        those objects may hold changes that were never stored."""
        with self.write_lock:
            if getattr(self._deciding, "touched", None) is not None:  # re-entered
                yield
                return
            touched: set[Any] = set()
            self._deciding.touched = touched
            try:
                yield
            except STORE_IN_DOUBT:
                self.reload_from_store()
                raise
            except BaseException:
                self._forget(touched)
                raise
            finally:
                self._deciding.touched = None

    def _record(self, processing_event: ProcessingEvent) -> list[Any]:
        """Inside writing(), as the library does: store, then update the cache. Outside it
        (a new booking, written without the lock), store only. The cache is changed by
        the lock's holder alone: an unlocked put after the commit could land after a
        writer had loaded and moved the aggregate on, and replace its newer copy with
        this older one; a reaction decided on that copy can be a silent no-op, and its
        message is lost (seen once: a booking left PAYMENT_PENDING, paid and booked)."""
        if getattr(self._deciding, "touched", None) is not None:
            return super()._record(processing_event)
        return self.events.put(processing_event.events, tracking=processing_event.tracking,
                               **processing_event.saved_kwargs)

    def find_current(self, aggregate_id: Any) -> Any | None:
        """For a customer's command, inside writing(): the aggregate as stored now. Any
        instance takes commands, but only the one that follows the aggregate's partition
        keeps its cached copy current; another's copy, cached by an earlier command of its
        own, may be behind, and a command refused on it is refused wrongly (a retry while
        "an attempt is still in progress" that failed meanwhile). Commands are rare next
        to messages: one read of the store each."""
        self._forget([aggregate_id])
        return self.find(aggregate_id)

    def find_all_current(self, aggregate_ids: Iterable[Any]) -> dict[Any, Any | None]:
        """find_current for several aggregates, inside writing(), with one read where the
        store can tell their latest versions: a cached copy still at its latest version
        is used as it is, the others are read again."""
        wanted = list(dict.fromkeys(aggregate_ids))
        versions = getattr(self.recorder, "max_versions", None)
        if not wanted:
            return {}
        if versions is None:
            return {i: self.find_current(i) for i in wanted}
        latest = versions(wanted)
        found = {i: self.find(i) for i in wanted}
        return {i: a if a is None or a.version == latest.get(i) else self.find_current(i)
                for i, a in found.items()}

    def find_latest(self, aggregate_id: Any) -> Any | None:
        """find_current of one aggregate, as find_all_current reads it."""
        return self.find_all_current([aggregate_id])[aggregate_id]

    def _forget(self, aggregates: Iterable[Any]) -> None:
        """Drop cached copies that lost a write conflict: the store has a newer version."""
        cache = self.repository.cache
        if cache is None:
            return
        for aggregate_id in aggregates:
            try:
                cache.get(aggregate_id, evict=True)
            except KeyError:
                pass

    def reload_from_store(self) -> None:
        """After a lost connection, a commit whose outcome is unknown, or a database
        server that restarted: whatever this process keeps in memory may be ahead of the
        store, or behind it. It is handled as if this instance had just been given its
        partitions: cached aggregates dropped, what was learned from messages forgotten,
        and the consumer rewinds to the positions the store recorded (``store_epoch``)."""
        self.store_epoch += 1
        self.partitions_revoked()
        self.partitions_assigned()

    def partitions_assigned(self) -> None:
        """This instance now follows partitions another may have followed until now, and
        that one may have moved their aggregates on: the cached copies are dropped (a
        reaction decided on an older copy can be a silent no-op, as in ``_record``)."""
        cache = self.repository.cache
        if cache is not None:
            with self.write_lock:  # a new, empty one: LRUCache.clear() keeps the entries
                self.repository.cache = (LRUCache(cache.maxsize) if isinstance(cache, LRUCache)
                                         else Cache())

    def partitions_revoked(self) -> None:
        """Hook: this instance no longer follows some partitions, so what it learned from
        their messages (not from its own store) will no longer be kept up to date."""

    def find(self, aggregate_id: Any) -> Any | None:
        deciding = getattr(self._deciding, "processing", None)
        if deciding is not None and aggregate_id in deciding.aggregates:
            return deciding.aggregates[aggregate_id]
        touched = getattr(self._deciding, "touched", None)
        try:
            if touched is None:
                # A reader, outside writing(): a copy of its own, taken while no writer
                # is changing the cached object (a copy made mid-change could fail or be
                # torn). Such reads are rare: queries are served by the views.
                with self.write_lock:
                    return self.repository.get(aggregate_id)
            touched.add(aggregate_id)
            return self.repository.get(aggregate_id, deepcopy_from_cache=False)
        except AggregateNotFoundError:
            return None
