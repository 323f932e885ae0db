"""One service as one process: HTTP API, outbox relay, inbox consumer and timers.

Each loop survives faults (a database or broker that is briefly gone) by logging,
backing off and resuming from what the database recorded: the relay from its
position, the consumer from its tracking records.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import uvicorn
from apscheduler.schedulers.background import BackgroundScheduler
from eventsourcing.postgres import PostgresApplicationRecorder
from litestar import Litestar

from shared.config import Settings
from shared.contracts import TOPICS
from shared.messaging.inbox import Inbox
from shared.messaging.kafka import KafkaInboxConsumer, KafkaPublisher, ensure_topics
from shared.messaging.outbox import OutboxRelay
from shared.messaging.relay_lease import RelayLease
from shared.observability import logs, metrics, tracing
from shared.observability.messaging import watch_loops
from shared.service import ServiceApplication
from shared.services import spec
from shared.timers import Timer
from shared.views import ViewQueries

log = logging.getLogger(__name__)


@dataclass
class ServiceProcess:
    app: ServiceApplication
    settings: Settings
    create_http: Callable[..., Litestar]
    port: int
    timers: list[Timer] = field(default_factory=list)
    views: ViewQueries | None = None  # the read side the HTTP queries use

    def __post_init__(self) -> None:
        self.stopping = threading.Event()
        prefix = self.settings.topic_prefix
        self.topic = prefix + TOPICS[self.app.service]
        self.subscriptions = [prefix + t for t in spec(self.app.service).consumes]
        self.threads: list[threading.Thread] = []
        self.consumer: KafkaInboxConsumer | None = None
        self.relay: OutboxRelay | None = None  # while this instance holds the relay's lease

    # --- loops ------------------------------------------------------------------

    def _relay_loop(self) -> None:
        relay = OutboxRelay(
            self.app, KafkaPublisher(self.settings.kafka_bootstrap, f"{self.app.service}-relay"),
            self.topic, record_every=self.settings.tuning.relay_record_s,
        )
        recorder = self.app.recorder
        assert isinstance(recorder, PostgresApplicationRecorder)  # a service's store is PostgreSQL
        # One instance of the service relays; the others stand by (relay_lease.py: why).
        lease = RelayLease(
            self.settings.postgres_conninfo(self.settings.service_db(self.app.service)),
            f"{self.app.name}.outbox", holder=f"{self.app.service} relay {self.settings.instance}",
            listen_to=recorder.channel_name,
        )
        while not self.stopping.is_set():
            try:
                if not lease.hold():
                    self.relay = None
                    relay.forget_position()  # the holder moves it on meanwhile
                    self.stopping.wait(lease.check_every)
                    continue
                self.relay = relay
                relay.relay_once()
                if relay.caught_up:
                    # Woken by the store's NOTIFY of any instance's write; a write that
                    # lands after the read is queued and wakes it at once, so waiting after
                    # a partial batch (not only an empty one) loses nothing.
                    lease.wait_for_writes(self.settings.tuning.relay_poll_s)
            except Exception:
                log.exception("relay failed; resuming from the recorded position")
                relay.forget_position()
                self.stopping.wait(1.0)
        try:
            if lease.held:
                relay.record_position()
        except Exception:
            log.exception("could not record the relay's position; the next start republishes")
        finally:
            lease.release()  # a standby takes over at once, not at the session's end

    def _consumer_loop(self) -> None:
        tuning = self.settings.tuning
        inbox = Inbox(self.app, unrecorded_limit=tuning.unrecorded_positions,
                      attempts=tuning.handler_attempts)
        group = f"{self.settings.topic_prefix}{self.app.service}"
        self.consumer = KafkaInboxConsumer(
            inbox, self.settings.kafka_bootstrap, self.subscriptions, group,
            instance_id=f"{group}-{self.settings.instance}",
        )
        epoch = self.app.store_epoch
        while not self.stopping.is_set():
            try:
                if self.app.store_epoch != epoch:  # the store may have lost positions
                    epoch = self.app.store_epoch
                    self.consumer.rewind_to_tracking()
                self.consumer.poll(tuning.consumer_wait_s, tuning.consumer_batch)
            except Exception:
                log.exception("consumer failed; rewinding to the recorded positions")
                epoch = self.app.store_epoch
                try:
                    self.consumer.rewind_to_tracking()
                except Exception:
                    log.exception("could not rewind; trying again")
                    epoch = -1
                self.stopping.wait(1.0)
        self.consumer.close()

    def outbox_backlog(self) -> int | None:
        """Events stored but not yet published; None where another instance relays."""
        relay = self.relay
        if relay is None:
            return None
        return max(0, (self.app.recorder.max_notification_id() or 0) - relay.position)

    def readiness(self) -> dict[str, bool]:
        try:
            self.app.recorder.max_notification_id()
            database = True
        except Exception:  # noqa: BLE001 - whatever the failure, the database is not usable
            database = False
        consumer = self.consumer
        return {
            "database": database,
            "kafka_partitions_assigned": not self.subscriptions or bool(consumer and consumer.assigned),
            "loops_running": all(t.is_alive() for t in self.threads),
        }

    # --- life cycle ---------------------------------------------------------------

    def run(self) -> None:
        ensure_topics(self.settings.kafka_bootstrap, [self.topic, *self.subscriptions])
        # A service that reacts to no other (theatre) has no consumer; one that publishes
        # nothing (notifications) no relay: it would read every event it writes for none.
        loops = [*([self._relay_loop] if spec(self.app.service).publishes else []),
                 *([self._consumer_loop] if self.subscriptions else [])]
        for target in loops:
            t = threading.Thread(target=target, name=target.__name__, daemon=True)
            t.start()
            self.threads.append(t)
        scheduler = BackgroundScheduler(timezone="UTC")
        for timer in self.timers:
            scheduler.add_job(
                timer.job, "interval", seconds=timer.every.total_seconds(),
                next_run_time=datetime.now(UTC), max_instances=1, coalesce=True,
            )
        scheduler.start()
        unwatch = watch_loops(self.app.service,
                              lambda: self.consumer.offsets() if self.consumer else [],
                              self.outbox_backlog)
        http = self.create_http(self.app, self.settings, readiness=self.readiness, views=self.views)
        server = uvicorn.Server(
            uvicorn.Config(http, host=self.settings.http_host, port=self.port, log_level="warning")
        )
        log.info("%s listening on %s:%s", self.app.service, self.settings.http_host, self.port)
        try:
            server.run()  # returns on SIGINT/SIGTERM
        finally:
            self.stopping.set()
            unwatch()
            scheduler.shutdown(wait=False)
            for t in self.threads:
                t.join(timeout=10)
            self.app.close()


def configure_observability(service: str, settings: Settings) -> None:
    """The process's logs (JSON lines unless CINEMA_LOG_FORMAT=text), whether it counts
    (CINEMA_METRICS) and its tracing (docs/observability.md)."""
    logs.configure(service, settings.observability.log_format)
    metrics.enable(settings.observability.metrics)
    tracing.configure(service, settings.observability, settings.instance)
