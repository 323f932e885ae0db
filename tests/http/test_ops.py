"""What operators read of every service's plumbing: its dead letters."""

from __future__ import annotations

from tests.support.api import Api
from tests.support.poison import GARBAGE, SHOW, UNKNOWN_VERSION
from tests.support.tokens import ALICE, OPERATOR


def dead_letter_two(api: Api) -> None:
    for value in (GARBAGE, UNKNOWN_VERSION):
        api.system.broker.publish("booking.events", SHOW, value)
    api.settle()


def test_operators_read_a_services_dead_letters_newest_first(api: Api) -> None:
    dead_letter_two(api)
    r = api.inventory.get("/ops/dead-letters", headers=OPERATOR)
    assert r.status_code == 200, r.text
    [unknown, garbage] = r.json()
    assert (garbage["reason"], garbage["offset"], garbage["key"]) == ("undecodable", 0, SHOW)
    assert garbage["value"] == "\x00\\xffnot json at all"  # NUL is UTF-8; 0xff is not
    assert unknown["reason"] == "unknown_contract" and "BookingRequested.v2" in unknown["error"]
    assert unknown["topic"] == "booking.events" and unknown["replayed_at"] is None
    # Payment reads booking's topic too, and keeps its own.
    assert len(api.payment.get("/ops/dead-letters", headers=OPERATOR).json()) == 2
    assert api.booking.get("/ops/dead-letters", headers=OPERATOR).json() == []


def test_replayed_ones_are_listed_only_when_asked_for(api: Api) -> None:
    dead_letter_two(api)
    api.system.replay_dead_letters("inventory", [1])
    api.settle()
    pending = api.inventory.get("/ops/dead-letters", headers=OPERATOR).json()
    assert [d["id"] for d in pending] == [3, 2]  # garbage replayed is garbage again: #3
    every = api.inventory.get("/ops/dead-letters?include_replayed=true&limit=1",
                              headers=OPERATOR).json()
    assert [d["id"] for d in every] == [3]
    every = api.inventory.get("/ops/dead-letters?include_replayed=true", headers=OPERATOR).json()
    assert [(d["id"], d["replayed_at"] is not None) for d in every] == [
        (3, False), (2, False), (1, True)]


def test_only_operators_read_them(api: Api) -> None:
    assert api.inventory.get("/ops/dead-letters", headers=ALICE).status_code == 403
    r = api.inventory.get("/ops/dead-letters")
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    r = api.inventory.get("/ops/dead-letters?limit=0", headers=OPERATOR)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
