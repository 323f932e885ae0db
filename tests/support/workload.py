"""A seeded random workload on the embedded system (on any stores): what the views'
tests project and fold."""

from __future__ import annotations

import contextlib
import random
from datetime import timedelta

from booking.application import SeatsTaken
from embedded.system import EmbeddedSystem
from payment.gateway import AUTHENTICATION_REQUIRED
from pricing.rules import PriceRules
from shared.clock import FakeClock
from shared.contracts import DemandRule
from theatre.domain import ShowPlan

FILM = {"title": "Dune", "runtime_minutes": 100, "rating": "12A", "language": "en",
        "format": "2D"}


def workload(system: EmbeddedSystem, clock: FakeClock, rng: random.Random, bookings: int) -> None:
    """Random customers on three shows, with declines, 3-D Secure (authenticated, failed
    or left), retries, cancels and expiry; then a show the theatre schedules and pricing
    prices (``priced_show``)."""
    for show in ("s1", "s2", "s3"):
        system.inventory.open_show(show, {f"A{i}": "std" for i in range(1, 9)}, {"std": 700}, "EUR")
    made = []
    for i in range(bookings):
        method = rng.choice(["pm_card_visa", "pm_card_chargeDeclined", AUTHENTICATION_REQUIRED])
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
    for b in made:  # the customers' browsers: most authenticate, some fail, some never do
        for waiting in system.payment.get_payment(b.id).open_intents():
            if waiting.client_secret and rng.random() < 0.8:
                system.provider.authenticate(waiting.intent_id, success=rng.random() < 0.7)
    system.run_until_quiet()
    for b in made[: bookings // 4]:
        booking = system.booking.get_booking(b.id)
        if booking.is_active and booking.failed_attempts:
            system.booking.retry_payment(b.id, booking.customer_id, "pm_card_visa")
    system.run_until_quiet()
    priced_show(system, clock)


def priced_show(system: EmbeddedSystem, clock: FakeClock, show_id: str = "p1") -> None:
    """A show scheduled by the theatre (six Regular seats, two Premium), so that every
    stream has events of it: pricing's versions (1 at scheduling, 2 with a demand rule,
    3 after a rule change for all shows) and inventory's demand uplifts for them, as
    bookings cross the rule's steps."""
    theatre = system.theatre
    theatre.register_theatre("odeon", "Odeon", "London", "Leicester Square", "Europe/London")
    theatre.lay_out_screen("odeon", "one", "Screen 1", [{"row": "P", "seats": [
        {"number": n, "column": n, "category": "Regular" if n <= 6 else "Premium"}
        for n in range(1, 9)]}])
    start = (clock.now() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    theatre.schedule_show(ShowPlan(show_id, "odeon", "one", FILM, start,
                                   {"Regular": 800, "Premium": 1200}, "EUR"))
    system.run_until_quiet()
    system.pricing.set_demand(show_id, DemandRule(threshold_percent=30, uplift_percent=10,
                                                  every_percent=20, max_uplift_percent=30), "ops")
    system.run_until_quiet()

    def book(customer: str, seats: list[str]) -> None:
        system.booking.request_booking(customer, f"{show_id}-{customer}", show_id, seats,
                                       "pm_card_visa")
        system.run_until_quiet()

    book("pa", ["P1", "P2"])  # a third of Regular booked: +10 %
    book("pb", ["P3"])  # half: +20 %
    book("pc", ["P7"])  # half of Premium: +20 %
    system.pricing.change_rules(PriceRules(currency="EUR", base={"*": {"Regular": 1000,
                                                                       "Premium": 1500}},
                                           rounding=50), "all_shows", None, "ops")
    system.run_until_quiet()
    book("pd", ["P4"])  # two thirds of Regular, in version 3
