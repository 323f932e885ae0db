"""How pricing's parts are built from the settings (shared.wiring.Wiring)."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import ProcessRecorder
from eventsourcing.utils import EnvType

from pricing.application import PricingService
from pricing.http import create_app as http
from pricing.price_cache import InProcessPriceCache, PriceCache
from pricing.redis_price_cache import RedisPriceCache
from shared.clock import Clock
from shared.config import Settings
from shared.redis_link import RedisLink
from shared.timers import Timer

__all__ = ["application", "http", "timers"]


def application(settings: Settings, env: EnvType, clock: Clock | None = None,
                recorder: ProcessRecorder | None = None, **given: Any) -> PricingService:
    return PricingService(env, clock, recorder, cache=price_cache(settings),
                          max_seats=settings.limits.max_seats_per_booking)


def price_cache(settings: Settings) -> PriceCache:
    """In Redis, shared by every instance; in the process without a Redis URL (the
    embedded runtime). Keys are named after the deployment's topic prefix: systems
    sharing a Redis stay apart."""
    if not settings.redis_url:
        return InProcessPriceCache()
    return RedisPriceCache(RedisLink(settings.redis_url),
                           namespace=f"{settings.topic_prefix}pricing:")


def timers(app: PricingService, settings: Settings) -> list[Timer]:
    # A rule change for every show on sale is applied once its moment comes; the first
    # run, at start-up, applies any that came while the process was down.
    return [Timer(app.reprice_due, settings.limits.sweep_interval)]
