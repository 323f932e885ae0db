"""How booking's parts are built from the settings (shared.wiring.Wiring)."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import ProcessRecorder
from eventsourcing.utils import EnvType

from booking.application import BookingService
from booking.http import create_app as http
from booking.shared_claims import SharedClaims
from shared.clock import Clock
from shared.config import Settings
from shared.redis_link import RedisLink
from shared.timers import Timer

__all__ = ["application", "http", "timers"]


def application(settings: Settings, env: EnvType, clock: Clock | None = None,
                recorder: ProcessRecorder | None = None, **given: Any) -> BookingService:
    return BookingService(env, clock, recorder, claim_ttl=settings.tuning.seat_claim_s,
                          shared_claims=shared_claims(settings))


def shared_claims(settings: Settings) -> SharedClaims | None:
    """The seat claims the instances share, in Redis (none without a Redis URL). Keys are
    named after the deployment's topic prefix: systems sharing a Redis stay apart."""
    if not settings.redis_url:
        return None
    return SharedClaims(RedisLink(settings.redis_url), namespace=f"{settings.topic_prefix}booking:",
                        claim_ttl=settings.tuning.seat_claim_s)


def timers(app: BookingService, settings: Settings) -> list[Timer]:
    return []
