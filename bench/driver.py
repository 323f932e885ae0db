"""Simulated customers over HTTP: one asyncio loop, one aiohttp connection pool per service.

A customer POSTs a booking (one who quotes asks pricing's ``POST /quotes`` first and
books with the quote) and, if followed, polls ``GET /bookings/{id}`` until it is final,
retrying a declined payment when it is one who retries. Polls are spaced
``poll_ms`` apart for the first ten, then back off by 1.25x up to ``poll_max_ms``
(250; equal to ``poll_ms`` for a fixed interval), and at most
``poll_concurrency`` are in flight at once, so polling never grows into the dominant
load when the system slows down (the mean interval is reported). Every wait is
bounded; everything targets 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import msgspec

from bench.report import dist_ms
from launcher.processes import service_of
from projections.booking_view import STATUS_RANK
from shared import ids
from tests.e2e.harness import Distributed

FINAL = ("CONFIRMED", "CANCELLED")
HELD = ("PAYMENT_PENDING", "CONFIRMED")
VISA, DECLINED = "pm_card_visa", "pm_card_chargeDeclined"
# Shows scheduled through the theatre: one theatre, in UTC so that no start falls in a
# clock change, and one film whose run and cleaning gap fit a slot with room to spare.
THEATRE = "bench"
FILM = {"title": "Bench", "runtime_minutes": 120, "rating": "PG", "language": "en",
        "format": "2D"}
SLOT = timedelta(hours=4)
PROGRAMME_MAX = 200  # shows in one programme request (the theatre's limit)
ROW_MAX = 999  # seats in one row: a seat's number is at most 999


@dataclass
class Trace:
    """One simulated customer's booking, as the customer saw it."""

    customer: str
    key: str
    show: str
    seats: list[str]
    method: str
    retries: bool  # declined customers only: pays again with a good card
    followed: bool  # polls until final (else: POST only, outcome from the store)
    quote: bool = False  # asks pricing for a quote first and books with it
    cancels: bool = False  # declined customers who do not retry: cancel instead of waiting
    booking_id: str = ""
    sent: float = 0.0  # monotonic, when the POST was started
    sent_wall: float = 0.0  # time.time() at the same moment, to compare with event times
    post_status: int | None = None
    post_done: float | None = None
    held_seen: float | None = None  # first poll that saw PAYMENT_PENDING or later
    final_seen: float | None = None
    final: str | None = None
    reason: str | None = None
    retried: float | None = None
    polls: int = 0
    went_back: int = 0  # polls whose status ranked below an earlier poll's
    held_from_store: bool = False  # the hold was first seen in a not-yet-projected answer
    post_attempts: int = 1  # >1: the POST was repeated (same Idempotency-Key) after a timeout
    quote_status: int | None = None  # POST /quotes' answer (None: not asked, or no answer)
    cancel_asked: bool = False  # asked once (its answer may be lost to a fault)
    error: str | None = None

    def __post_init__(self) -> None:
        self.booking_id = str(ids.booking_id(self.customer, self.key))


def has_failed_attempt(doc: dict) -> bool:
    """Whether a payment attempt of this booking was declined (either shape of the API)."""
    if "payment_attempts" in doc:
        return any(a.get("outcome") == "failed" for a in doc["payment_attempts"])
    return bool(doc.get("payment_attempts_failed"))


@dataclass
class HttpStats:
    requests: Counter = field(default_factory=Counter)  # kind -> count
    statuses: Counter = field(default_factory=Counter)  # (kind, status) -> count
    transport_errors: Counter = field(default_factory=Counter)  # (kind, exception) -> count
    latency: dict[str, list[float]] = field(default_factory=dict)  # kind -> seconds

    def snapshot(self) -> dict:
        return {
            "requests": dict(self.requests),
            "by_status": {f"{k} {s}": n for (k, s), n in sorted(self.statuses.items())},
            # A POST refused at once (409 seats_taken) is an answer, not an error.
            "errors": {f"{k} {s}": n for (k, s), n in sorted(self.statuses.items())
                       if s >= 400 and (k, s) != ("post_booking", 409)},
            "refused_at_once": self.statuses[("post_booking", 409)],
            "transport_errors": {f"{k} {e}": n for (k, e), n in self.transport_errors.items()},
            "latency_ms": {k: dist_ms(v) for k, v in sorted(self.latency.items())},
        }


@dataclass(frozen=True)
class Answer:
    """A response, read in full (the part of one the driver looks at)."""

    status_code: int
    body: bytes

    def json(self) -> dict:
        return msgspec.json.decode(self.body)

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


