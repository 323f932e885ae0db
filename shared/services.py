"""The registry of services: each service declared once, everything else derived.

The contracts' topics, the settings' ports and databases, the launcher's processes, the
embedded runtime, the projector's streams, the consistency tokens and the test systems
all read this list. A service is its package plus one entry here; its package follows
one shape (``PACKAGE_MODULES``), which ``tests/domain/test_registry.py`` checks, along
with compose.yaml, the database init script and the Dockerfile
(docs/adding-a-service.md is the checklist).

Pure data: no service is imported from here (``shared`` imports none); what needs a
service's code finds it by the package's conventional modules (``<name>.wiring``,
``<name>.publishing``).
"""

from __future__ import annotations

from dataclasses import dataclass

# The modules every service package has, each with one job.
PACKAGE_MODULES = (
    "__init__",  # what the service is, in a docstring
    "__main__",  # python -m <service>: the composition root runs it
    "domain",  # aggregates and rules, no I/O
    "application",  # commands and the policy reacting to other services' events
    "publishing",  # its domain events' public contracts (to_public)
    "schemas",  # its HTTP requests and responses
    "http",  # its HTTP API
    "wiring",  # how its parts are built from the settings
)


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # the package, the process (python -m <name>), the stream, the token prefix
    port: int  # its HTTP port by default (CINEMA_<NAME>_PORT)
    application: str  # its application class, whose name names its tables
    subscribes_to: tuple[str, ...] = ()  # services whose public events it reacts to
    projected: bool = True  # whether the projector folds its stream into the views
    publishes: bool = True  # whether it has public events (else: no outbox relay runs)

    @property
    def topic(self) -> str:
        """Where its relay publishes its public events."""
        return f"{self.name}.events"

    @property
    def replay_topic(self) -> str:
        """Where an operator replays its dead letters (shared/messaging/replay.py): read by
        it alone, partition n by the instance that follows partition n of the others."""
        return f"{self.name}.replays"

    @property
    def consumes(self) -> tuple[str, ...]:
        """The topics its consumer reads: its subscriptions', then its replays (none
        without subscriptions: no consumer)."""
        if not self.subscribes_to:
            return ()
        return (*(spec(s).topic for s in self.subscribes_to), self.replay_topic)

    @property
    def database(self) -> str:
        """Its own PostgreSQL database by default (CINEMA_<NAME>_DB)."""
        return self.name

    @property
    def env_prefix(self) -> str:
        return f"CINEMA_{self.name.upper()}"

    def table(self, kind: str) -> str:
        """Its table ``kind`` (``events``, ``tracking``): eventsourcing names a service's
        tables after its application class (``notificationservice_events``)."""
        return f"{self.application.lower()}_{kind}"


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("booking", 8001, "BookingService", subscribes_to=("inventory", "payment")),
    ServiceSpec("inventory", 8002, "InventoryService",
                subscribes_to=("booking", "payment", "theatre", "pricing")),
    ServiceSpec("payment", 8003, "PaymentService", subscribes_to=("booking", "inventory")),
    ServiceSpec("theatre", 8005, "TheatreService"),
    ServiceSpec("pricing", 8006, "PricingService", subscribes_to=("theatre", "inventory")),
    # A pure reactor: it publishes nothing, and its messages are its own to read (from
    # its store), not the views'.
    ServiceSpec("notifications", 8007, "NotificationService",
                subscribes_to=("booking", "inventory", "payment", "theatre"), projected=False,
                publishes=False),
)
BY_NAME: dict[str, ServiceSpec] = {s.name: s for s in SERVICES}
NAMES: tuple[str, ...] = tuple(BY_NAME)
PROJECTED: tuple[str, ...] = tuple(s.name for s in SERVICES if s.projected)

# The projector is a process of its own, not a service: it writes no event store.
PROJECTOR = "projections"
PROJECTOR_PORT = 8004


def spec(name: str) -> ServiceSpec:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"no service named {name!r}; the registry has {', '.join(NAMES)}") from None
