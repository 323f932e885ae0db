"""How theatre's parts are built from the settings (shared.wiring.Wiring)."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import ProcessRecorder
from eventsourcing.utils import EnvType

from shared.clock import Clock
from shared.config import Settings
from shared.timers import Timer
from theatre.application import TheatreService
from theatre.http import create_app as http

__all__ = ["application", "http", "timers"]


def application(settings: Settings, env: EnvType, clock: Clock | None = None,
                recorder: ProcessRecorder | None = None, **given: Any) -> TheatreService:
    return TheatreService(env, clock, recorder)


def timers(app: TheatreService, settings: Settings) -> list[Timer]:
    return []