class Driver:
    """The customers' HTTP client. aiohttp, not httpx: the driver shares the machine's
    cores with the system it measures, and aiohttp spends far less CPU per request."""

    def __init__(self, system: Distributed, connections: int = 128, poll_ms: float = 15,
                 poll_concurrency: int = 16, follow_timeout: float = 60.0,
                 poll_max_ms: float = 250) -> None:
        self.system = system
        # The clients, by process: every booking and pricing instance (taking turns, as
        # behind a load balancer), and inventory's and the theatre's first.
        of = lambda service: [p for p in system.local.processes if service_of(p) == service]
        bookings, pricings = of("booking"), of("pricing")
        self._next_booking = itertools.cycle(bookings).__next__
        # An older version of the system has no pricing: its customers book unquoted.
        self.pricing = bool(pricings)
        self._next_pricing = itertools.cycle(pricings).__next__
        self.inventory, self.theatre = "inventory", "theatre"
        self.notifications = "notifications"
        self._pool_sizes = {**dict.fromkeys(bookings, connections),
                            **dict.fromkeys(pricings, connections), self.inventory: 16,
                            **dict.fromkeys(of(self.theatre)[:1], 8),  # none before the theatre
                            **dict.fromkeys(of(self.notifications)[:1], 8)}
        self._urls = {p: system.local.url(p) for p in self._pool_sizes}
        for url in self._urls.values():
            assert url.startswith("http://127.0.0.1:"), url
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        # Wait here rather than in the connection pool, never more than the pool holds.
        self.gates = {name: asyncio.Semaphore(n) for name, n in self._pool_sizes.items()}
        self.poll_s = poll_ms / 1000
        self.poll_max_s = max(poll_max_ms, poll_ms) / 1000
        self.poll_gate = asyncio.Semaphore(poll_concurrency)
        self.follow_timeout = follow_timeout
        self.http = HttpStats()
        self._tokens: dict[str, dict[str, str]] = {}
        self._screens: set[str] = set()  # laid out in the theatre, its registration first
        self._slots = itertools.count()  # the next free start on the theatre's screens
        # Midnight UTC two days ahead: every start is in the future, whatever the hour.
        self._first_start = datetime.combine(datetime.now(UTC).date() + timedelta(days=2),
                                             datetime.min.time())

    def _session(self, client: str) -> aiohttp.ClientSession:
        """Created on first use, inside the running loop, as aiohttp wants."""
        session = self._sessions.get(client)
        if session is None:
            session = self._sessions[client] = aiohttp.ClientSession(
                base_url=self._urls[client],
                connector=aiohttp.TCPConnector(limit=self._pool_sizes[client]),
                timeout=aiohttp.ClientTimeout(total=30.0),
                json_serialize=lambda o: msgspec.json.encode(o).decode(),
            )
        return session

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()

    def auth(self, customer: str, operator: bool = False) -> dict[str, str]:
        key = customer + ("+ops" if operator else "")
        if key not in self._tokens:  # signing is not free: once per customer
            self._tokens[key] = Distributed.auth(customer, operator)
        return self._tokens[key]

    async def call(self, kind: str, client: str, method: str, url: str,
                   **kwargs: Any) -> Answer | None:
        """One request, counted by kind and status; None on a transport error."""
        self.http.requests[kind] += 1
        start = time.monotonic()
        async with self.gates[client]:
            try:
                async with self._session(client).request(method, url, **kwargs) as resp:
                    r = Answer(resp.status, await resp.read())
            except (TimeoutError, aiohttp.ClientError) as e:
                self.http.transport_errors[(kind, type(e).__name__)] += 1
                return None
        self.http.latency.setdefault(kind, []).append(time.monotonic() - start)
        self.http.statuses[(kind, r.status_code)] += 1
        return r

    # --- operator -------------------------------------------------------------------

    async def open_shows(self, shows: dict[str, int], price: int = 1000, parallel: int = 8) -> None:
        """PUT /shows/{id}/inventory for each show (id -> number of seats A1..An)."""
        gate = asyncio.Semaphore(parallel)
        headers = self.auth("ops", operator=True)

        async def one(show: str, n: int) -> None:
            layout = {"seats": {f"A{i}": "std" for i in range(1, n + 1)}, "prices": {"std": price},
                      "currency": "EUR"}
            async with gate:
                r = await self.call("put_show", self.inventory, "PUT", f"/shows/{show}/inventory",
                                    json=layout, headers=headers)
            if r is None or r.status_code not in (200, 201):
                raise RuntimeError(f"could not open {show}: {r and r.status_code} {r and r.text}")

        await asyncio.gather(*(one(s, n) for s, n in shows.items()))

    async def give_contacts(self, customers: list[str], domain: str, parallel: int = 8) -> None:
        """Each customer's email address (``<customer>@<domain>``; one in four in French)."""
        gate = asyncio.Semaphore(parallel)

        async def one(n: int, customer: str) -> None:
            async with gate:
                given = await self.give_contact(customer, f"{customer}@{domain}",
                                                "fr" if n % 4 == 3 else "en")
            if not given:
                raise RuntimeError(f"the notification service did not take {customer}'s contact")

        await asyncio.gather(*(one(n, c) for n, c in enumerate(customers)))

    async def schedule_shows(self, screen: str, shows: list[str], seats: int, price: int = 1000,
                             timeout: float = 120.0) -> None:
        """Schedule shows through the theatre on one screen of ``seats`` Regular seats (row A,
        A1..An, as the customers name them), each in a slot of its own, then wait until
        inventory has opened every one and pricing, if the system has it, prices every one.
        Show and screen ids are the theatre's slugs."""
        if not 0 < seats <= ROW_MAX:
            raise ValueError(f"a screen of one row has 1 to {ROW_MAX} seats, not {seats}")
        ops = self.auth("ops", operator=True)

        async def write(method: str, path: str, body: dict) -> None:
            r = await self.call("theatre", self.theatre, method, path, json=body, headers=ops)
            if r is None or r.status_code not in (200, 201):
                raise RuntimeError(f"{method} {path}: {r and r.status_code} {r and r.text}")

        if screen not in self._screens:
            if not self._screens:
                await write("PUT", f"/theatres/{THEATRE}", {
                    "name": "Bench", "city": "London", "address": "1 High St",
                    "time_zone": "UTC"})
            await write("PUT", f"/theatres/{THEATRE}/screens/{screen}", {"name": screen, "rows": [
                {"row": "A", "seats": [{"number": n, "column": n, "category": "Regular"}
                                       for n in range(1, seats + 1)]}]})
            self._screens.add(screen)
        planned = [{"show_id": show, "screen_id": screen, "film": FILM,
                    "start": self.next_start(),
                    "prices": {"Regular": price}, "currency": "EUR"} for show in shows]
        for i in range(0, len(planned), PROGRAMME_MAX):
            await write("POST", f"/theatres/{THEATRE}/programme",
                        {"shows": planned[i:i + PROGRAMME_MAX]})
        await self.wait_on_sale(shows, timeout)

    async def wait_on_sale(self, shows: list[str], timeout: float, parallel: int = 8) -> None:
        """Until inventory's seat map and (if the system has pricing) pricing's prices of
        every show answer; a show still missing one after ``timeout`` fails the run."""
        gate, who = asyncio.Semaphore(parallel), self.auth("bench")
        waiting = {show: [(self.inventory, f"/shows/{show}/seats")]
                   + ([(self._next_pricing(), f"/shows/{show}/prices")] if self.pricing else [])
                   for show in shows}

        async def answers(client: str, path: str) -> bool:
            async with gate:
                r = await self.call("wait_on_sale", client, "GET", path, headers=who)
            return r is not None and r.status_code == 200

        deadline = time.monotonic() + timeout
        while True:
            pending = [(show, read) for show, reads in waiting.items() for read in reads]
            done = await asyncio.gather(*(answers(*read) for _, read in pending))
            waiting = {}
            for (show, read), ok in zip(pending, done, strict=True):
                if not ok:
                    waiting.setdefault(show, []).append(read)
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(waiting)} shows not on sale after {timeout:g} s, e.g."
                                   f" {next(iter(waiting.items()))}")
            await asyncio.sleep(0.2)

    async def seat_map(self, show: str, tries: int = 10) -> dict:
        """The operator's seat map (with holders), or {} if it cannot be had."""
        for _ in range(tries):
            r = await self.call("get_seats", self.inventory, "GET", f"/shows/{show}/seats",
                                headers=self.auth("ops", operator=True))
            if r is not None and r.status_code == 200:
                return r.json()
            await asyncio.sleep(0.5)
        return {}

    async def show_change(self, show: str, action: str, body: dict) -> int | None:
        """The theatre changes a show (``reschedule``, ``cancel``, ``withdrawn-seats``):
        its answer's status, None if there was none."""
        r = await self.call(f"show_{action}", self.theatre, "POST", f"/shows/{show}/{action}",
                            json=body, headers=self.auth("ops", operator=True))
        return r.status_code if r is not None else None

    def next_start(self) -> str:
        """A start in a slot of its own (for a rescheduled show)."""
        return f"{self._first_start + next(self._slots) * SLOT:%Y-%m-%dT%H:%M}"

    # --- a customer -----------------------------------------------------------------

    async def give_contact(self, customer: str, email: str, language: str = "en") -> bool:
        """The customer's email address, for the notification service's messages."""
        r = await self.call("put_contact", self.notifications, "PUT", "/customers/me/contact",
                            json={"email": email, "language": language},
                            headers=self.auth(customer))
        return r is not None and r.status_code == 200

    async def customer(self, t: Trace) -> None:
        try:
            await self._customer(t)
        except Exception as e:  # a driver bug must show in the report, not kill the run
            t.error = f"{type(e).__name__}: {e}"
            self.http.transport_errors[("driver", type(e).__name__)] += 1

    async def quote(self, t: Trace) -> str | None:
        """A quote for the trace's seats, or None (the trace says why)."""
        r: Answer | None = None
        for _ in range(3):  # a quote stores nothing: asking again is harmless
            r = await self.call("post_quote", self._next_pricing(), "POST", "/quotes",
                                json={"show_id": t.show, "seat_ids": t.seats},
                                headers=self.auth(t.customer))
            if r is not None and r.status_code < 500:
                break
        t.quote_status = r.status_code if r is not None else None
        if r is None or r.status_code != 201:
            t.error = "quote failed"
            return None
        return str(r.json()["quote"])

    async def _customer(self, t: Trace) -> None:
        headers = {**self.auth(t.customer), "Idempotency-Key": t.key}
        body = {"show_id": t.show, "seat_ids": t.seats, "payment_method": t.method}
        if t.quote:
            quote = await self.quote(t)
            if quote is None:
                return
            body["quote"] = quote
        # The latencies count from the POST, quoted or not, so runs with and without
        # quotes compare; the quote's own time is its HTTP kind's.
        t.sent, t.sent_wall = time.monotonic(), time.time()
        r: Answer | None = None
        for attempt in range(1, 4):  # a timed-out POST is repeated with the same key
            t.post_attempts = attempt
            r = await self.call("post_booking", self._next_booking(), "POST", "/bookings", json=body,
                                headers=headers)
            if r is not None and r.status_code < 500:
                break
        t.post_done = time.monotonic()
        if r is not None and r.status_code == 409 and r.json().get("error") == "seats_taken":
            # Refused at once: the seats were known taken, no booking was made.
            t.post_status, t.final, t.final_seen, t.reason = 409, "REFUSED", t.post_done, "seats_taken"
            return
        if r is None or r.status_code not in (200, 202):
            t.post_status = r.status_code if r is not None else None
            t.error = "post failed"
            return
        t.post_status = r.status_code
        if t.followed:
            await self.follow(t, headers)

    async def follow(self, t: Trace, headers: dict[str, str]) -> None:
        """Poll until final; retry a declined payment if this customer does."""
        deadline = t.sent + self.follow_timeout
        interval = self.poll_s
        best = 0
        while time.monotonic() < deadline:
            await asyncio.sleep(interval)
            if t.polls >= 10:  # after ~10 quick polls, back off: resolution stays ~1/8 of the wait
                interval = min(interval * 1.25, self.poll_max_s)
            async with self.poll_gate:
                r = await self.call("get_booking", self._next_booking(), "GET", f"/bookings/{t.booking_id}",
                                    headers=headers)
            t.polls += 1
            if r is None or r.status_code != 200:
                continue
            doc = r.json()
            now, status = time.monotonic(), doc["status"]
            # A poll that ranks below an earlier one broke monotonic reads.
            t.went_back += STATUS_RANK[status] < best
            best = max(best, STATUS_RANK[status])
            if t.held_seen is None and status in HELD:
                t.held_seen = now
                # Only the write model's answers (a booking not projected yet) lack a timeline.
                t.held_from_store = not doc["timeline"]
            if status in FINAL:
                t.final, t.final_seen, t.reason = status, now, doc["cancellation_reason"]
                return
            declined = status == "PAYMENT_PENDING" and has_failed_attempt(doc)
            if declined and t.retries and t.retried is None:
                t.retried = time.monotonic()
                await self.call("post_retry", self._next_booking(), "POST",
                                f"/bookings/{t.booking_id}/payment-attempts",
                                json={"payment_method": VISA}, headers=headers)
            elif declined and t.cancels and not t.cancel_asked:
                t.cancel_asked = True
                await self.call("post_cancel", self._next_booking(), "POST",
                                f"/bookings/{t.booking_id}/cancel", headers=headers)
            elif declined and not t.retries:
                # Lets the hold expire: sleep until the deadline, then poll slowly.
                until = datetime.fromisoformat(doc["reserved_until"]).timestamp()
                interval = max(self.poll_s, 0.1)
                await asyncio.sleep(min(max(until - time.time(), 0), self.follow_timeout))
        t.error = "not final within the follow timeout"
