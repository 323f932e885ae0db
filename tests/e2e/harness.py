"""The distributed system under test: real processes on real PostgreSQL and Kafka."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import httpx
import psycopg
import redis

from booking.application import BookingService
from inventory.application import InventoryService
from launcher.processes import DATABASES, SERVICES, LocalSystem
from payment.application import PaymentService
from payment.ledger import PostgresLedger
from payment.records import Ledger
from payment.stripe_provider import StripeProvider
from payment.stripe_records import StripeRecords
from projections.mongo_store import connect
from shared.http.auth import issue_token
from shared.services import BY_NAME

if TYPE_CHECKING:
    from tests.support.servers import Endpoints

SECRET = "e2e-secret-long-enough-for-hs256-0123456789"
FINAL = {"CONFIRMED", "CANCELLED"}


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(n: int) -> list[int]:
    """``n`` different ports free now. Asked for one at a time, the kernel may hand the
    same port out twice (it was free again each time): two services of one system then
    shared a port, and one answered the other's readiness check (a CI run hung on it)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass
class Stores:
    """Read access to each service's own store, for audits after the fact."""

    apps: dict[str, Any]

    @property
    def booking(self) -> BookingService:
        return self.apps["booking"]

    @property
    def inventory(self) -> InventoryService:
        return self.apps["inventory"]

    @property
    def payment(self) -> PaymentService:
        return self.apps["payment"]


