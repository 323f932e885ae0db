"""Projection lag of a benchmark run: commit -> view, as the projector measures it.

The target (docs/benchmarks.md): projection lag p99 < 200 ms, from an event's commit in
a service's store to the MongoDB view reflecting it. The projector measures it itself
and serves percentiles on ``/lag``, every transaction and event counted, no sample:

- ``commit_to_view`` (what this returns): per committed transaction that recorded
  events, the arrival of its NOTIFY (sent at commit) to the acknowledgement of the
  views' writes of the round that read it;
- ``recorded_to_view`` (returned inside): per public event, its recorded timestamp to
  the same acknowledgement; the timestamp is taken when the service decides, before its
  commit, so this includes the service's own time to commit (e.g. its write lock).
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
    except Exception:  # a report without this figure beats a failed run
        return None
    summary = lag.get("commit_to_view")
    if not summary:
        return None
    out = {"n": summary.get("n", 0)}
    for k in ("p50", "p95", "p99", "max", "over_200ms"):
        out[k] = summary.get(k)
    out["recorded_to_view"] = lag.get("recorded_to_view")
    out["work"] = lag.get("work")
    return out
