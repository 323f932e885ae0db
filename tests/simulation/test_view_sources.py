"""Each view declares the streams it folds (``SOURCES``): the rebuild writes a view as soon
as those streams are read, while it folds the others, so a view that folded an undeclared
stream would be written before it was complete.

The workload books through the services, and has the theatre schedule a show that
pricing prices (with a demand rule, and a rule change), so every stream has events."""

from __future__ import annotations

import random

from projections.projector import VIEWS, folded_by
from projections.sources import read_public
from shared.clock import FakeClock
from shared.services import PROJECTED
from tests.support.embedded import embedded_system
from tests.support.workload import workload


def test_each_view_folds_exactly_the_streams_it_declares() -> None:
    clock = FakeClock()
    system = embedded_system(clock=clock)  # in memory
    workload(system, clock, random.Random(3), bookings=40)  # declines, retries, cancels, expiry
    streams = {s: read_public(system.apps[s], 1, 1_000_000).events for s in PROJECTED}
    for name, view in VIEWS.items():
        folds = {s for s, events in streams.items() if folded_by(name, view, events)}
        assert folds == set(view.SOURCES), f"{name} folds {sorted(folds)}, declares {view.SOURCES}"


def test_a_view_reads_only_views_that_read_none() -> None:
    """The projector folds a batch in two waves at most (projector._waves): the views a
    view reads while it folds (JOINS) must be in the first."""
    for name, view in VIEWS.items():
        for other, _ in getattr(view, "JOINS", {}).values():
            assert other in VIEWS and not getattr(VIEWS[other], "JOINS", None), (name, other)
