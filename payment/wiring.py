"""How payment's parts are built from the settings (shared.wiring.Wiring)."""

from __future__ import annotations

import importlib
from datetime import timedelta
from typing import Any

from eventsourcing.persistence import ProcessRecorder
from eventsourcing.utils import EnvType

from payment.application import PaymentService
from payment.gateway import SimulatedProvider
from payment.http import create_app as http
from payment.intents import PaymentProvider
from payment.ledger import PostgresLedger
from payment.provider_calls import FollowUps
from payment.provider_spans import traced
from shared.clock import Clock
from shared.config import Settings
from shared.timers import Timer

__all__ = ["application", "http", "timers"]


def application(settings: Settings, env: EnvType, clock: Clock | None = None,
                recorder: ProcessRecorder | None = None, *,
                provider: PaymentProvider | None = None, **given: Any) -> PaymentService:
    made = provider or traced(make_provider(settings, clock), settings.gateway.provider)
    # The embedded runtime makes the calls in its own thread, one at a time (calls_at_once
    # 1): deterministic, as its simulation needs.
    at_once = int(given.get("calls_at_once", settings.gateway.calls_at_once))
    return PaymentService(env, clock, made, recorder,
                          reconcile_after=settings.gateway.reconcile_after,
                          follow_ups=FollowUps(at_once))


def make_provider(settings: Settings, clock: Clock | None = None) -> PaymentProvider:
    """``CINEMA_GATEWAY``: ``simulated`` (its records in payment's own database, so they
    outlive the process as Stripe's would) or ``stripe``."""
    g = settings.gateway
    if g.provider == "stripe":
        # Imported only when chosen: the simulated provider needs none of Stripe's SDK.
        stripe = importlib.import_module("payment.stripe_provider")
        provider: PaymentProvider = stripe.StripeProvider.from_settings(settings)
        return provider
    if g.provider != "simulated":
        raise ValueError(f"CINEMA_GATEWAY must be simulated or stripe, not {g.provider!r}")
    return SimulatedProvider(
        decline_rate=g.decline_rate, latency_s=g.latency_s, seed=g.seed,
        store=PostgresLedger(settings.postgres_conninfo(settings.service_db("payment"))),
        # Its webhooks are signed with the services' own secret: never a known one.
        webhook_secret=settings.token_secret, clock=clock,
    )


def timers(app: PaymentService, settings: Settings) -> list[Timer]:
    # Run at start-up too: intents a crash left unconfirmed, or whose outcome was missed
    # while the process was down, are looked at once they are old enough.
    every = max(timedelta(seconds=1), settings.gateway.reconcile_after / 3)
    return [Timer(app.reconcile, every)]
