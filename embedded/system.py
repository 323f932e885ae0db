"""Wiring of the embedded runtime: three services, their relays and consumers, views."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from booking.application import BookingService
from embedded.broker import InMemoryBroker
from embedded.consumer import InMemoryConsumer
from inventory.application import InventoryService
from inventory.domain import HoldLimits
from payment.application import PaymentService
from payment.gateway import PaymentGateway, SimulatedGateway
from projections.projector import InMemoryViewStore, project
from projections.sources import read_public
from shared.clock import Clock, SystemClock
from shared.contracts import TOPICS
from shared.messaging.inbox import Inbox
from shared.messaging.outbox import OutboxRelay
from shared.service import ServiceApplication


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
        gateway: PaymentGateway | None = None,
        db_dir: Path | None = None,
        partitions: int = 3,
        env_for: Callable[[str], dict[str, str]] | None = None,
    ) -> None:
        self.clock = clock or SystemClock()
        self.limits = limits or HoldLimits()
        self.gateway = gateway or SimulatedGateway()
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
        in_memory = self.env_for("booking")["PERSISTENCE_MODULE"] == "eventsourcing.popo"
        store = {name: old[name].recorder for name in old} if in_memory else {}
        env = self.env_for

        self.apps: dict[str, ServiceApplication] = {
            "booking": BookingService(env("booking"), self.clock, store.get("booking")),
            "inventory": InventoryService(
                env("inventory"), self.clock, self.limits, store.get("inventory")
            ),
            "payment": PaymentService(
                env("payment"), self.clock, self.gateway, store.get("payment")
            ),
        }
        self.relays = {
            name: OutboxRelay(app, self.broker, TOPICS[name]) for name, app in self.apps.items()
        }
        self.consumers = {
            name: InMemoryConsumer(
                Inbox(app), self.broker, [TOPICS[s] for s in app.subscribes_to]
            )
            for name, app in self.apps.items()
        }

    @property
    def booking(self) -> BookingService:
        return self.apps["booking"]  # type: ignore[return-value]

    @property
    def inventory(self) -> InventoryService:
        return self.apps["inventory"]  # type: ignore[return-value]

    @property
    def payment(self) -> PaymentService:
        return self.apps["payment"]  # type: ignore[return-value]

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

    def project_all(self) -> int:
        done = 0
        for stream, app in self.apps.items():
            start = self.views.position(stream) + 1
            batch = read_public(app, start, limit=10_000)
            project(self.views, batch.events)
            if batch.last:
                self.views.set_position(stream, batch.last)
            done += len(batch.events)
        return done

    def run_until_quiet(self, max_rounds: int = 1000) -> None:
        """Relay, deliver and project until nothing moves: the saga has settled."""
        for _ in range(max_rounds):
            if not (self.relay_all() + self.deliver_all()):
                self.project_all()
                return
        raise RuntimeError("the system did not settle")

    def sweep(self) -> int:
        """The expiry timer's job: release holds whose deadline passed, then settle."""
        released = self.inventory.release_expired_holds()
        self.run_until_quiet()
        return released
