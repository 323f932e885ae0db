"""Wiring of the embedded runtime: every registered service, its relay and consumer, views."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

from booking.application import BookingService
from embedded.broker import InMemoryBroker
from embedded.consumer import InMemoryConsumer
from inventory.application import InventoryService
from inventory.domain import HoldLimits
from notifications.application import NotificationService
from notifications.recording import RecordingEmail, RecordingPush
from notifications.sending import Channels
from payment.application import PaymentService
from payment.gateway import SimulatedProvider
from pricing.application import PricingService
from projections.projector import InMemoryViewStore, project
from projections.sources import read_public
from shared.clock import Clock, SystemClock
from shared.config import Settings
from shared.contracts import TOPICS
from shared.messaging.inbox import Inbox
from shared.messaging.outbox import OutboxRelay
from shared.messaging.replay import chosen, replay
from shared.service import ServiceApplication
from shared.services import NAMES, PROJECTED, spec
from shared.timers import Timer
from shared.wiring import wiring_of
from theatre.application import TheatreService


def persistence_env(service: str, db_dir: Path | None) -> dict[str, str]:
    """In memory by default; SQLite files (one per service) when a folder is given."""
    if db_dir is None:
        return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    db_dir.mkdir(parents=True, exist_ok=True)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(db_dir / f"{service}.sqlite3"),
    }


class EmbeddedSystem:
    def __init__(
        self,
        clock: Clock | None = None,
        limits: HoldLimits | None = None,
        provider: SimulatedProvider | None = None,
        db_dir: Path | None = None,
        partitions: int = 3,
        env_for: Callable[[str], dict[str, str]] | None = None,
    ) -> None:
        self.clock = clock or SystemClock()
        # The defaults (the parts below are chosen by the caller), without Redis: one
        # process has no seat claims to share with another.
        self.settings = Settings(redis_url="")
        self.limits = limits or HoldLimits()
        # The payment provider, which outlives the services' restarts as Stripe would; its
        # webhooks' events are queued, for run_until_quiet (or a test) to deliver.
        self.provider = provider or SimulatedProvider(clock=self.clock, queue_events=True,
                                                      ids_from="embedded")
        self.webhooks_delivered = True  # False: a test delivers them itself
        # What the notification service sends, kept in memory, across its restarts as a
        # mail server would keep it.
        self.email, self.push = RecordingEmail(), RecordingPush()
        self.db_dir = db_dir
        # Any eventsourcing persistence per service, e.g. PostgreSQL for integration tests.
        self.env_for = env_for or (lambda service: persistence_env(service, self.db_dir))
        self.broker = InMemoryBroker(partitions)
        self.views = InMemoryViewStore()
        self.start_services()

    def start_services(self) -> None:
        """(Re)start every service from its store, as after a crash of the whole process
        (with in-memory persistence the stores themselves survive in this object)."""
        old = getattr(self, "apps", {})
        in_memory = self.env_for(NAMES[0])["PERSISTENCE_MODULE"] == "eventsourcing.popo"
        store = {name: old[name].recorder for name in old} if in_memory else {}
        given = {"limits": self.limits, "provider": self.provider,  # the parts chosen here
                 "channels": Channels(self.email, self.push),
                 "calls_at_once": 1}  # payment's calls in the caller's thread, in order
        self.apps: dict[str, ServiceApplication] = {
            name: wiring_of(name).application(self.settings, self.env_for(name), self.clock,
                                              store.get(name), **given)
            for name in NAMES
        }
        self.timers: list[Timer] = [
            timer for name, app in self.apps.items()
            for timer in wiring_of(name).timers(app, self.settings)
        ]
        self.relays = {
            name: OutboxRelay(app, self.broker, TOPICS[name]) for name, app in self.apps.items()
        }
        self.consumers = {
            name: InMemoryConsumer(Inbox(app), self.broker, list(spec(name).consumes))
            for name, app in self.apps.items()
        }

    # Typed handles on the services, for tests and the shell.
    @property
    def booking(self) -> BookingService:
        return cast(BookingService, self.apps["booking"])

    @property
    def inventory(self) -> InventoryService:
        return cast(InventoryService, self.apps["inventory"])

    @property
    def payment(self) -> PaymentService:
        return cast(PaymentService, self.apps["payment"])

    @property
    def theatre(self) -> TheatreService:
        return cast(TheatreService, self.apps["theatre"])

    @property
    def pricing(self) -> PricingService:
        return cast(PricingService, self.apps["pricing"])

    @property
    def notifications(self) -> NotificationService:
        return cast(NotificationService, self.apps["notifications"])

    # --- running ---------------------------------------------------------------

    def relay_all(self) -> int:
        return sum(relay.relay_once() for relay in self.relays.values())

    def deliver_all(self) -> int:
        delivered = 0
        for consumer in self.consumers.values():
            for topic, partition in consumer.ready():
                while consumer.deliver(topic, partition):
                    delivered += 1
        return delivered

    def deliver_webhooks(self) -> int:
        """Deliver the provider's queued events to payment, oldest first, as its webhook
        endpoint would take them; returns how many."""
        events = self.provider.events
        delivered = 0
        while events:
            self.payment.provider_event(events.pop(0))
            delivered += 1
        return delivered

    def replay_dead_letters(self, service: str, ids: Sequence[int] | None = None) -> int:
        """Replay a service's dead letters (those ids; None: every one not replayed), as
        its operator command does (shared/messaging/replay.py); returns how many."""
        letters = self.apps[service].dead_letters
        which = chosen(letters, ids)
        replay(letters, which, self.broker, spec(service).replay_topic, self.clock.now())
        return len(which)

    def project_all(self) -> int:
        done = 0
        for stream in PROJECTED:
            app = self.apps[stream]
            start = self.views.position(stream) + 1
            batch = read_public(app, start, limit=10_000)
            project(self.views, batch.events)
            if batch.last:
                self.views.set_position(stream, batch.last)
            done += len(batch.events)
        return done

    def run_until_quiet(self, max_rounds: int = 1000) -> None:
        """Relay, deliver (the provider's webhooks too) and project until nothing moves:
        the saga has settled."""
        for _ in range(max_rounds):
            webhooks = self.deliver_webhooks() if self.webhooks_delivered else 0
            if not (self.relay_all() + self.deliver_all() + webhooks):
                self.project_all()
                return
        raise RuntimeError("the system did not settle")

    def sweep(self) -> int:
        """Every service's timers once (inventory's: release holds whose deadline
        passed; payment's: reconcile intents pending too long), then settle; returns what
        the jobs counted."""
        done = sum(int(timer.job() or 0) for timer in self.timers)
        self.run_until_quiet()
        return done
