"""PLACEHOLDER: projection lag, for when the MongoDB projector exists (issue #5).

Issue #6's target: projection lag p99 < 200 ms, i.e. from an event's commit in a
service's store to the MongoDB view reflecting it (each view document records the
position it reflects). The projector worker is being built; until it is, this
returns None and the report prints "n/a".
"""

from __future__ import annotations

from tests.e2e.harness import Distributed


def projection_lag(system: Distributed) -> dict | None:
    """p50/p95/p99/max in ms of commit -> view, once there is a projector. None for now.

    The intended measure: for a sample of bookings, the booking event's notification
    time (or commit time) versus the time its view document first shows that
    position, polled from MongoDB, or reported by the projector itself."""
    return None
