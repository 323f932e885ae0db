"""The services' HTTP apps over one embedded system (in-memory stores, in-process bus): no
server, no network. ``Api.settle()`` lets the saga move between requests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from litestar import Litestar
from litestar.testing import TestClient

from embedded.system import EmbeddedSystem
from payment.intents import ProviderEvent
from projections.operations import Operations
from projections.ops_http import rules
from projections.process import projector_app
from projections.queries import InMemoryQueries
from projections.worker import Projector
from shared.clock import FakeClock
from shared.config import Settings
from shared.wiring import wiring_of
from tests.support.tokens import ALICE, OPERATOR, SECRET

LAYOUT = {
    "seats": {"A1": "standard", "A2": "standard", "A3": "premium"},
    "prices": {"standard": 1200, "premium": 1800},
    "currency": "EUR",
}


def http_settings(**overrides: object) -> Settings:
    """The apps' settings in these tests: the tests' token secret, and no Redis, so each
    app limits writes in its own memory (keys in a shared Redis would be shared with
    every other run of these tests)."""
    return Settings(**{"token_secret": SECRET, "redis_url": "", **overrides})  # type: ignore[arg-type]


@dataclass
class Api:
    system: EmbeddedSystem
    clock: FakeClock
    booking: TestClient
    inventory: TestClient
    payment: TestClient
    theatre: TestClient
    pricing: TestClient
    notifications: TestClient

    def settle(self) -> None:
        self.system.run_until_quiet()

    def send_notifications(self) -> None:
        """Let the saga settle and the timers run: the notification service decides its
        reminders and sends what is due."""
        self.system.sweep()

    def open_show(self, show_id: str = "show-1", layout: dict = LAYOUT) -> None:
        r = self.inventory.put(f"/shows/{show_id}/inventory", json=layout, headers=OPERATOR)
        assert r.status_code == 201, r.text

    def book(self, seats=("A1",), method="pm_card_visa", key="k1", who=ALICE, show="show-1"):
        body = {"show_id": show, "seat_ids": list(seats), "payment_method": method}
        return self.booking.post("/bookings", json=body, headers={**who, "Idempotency-Key": key})

    def booking_of(self, booking_id: str, who=ALICE) -> dict:
        r = self.booking.get(f"/bookings/{booking_id}", headers=who)
        assert r.status_code == 200, r.text
        return r.json()

    def payment_of(self, booking_id: str) -> dict:
        r = self.payment.get(f"/bookings/{booking_id}/payment", headers=OPERATOR)
        assert r.status_code == 200, r.text
        return r.json()

    def take_webhooks(self) -> list[ProviderEvent]:
        """The provider's events not delivered yet, taken to be delivered by the test
        (``system.webhooks_delivered = False`` keeps ``settle`` from delivering them)."""
        events = self.system.provider.events
        assert events is not None
        taken = list(events)
        events.clear()
        return taken

    def webhook(self, event: ProviderEvent, signed_at: float | None = None,
                secret: str | None = None):
        """POST the event to payment's webhook endpoint, signed as the provider signs."""
        payload, signature = self.system.provider.webhook(event, signed_at, secret)
        return self.payment.post("/webhooks/stripe", content=payload, headers={
            "Stripe-Signature": signature, "content-type": "application/json"})


def service_apps(system: EmbeddedSystem, settings: Settings) -> dict[str, Litestar]:
    """Every registered service's app over ``system``, each built by its wiring as its
    process builds it; their views projected afresh before each read."""
    views = InMemoryQueries(system.views, refresh=system.project_all)
    return {name: wiring_of(name).http(app, settings, views=views)
            for name, app in system.apps.items()}


def projector_api(system: EmbeddedSystem, settings: Settings) -> Litestar:
    """The projector's app (/lag, the operators' /ops routes) over ``system``'s views; no
    worker runs, so /lag reports none."""
    views = InMemoryQueries(system.views, refresh=system.project_all)
    ops = Operations(views, rules(settings), stores=system.apps, now=system.clock.now)
    return projector_app(Projector(db=None, readers={}), lambda: {"worker_running": True},
                         ops, settings)


@contextmanager
def serve(system: EmbeddedSystem, settings: Settings) -> Iterator[Api]:
    """The apps over ``system``."""
    apps = service_apps(system, settings)
    with (
        TestClient(apps["booking"]) as booking,
        TestClient(apps["inventory"]) as inventory,
        TestClient(apps["payment"]) as payment,
        TestClient(apps["theatre"]) as theatre,
        TestClient(apps["pricing"]) as pricing,
        TestClient(apps["notifications"]) as notifications,
    ):
        yield Api(system, system.clock, booking, inventory, payment, theatre, pricing,
                  notifications)
