"""The read side in the real system: MongoDB views, read-your-writes, projector crashes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid

import pytest

from projections.mongo_store import connect, current_generation
from projections.rebuild import verify
from projections.sources import stream_readers

pytestmark = pytest.mark.infra


def views_db(system):
    s = system.local.settings
    if not hasattr(system, "_mongo"):
        system._mongo = connect(s.mongo_url)  # one client per system, not one per call
    return system._mongo[s.views_db]


def settle_views(system, timeout=30.0):
    """Wait until the projector has projected every stream to its head."""
    readers = stream_readers(system.local.settings)
    db = views_db(system)
    deadline = time.monotonic() + timeout
    while True:
        gen = current_generation(db)
        positions = {d["_id"].split("/")[1]: d["position"]
                     for d in db["projector_positions"].find({"generation": gen})}
        heads = {s: r.recorder.max_notification_id() or 0 for s, r in readers.items()}
        if all(positions.get(s, 0) >= h for s, h in heads.items()):
            return readers, db
        assert time.monotonic() < deadline, f"views stuck at {positions}, heads {heads}"
        time.sleep(0.1)


def some_bookings(system, n, rng, show):
    ids = {}
    for i in range(n):
        method = rng.choice(["pm_card_visa", "pm_card_visa", "pm_card_chargeDeclined"])
        r = system.book(f"v{i % 4}", show, [f"A{rng.randint(1, 30)}"], method)
        if r.status_code == 409 and r.json()["error"] == "seats_taken":
            continue  # refused at once: nothing booked, nothing to project
        assert r.status_code == 202, r.text
        ids[r.json()["booking_id"]] = f"v{i % 4}"
    return ids


def test_read_your_writes_with_the_consistency_token(shared_system):
    show = f"ryw-{uuid.uuid4().hex[:6]}"
    shared_system.open_show(show)
    r = shared_system.book("ryw", show, ["A1"])
    token = r.headers["X-Consistency-Token"]
    assert token.startswith("booking:")
    listed = shared_system.clients["booking"].get(
        "/bookings", params={"consistency_token": token}, headers=shared_system.auth("ryw")
    )
    assert listed.status_code == 200 and "X-View-Stale" not in listed.headers
    assert [b["booking_id"] for b in listed.json()["bookings"]] == [r.json()["booking_id"]]
    doc = shared_system.wait_for("ryw", r.json()["booking_id"])
    assert [t["event"] for t in doc["timeline"]][:2] == ["BookingRequested", "SeatsReserved"]
    bad = shared_system.clients["booking"].get(
        "/bookings", params={"consistency_token": "nonsense"}, headers=shared_system.auth("ryw")
    )
    assert bad.status_code == 400


def test_projector_killed_while_live_recovers_with_no_wrong_document(start_system):
    system = start_system(hold_seconds="2")
    system.open_show("views", seats=30)
    rng = random.Random(5)
    bookings = some_bookings(system, 15, rng, "views")
    system.local.kill("projections")  # kill -9 while it is projecting
    bookings |= some_bookings(system, 15, rng, "views")
    system.local.start("projections")
    system.local.wait_ready("projections")
    for booking_id, customer in bookings.items():
        system.wait_for(customer, booking_id)
    time.sleep(3)  # expiries land
    readers, db = settle_views(system)
    assert verify(db, readers) == []


def test_rebuild_killed_half_way_resumes_and_switches(start_system):
    system = start_system(hold_seconds="2")
    system.open_show("rebuild", seats=30)
    bookings = some_bookings(system, 25, random.Random(6), "rebuild")
    for booking_id, customer in bookings.items():
        system.wait_for(customer, booking_id)
    readers, db = settle_views(system)
    before = current_generation(db)
    env = {**os.environ, **system.local.env}
    cmd = [sys.executable, "-m", "projections", "rebuild", "--batch", "3"]
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    for line in first.stdout:  # wait until it has done some work, then kill -9
        if "events/s" in line and int(line.split(":")[1].split("/")[0]) > 20:
            break
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert current_generation(db) == before  # a half-built generation is never served
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120,
                            check=False)
    assert second.returncode == 0, second.stderr
    assert "switched readers to" in second.stdout
    after = current_generation(db)
    assert after != before
    readers, db = settle_views(system)
    assert verify(db, readers) == []
    # The live projector looks at the registry between rounds (every 0.2 s when idle).
    deadline = time.monotonic() + 10
    while (live := system.clients["projections"].get("/lag").json()["generation"]) != after:
        assert time.monotonic() < deadline, f"the live projector stayed on {live}, not {after}"
        time.sleep(0.05)
