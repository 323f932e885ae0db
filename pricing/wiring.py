"""How pricing's parts are built from the settings (shared.wiring.Wiring)."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import ProcessRecorder
from eventsourcing.utils import EnvType

from pricing.application import PricingService
from pricing.http import create_app as http
from shared.clock import Clock
from shared.config import Settings
from shared.timers import Timer

__all__ = ["application", "http", "timers"]


def application(settings: Settings, env: EnvType, clock: Clock | None = None,
                recorder: ProcessRecorder | None = None, **given: Any) -> PricingService:
    # The embedded runtime gives none: an in-process cache.
    return PricingService(env, clock, recorder, cache=given.get("price_cache"),
                          max_seats=settings.limits.max_seats_per_booking)


def timers(app: PricingService, settings: Settings) -> list[Timer]:
    # A rule change for every show on sale is applied once its moment comes; the first
    # run, at start-up, applies any that came while the process was down.
    return [Timer(app.reprice_due, settings.limits.sweep_interval)]
