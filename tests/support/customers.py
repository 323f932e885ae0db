"""Customers of the distributed system (tests/e2e/harness.py) over HTTP: each books
through outages, retrying with the same Idempotency-Key; ``wait_final`` waits until their
bookings are CONFIRMED or CANCELLED."""

from __future__ import annotations

import itertools
import random
import threading
import time
import uuid

import httpx


def book_until_accepted(system, customer, show, seats, method, give_up_after=60.0,
                        via=("booking",)):
    """A client that retries through outages with the same Idempotency-Key, turning to the
    next booking instance of ``via`` after a failure, as a load balancer would. None: the
    seats were known to be taken and the request was refused at once (nothing booked)."""
    key = uuid.uuid4().hex
    deadline = time.monotonic() + give_up_after
    for attempt in itertools.count():
        try:
            r = system.book(customer, show, seats, method, key=key, via=via[attempt % len(via)])
            if r.status_code in (200, 202):
                return r.json()["booking_id"]
            if r.status_code == 409 and r.json()["error"] == "seats_taken":
                return None
            assert r.status_code >= 500, r.text
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "booking service never came back"
        time.sleep(0.1)


def wait_final(system, bookings, timeout=90.0):
    deadline = time.monotonic() + timeout
    pending = dict(bookings)
    while pending:
        for booking_id, customer in list(pending.items()):
            if system.booking(customer, booking_id)["status"] in ("CONFIRMED", "CANCELLED"):
                del pending[booking_id]
        assert time.monotonic() < deadline, f"{len(pending)} bookings never settled"
        time.sleep(0.2)


class Customers(threading.Thread):
    """Customers one after another, each booking 1 or 2 random seats (of 12) of a random
    show, one in three with a declined card, retrying through outages: ``count`` of them,
    or fewer if ``stop`` is set first. ``bookings``: booking id -> customer; ``refused``:
    how many were refused at once (seats known taken)."""

    def __init__(self, system, rng: random.Random, shows: list[str], count: int, people: int,
                 pause: tuple[float, float], on_booked=lambda booking_id: None,
                 via: tuple[str, ...] = ("booking",), stop: threading.Event | None = None,
                 ) -> None:
        super().__init__()
        self.system, self.rng, self.shows, self.count, self.people = system, rng, shows, count, people
        self.pause, self.on_booked, self.via = pause, on_booked, via
        self.stop = stop or threading.Event()
        self.bookings: dict[str, str] = {}
        self.methods: dict[str, str] = {}  # booking id -> the card it was paid with
        self.refused = 0
        self.done = threading.Event()

    def run(self) -> None:
        rng = self.rng
        for i in range(self.count):
            if self.stop.is_set():
                break
            show, n = rng.choice(self.shows), rng.choice([1, 2])
            seats = rng.sample([f"A{k}" for k in range(1, 13)], n)
            method = rng.choice(["pm_card_visa", "pm_card_visa", "pm_card_chargeDeclined"])
            customer = f"c{i % self.people}"
            # Customers take turns at the booking instances.
            via = self.via[i % len(self.via):] + self.via[:i % len(self.via)]
            booking_id = book_until_accepted(self.system, customer, show, seats, method, via=via)
            if booking_id is None:
                self.refused += 1
            else:
                self.bookings[booking_id] = customer
                self.methods[booking_id] = method
                self.on_booked(booking_id)
            time.sleep(rng.uniform(*self.pause))
        self.done.set()
