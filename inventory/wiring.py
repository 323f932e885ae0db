"""How inventory's parts are built from the settings (shared.wiring.Wiring)."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import ProcessRecorder
from eventsourcing.utils import EnvType

from inventory.application import InventoryService
from inventory.domain import HoldLimits
from inventory.http import create_app as http
from shared.clock import Clock
from shared.config import Settings
from shared.timers import Timer

__all__ = ["application", "http", "timers"]


def application(settings: Settings, env: EnvType, clock: Clock | None = None,
                recorder: ProcessRecorder | None = None, *, limits: HoldLimits | None = None,
                **given: Any) -> InventoryService:
    if limits is None:
        s = settings.limits
        limits = HoldLimits(max_seats=s.max_seats_per_booking, hold_for=s.hold_for,
                            max_held_per_customer=s.max_held_per_customer,
                            max_held_per_customer_day=s.max_held_per_customer_day)
    return InventoryService(env, clock, limits, recorder)


def timers(app: InventoryService, settings: Settings) -> list[Timer]:
    # What is due is derived from the store, and the first sweep runs at start-up: holds
    # that expired while the process was down are released at once.
    return [Timer(app.release_expired_holds, settings.limits.sweep_interval)]
