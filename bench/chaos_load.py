"""The chaos soak's load: customers booking at a steady rate (some declined, who retry,
cancel or let their hold expire; a few reaching for seats already handed to another),
most with an email address so that the notification service writes to them, and the
theatre now and then rescheduling a show, cancelling one or withdrawing seats. Drawn
from the seed; what each customer saw is kept in its trace.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from bench.driver import DECLINED, VISA, Driver, Trace
from bench.scenarios import ShowPicker

CHANGES = ("reschedule", "cancel", "withdrawn-seats")


@dataclass
class LoadParams:
    rate: float = 2.0  # customers a second
    seats: int = 40  # per show
    fail_rate: float = 0.15  # pay with a declined card
    retry_rate: float = 0.5  # of the declined: pay again with a good card
    cancel_rate: float = 0.3  # of the declined who do not retry: cancel
    clash_rate: float = 0.05  # ask for seats already handed to another customer
    contact_rate: float = 0.8  # give an email address
    change_every: float = 40.0  # seconds between two of the theatre's changes, on average


@dataclass
class Load:
    driver: Driver
    params: LoadParams
    rng: random.Random
    shows: list[str]
    traces: list[Trace] = field(default_factory=list)
    changes: list[dict] = field(default_factory=list)
    tasks: list[asyncio.Task] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.picker = ShowPicker(dict.fromkeys(self.shows, self.params.seats), 0.5, self.rng)
        self.handed: list[tuple[str, list[str]]] = []
        self.cancelled: set[str] = set()
        self.tag = uuid.uuid4().hex[:6]

    async def customers(self, until: asyncio.Event) -> None:
        """New customers at the rate until ``until`` is set."""
        p, n = self.params, 0
        next_at = time.monotonic()
        while not until.is_set():
            n += 1
            pick = self.pick()
            if pick is not None:
                customer = f"chaos-{self.tag}-{n}"
                declined = self.rng.random() < p.fail_rate
                retries = declined and self.rng.random() < p.retry_rate
                t = Trace(customer, uuid.uuid4().hex, pick[0], pick[1], DECLINED if declined else VISA,
                          retries=retries, followed=True,
                          cancels=declined and not retries and self.rng.random() < p.cancel_rate)
                self.traces.append(t)
                self.tasks.append(asyncio.create_task(
                    self.one(t, self.rng.random() < p.contact_rate)))
            next_at += self.rng.expovariate(p.rate)
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    def pick(self) -> tuple[str, list[str]] | None:
        if self.handed and self.rng.random() < self.params.clash_rate:
            show, seats = self.rng.choice(self.handed)
            return show, seats[:1]
        pick = self.picker.pick(self.rng.choice((1, 1, 2, 3)))
        if pick is not None:
            self.handed.append(pick)
        return pick

    async def one(self, t: Trace, contact: bool) -> None:
        if contact:
            for _ in range(5):  # the notification service may be down: ask again
                if await self.driver.give_contact(t.customer, f"{t.customer}@example.com"):
                    break
                await asyncio.sleep(1)
        await self.driver.customer(t)

    async def theatre(self, until: asyncio.Event) -> None:
        """The theatre's changes to shows, at random intervals."""
        while not until.is_set():
            try:
                await asyncio.wait_for(until.wait(), self.rng.expovariate(1 / self.params.change_every))
                return
            except TimeoutError:
                pass
            open_shows = [s for s in self.shows if s not in self.cancelled]
            show, action = self.rng.choice(open_shows), self.rng.choice(CHANGES)
            if action == "reschedule":
                body: dict = {"start": self.driver.next_start()}
            elif action == "cancel":
                body = {"reason": "projector failure"}
                self.cancelled.add(show)
                self.picker.free[show] = []  # no customer is sent to it any more
            else:
                seats = self.rng.sample(range(1, self.params.seats + 1), 2)
                body = {"seat_ids": [f"A{s}" for s in seats], "reason": "broken seat"}
            status = None
            for _ in range(5):  # the theatre may be down: ask again (each is idempotent)
                status = await self.driver.show_change(show, action, body)
                if status is not None and status < 500:
                    break
                await asyncio.sleep(2)
            self.changes.append({"show": show, "action": action, "status": status})

    async def finish(self, timeout: float) -> None:
        """Until every customer has seen its booking final (or given up following it)."""
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=timeout)

    def summary(self) -> dict:
        outcomes = Counter(t.final or ("error: " + (t.error or "unknown")) for t in self.traces)
        return {
            "customers": len(self.traces),
            "outcomes_seen": dict(outcomes),
            "declined": sum(t.method == DECLINED for t in self.traces),
            "retried": sum(t.retried is not None for t in self.traces),
            "cancel_asked": sum(t.cancel_asked for t in self.traces),
            "theatre_changes": dict(Counter(c["action"] for c in self.changes)),
            "theatre_changes_refused": [c for c in self.changes if c["status"] not in (200,)],
        }

    def customer_cancelled(self) -> set[uuid.UUID]:
        return {uuid.UUID(t.booking_id) for t in self.traces if t.cancel_asked}
