"""The embedded system (every service in one process, an in-process bus, in-memory views)
as tests build it: ``embedded_system()``, instead of calling ``EmbeddedSystem`` by hand."""

from __future__ import annotations

from typing import Any

from embedded.system import EmbeddedSystem
from shared.clock import FakeClock


def embedded_system(**overrides: Any) -> EmbeddedSystem:
    """A system with a ``FakeClock`` (time moves only when the test moves it; it is
    ``system.clock``) and in-memory stores, unless ``overrides`` say otherwise. They are
    ``EmbeddedSystem``'s own keywords: ``clock``, ``limits``, ``provider``, ``partitions``,
    ``env_for`` (e.g. ``lambda service: pg_database.eventsourcing_env()``), ``db_dir``."""
    return EmbeddedSystem(**{"clock": FakeClock(), **overrides})
