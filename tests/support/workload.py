"""A seeded random workload on the embedded system (on any stores): what the views'
tests project and fold."""

from __future__ import annotations

import contextlib
import random
from datetime import timedelta

from booking.application import SeatsTaken
from embedded.system import EmbeddedSystem
from shared.clock import FakeClock


def workload(system: EmbeddedSystem, clock: FakeClock, rng: random.Random, bookings: int) -> None:
    """Random customers on three shows, with declines, retries, cancels and expiry."""
    for show in ("s1", "s2", "s3"):
        system.inventory.open_show(show, {f"A{i}": "std" for i in range(1, 9)}, {"std": 700}, "EUR")
    made = []
    for i in range(bookings):
        method = rng.choice(["pm_card_visa", "pm_card_chargeDeclined"])
        seats = rng.sample([f"A{k}" for k in range(1, 9)], rng.randint(1, 2))
        with contextlib.suppress(SeatsTaken):  # refused at once: nothing recorded
            b, _, _ = system.booking.request_booking(f"c{i % 5}", f"k{i}",
                                                  rng.choice(["s1", "s2", "s3"]), seats, method)
            made.append(b)
        if rng.random() < 0.3:
            system.run_until_quiet()
        if rng.random() < 0.1:
            clock.advance(timedelta(minutes=rng.choice([3, 11])))
            system.sweep()
    system.run_until_quiet()
    for b in made[: bookings // 4]:
        booking = system.booking.get_booking(b.id)
        if booking.is_active and booking.failed_attempts:
            system.booking.retry_payment(b.id, booking.customer_id, "pm_card_visa")
    system.run_until_quiet()
