"""Projection lag of a benchmark run: commit -> view, as the projector measures it.

Issue #6's target: projection lag p99 < 200 ms, i.e. from an event's commit in a
service's store to the MongoDB view reflecting it. The projector records, for every
public event recorded after it started, the time its round's writes to the views were
acknowledged minus the event's recorded timestamp (taken by the service just before
its commit, so the figure overstates by the commit's few ms), and serves percentiles
on ``/lag`` (``commit_to_view``). Every event counts, not a sample.
"""

from __future__ import annotations

from tests.e2e.harness import Distributed


def projection_lag(system: Distributed, since: float | None = None) -> dict | None:
    """p50/p95/p99/max in ms of commit -> view over every public event projected since
    the projector started (or since ``since``, epoch seconds), with ``n`` (events) and
    ``over_200ms``. None when the system has no projector, it does not answer, or it
    predates the measurement."""
    client = getattr(system, "clients", {}).get("projections")
    if client is None:
        return None
    try:
        r = client.get("/lag", params={"since": since} if since is not None else None, timeout=5)
        r.raise_for_status()
        lag = r.json()
    except Exception:  # noqa: BLE001 - a report without this figure beats a failed run
        return None
    summary = lag.get("commit_to_view")
    if not summary:
        return None
    out = {"n": summary.get("n", 0)}
    for k in ("p50", "p95", "p99", "max", "over_200ms"):
        out[k] = summary.get(k)
    out["work"] = lag.get("work")
    return out
