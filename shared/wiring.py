"""The shape of a service's ``wiring`` module: how its parts are built from the settings.

The composition roots (launcher.bootstrap for a service's process, embedded.system for
the embedded runtime) find a registered service's wiring by its package
(``<name>.wiring``) and call these three; nothing else in them names a service.
"""

from __future__ import annotations

from typing import Any, Protocol

from eventsourcing.persistence import ProcessRecorder
from eventsourcing.utils import EnvType
from litestar import Litestar

from shared.clock import Clock
from shared.config import Settings
from shared.http.health import Readiness
from shared.service import ServiceApplication
from shared.timers import Timer
from shared.views import ViewQueries


class Wiring(Protocol):
    def application(self, settings: Settings, env: EnvType, clock: Clock | None = None,
                    recorder: ProcessRecorder | None = None, **given: Any) -> ServiceApplication:
        """The service's application on the given persistence. ``given``: parts a
        composition root chooses itself (the embedded runtime's payment provider, hold limits);
        a service takes those it knows and builds the rest from the settings."""

    def http(self, app: Any, settings: Settings, readiness: Readiness | None = None,
             views: ViewQueries | None = None) -> Litestar:
        """Its HTTP API; ``views``: the read side its queries use."""

    def timers(self, app: Any, settings: Settings) -> list[Timer]:
        """Its recurring jobs."""


def wiring_of(service: str) -> Wiring:
    """The registered service's wiring module."""
    import importlib

    return importlib.import_module(f"{service}.wiring")