@dataclass
class Distributed:
    local: LocalSystem
    clients: dict[str, httpx.Client] = field(default_factory=dict)
    reader: str = "booking"  # the booking instance that answers the test's reads

    @classmethod
    def create(cls, endpoints: Endpoints, log_dir: Path, instances: int = 1,
               **settings: str) -> Self:
        """``instances``: how many of each service but the projector (named booking,
        booking-2, ...: see LocalSystem.add_instance)."""
        tag = uuid.uuid4().hex[:8]
        ports = free_ports(len(SERVICES) + len(DATABASES) * (instances - 1))
        env = {
            "CINEMA_POSTGRES_HOST": endpoints.pg_host,
            "CINEMA_POSTGRES_PORT": str(endpoints.pg_port),
            "CINEMA_POSTGRES_USER": endpoints.pg_user,
            "CINEMA_POSTGRES_PASSWORD": endpoints.pg_password,
            "CINEMA_KAFKA_BOOTSTRAP": endpoints.kafka_bootstrap,
            "CINEMA_TOPIC_PREFIX": f"e2e{tag}.",
            "CINEMA_MONGO_URL": endpoints.mongo_url,
            "CINEMA_REDIS_URL": endpoints.redis_url,
            "CINEMA_STRIPE_API_BASE": endpoints.stripe_api_base,
            "CINEMA_VIEWS_DB": f"e2e{tag}_views",
            "CINEMA_TOKEN_SECRET": SECRET,
            "CINEMA_HOLD_SECONDS": "30",
            "CINEMA_SWEEP_SECONDS": "0.2",
            # Every simulated customer (the benchmark's thousands too) calls from 127.0.0.1:
            # no limit per address. Each customer's own limit stands.
            "CINEMA_WRITES_PER_ADDRESS": "0",
            # The notification service's real channels: email to this checkout's Mailpit,
            # web push to whatever push service a subscription names, the tests' own on
            # 127.0.0.1 over plain HTTP (tests/support/push_receiver.py).
            "CINEMA_SMTP_HOST": endpoints.smtp_host,
            "CINEMA_SMTP_PORT": str(endpoints.smtp_port),
            "CINEMA_PUSH_ALLOW_HTTP": "1",
            **{f"CINEMA_{s.upper()}_DB": f"e2e{tag}_{s}" for s in DATABASES},
            **{f"CINEMA_{s.upper()}_PORT": str(p) for s, p in zip(SERVICES, ports[:len(SERVICES)], strict=True)},
            **{f"CINEMA_{k.upper()}": v for k, v in settings.items()},
        }
        local = LocalSystem(env=env, log_dir=log_dir / tag)
        more_ports = iter(ports[len(SERVICES):])
        local.add_instances(instances, lambda service, n: next(more_ports))
        return cls(local)

    @property
    def trace_file(self) -> Path:
        """Where the processes write their spans, once ``trace_everything`` was called."""
        return self.local.log_dir / "traces.jsonl"

    def trace_everything(self) -> None:
        """Before start: every process writes its spans to ``trace_file``, and every
        trace is kept (as shipped, one in ten)."""
        self.local.env.update({"CINEMA_TRACE_FILE": str(self.trace_file),
                               "OTEL_TRACES_SAMPLER_ARG": "1"})

    def start(self) -> Distributed:
        try:
            self.local.start_all()
        except Exception:
            self.local.stop_all()  # never leave half a system running
            raise
        self.clients = {p: httpx.Client(base_url=self.local.url(p), timeout=10)
                        for p in self.local.processes}
        return self

    def close(self) -> None:
        for c in self.clients.values():
            c.close()
        self.local.stop_all()
        self.local.drop_databases()
        s = self.local.settings
        with connect(s.mongo_url) as mongo:
            mongo.drop_database(s.views_db)
        self.local.delete_topics()
        self.delete_redis_keys()

    def delete_redis_keys(self) -> None:
        """The system's keys (named after its topic prefix): a sold seat's would stay a day."""
        s = self.local.settings
        if not s.redis_url:
            return
        client = redis.Redis.from_url(s.redis_url, socket_timeout=5)
        try:
            keys = list(client.scan_iter(match=f"{s.topic_prefix}*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()

    # --- talking to it ----------------------------------------------------------

    @staticmethod
    def auth(customer: str, operator: bool = False) -> dict[str, str]:
        roles = ["operator"] if operator else []
        return {"Authorization": f"Bearer {issue_token(SECRET, customer, roles)}"}

    def open_show(self, show_id: str, seats: int = 10, price: int = 1000) -> None:
        layout = {"seats": {f"A{i}": "std" for i in range(1, seats + 1)}, "prices": {"std": price},
                  "currency": "EUR"}
        r = self.clients["inventory"].put(
            f"/shows/{show_id}/inventory", json=layout, headers=self.auth("ops", operator=True)
        )
        assert r.status_code in (200, 201), r.text

    def book(self, customer: str, show_id: str, seats: list[str], method: str = "pm_card_visa",
             key: str | None = None, via: str = "booking") -> httpx.Response:
        """``via``: the booking instance asked (``booking``, ``booking-2``, ...)."""
        return self.clients[via].post(
            "/bookings",
            json={"show_id": show_id, "seat_ids": seats, "payment_method": method},
            headers={**self.auth(customer), "Idempotency-Key": key or uuid.uuid4().hex},
        )

    def booking(self, customer: str, booking_id: str) -> dict:
        r = self.clients[self.reader].get(f"/bookings/{booking_id}", headers=self.auth(customer))
        assert r.status_code == 200, r.text
        return r.json()

    def wait_for(self, customer: str, booking_id: str, statuses: Iterable[str] = FINAL,
                 timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            doc = self.booking(customer, booking_id)
            if doc["status"] in statuses:
                return doc
            if time.monotonic() > deadline:
                raise AssertionError(f"booking {booking_id} stuck in {doc['status']}")
            time.sleep(0.05)

    def seats(self, show_id: str, timeout: float = 10) -> dict[str, str]:
        """The seat map once the views reflect everything inventory had recorded when
        asked. The seat map is its own view, written by its own commands: the booking
        view may show CONFIRMED before the seat map shows BOOKED, though inventory booked
        the seats first, so a test that just read a booking's outcome must not read the
        seat map as of the same instant."""
        assert self.views_caught_up(["inventory"], timeout), "views never reached inventory's head"
        r = self.clients["inventory"].get(f"/shows/{show_id}/seats", headers=self.auth("x"))
        assert r.status_code == 200, r.text
        return {s["seat_id"]: s["state"] for s in r.json()["seats"]}

    def wait_for_seat(self, show_id: str, seat: str, state: str, timeout: float = 10) -> None:
        """Until the seat map shows ``seat`` in ``state``: for a change inventory makes
        after the event the test has seen (seats released after a customer's cancel)."""
        deadline = time.monotonic() + timeout
        while (seen := self.seats(show_id)[seat]) != state:
            assert time.monotonic() < deadline, f"{seat} stayed {seen}, never {state}"
            time.sleep(0.05)

    def views_caught_up(self, streams: Iterable[str], timeout: float) -> bool:
        """Wait (bounded) until the views reflect everything these services had recorded
        when asked; whether they did."""
        heads = {s: self.stream_head(s) for s in streams}
        deadline = time.monotonic() + timeout
        while any(self.projected(s) < h for s, h in heads.items()):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def projected(self, stream: str) -> int:
        """How far the views reflect ``stream`` (the projector's /lag)."""
        lag = self.clients["projections"].get("/lag").json()["streams"]
        return lag.get(stream, {}).get("position", 0)

    # --- looking inside ------------------------------------------------------------

    def stores(self) -> Stores:
        s = self.local.settings
        return Stores({
            "booking": BookingService(env=s.postgres_env(s.service_db("booking"))),
            "inventory": InventoryService(env=s.postgres_env(s.service_db("inventory"))),
            "payment": PaymentService(env=s.postgres_env(s.service_db("payment"))),
        })

    def ledger(self) -> Ledger:
        """The money as the payment provider's own records show it: the simulated
        provider's, in payment's database, or Stripe's objects listed through its API
        (those of this system's bookings: one local Stripe server serves every system)."""
        s = self.local.settings
        if s.gateway.provider == "stripe":
            return Ledger(StripeRecords(StripeProvider.from_settings(s), self.booking_ids))
        return Ledger(PostgresLedger(s.postgres_conninfo(s.service_db("payment"))))

    def booking_ids(self) -> set[str]:
        """Every booking booking has recorded (with the ids of its other aggregates)."""
        return {str(row[0]) for row in self.sql(
            "booking", "SELECT DISTINCT originator_id FROM {app}_events")}

    def stream_head(self, service: str) -> int:
        """The position of the last event the service has recorded (0: none yet)."""
        return self.sql(service, "SELECT max(notification_id) FROM {app}_events")[0][0] or 0

    def stored_events(self, service: str) -> int:
        return self.sql(service, "SELECT count(*) FROM {app}_events")[0][0]

    def sql(self, service: str, query: str, *args: Any) -> list[tuple]:
        """Run a statement on a service's database; its rows, if it returns any.
        ``{app}`` in the query is the service's application: eventsourcing names the tables
        after it (``bookingservice_events``, ``notificationservice_tracking``)."""
        s = self.local.settings
        with psycopg.connect(s.postgres_conninfo(s.service_db(service)), autocommit=True) as conn:
            cursor = conn.execute(query.replace("{app}_", BY_NAME[service].table("")),
                                  args)
            return cursor.fetchall() if cursor.description else []
