"""How payment's parts are built from the settings (shared.wiring.Wiring)."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import ProcessRecorder
from eventsourcing.utils import EnvType

from payment.application import PaymentService
from payment.gateway import PaymentGateway, SimulatedGateway
from payment.http import create_app as http
from payment.ledger import PostgresLedger
from shared.clock import Clock
from shared.config import Settings
from shared.timers import Timer

__all__ = ["application", "http", "timers"]


def application(settings: Settings, env: EnvType, clock: Clock | None = None,
                recorder: ProcessRecorder | None = None, *,
                gateway: PaymentGateway | None = None, **given: Any) -> PaymentService:
    if gateway is None:  # the simulated gateway, its ledger in payment's own database
        g = settings.gateway
        gateway = SimulatedGateway(
            decline_rate=g.decline_rate, latency_s=g.latency_s, seed=g.seed,
            ledger=PostgresLedger(settings.postgres_conninfo(settings.service_db("payment"))),
        )
    return PaymentService(env, clock, gateway, recorder)


def timers(app: PaymentService, settings: Settings) -> list[Timer]:
    return []
