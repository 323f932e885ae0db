import copy
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import Tracking

from inventory.application import InventoryService
from inventory.domain import (
    BOOKED,
    REJECTED,
    RELEASED,
    RESERVED,
    CustomerDayHolds,
    HoldLimits,
    InventoryRuleViolation,
    ShowInventory,
    UnknownShowRequest,
    UnknownShowRequests,
    theatre_day,
)
from inventory.publishing import to_public
from shared import contracts as c
from shared.clock import FakeClock

T0 = datetime(2030, 1, 1, 18, 0, tzinfo=UTC)
LIMITS = HoldLimits(max_seats=3, hold_for=timedelta(minutes=10))


def show() -> ShowInventory:
    seats = {"A1": "std", "A2": "std", "A3": "std", "V1": "vip"}
    return ShowInventory(show_id="s1", seats=seats, prices={"std": 1000, "vip": 2500}, currency="EUR")


def last_event(s: ShowInventory):
    return s.pending_events[-1]


def test_hold_takes_all_seats_prices_them_and_sets_the_deadline():
    s, b = show(), uuid4()
    s.request_hold(b, ["A1", "V1"], T0, LIMITS)
    e = last_event(s)
    assert isinstance(e, ShowInventory.SeatsReserved)
    assert (e.amount, e.reserved_until) == (3500, T0 + timedelta(minutes=10))
    assert s.seat_state("A1") == s.seat_state("V1") == RESERVED
    assert s.seat_state("A2") == "AVAILABLE"


def test_default_hold_is_ten_minutes():
    assert HoldLimits().hold_for == timedelta(minutes=10)


@pytest.mark.parametrize(
    ("seats", "reason", "culprits"),
    [
        ([], "no_seats", []),
        (["A1", "A2", "A3", "V1"], "too_many_seats", []),
        (["A1", "A1"], "duplicate_seat", []),
        (["A1", "Z9"], "unknown_seat", ["Z9"]),
    ],
)
def test_invalid_requests_are_rejected_with_a_reason(seats, reason, culprits):
    s = show()
    s.request_hold(uuid4(), seats, T0, LIMITS)
    e = last_event(s)
    assert isinstance(e, ShowInventory.SeatsRejected)
    assert (e.reason, e.seat_ids) == (reason, culprits)
    assert not s.holders


def test_a_customer_holds_at_most_the_limit_unpaid_in_a_show():
    limits = HoldLimits(max_seats=3, hold_for=timedelta(minutes=10), max_held_per_customer=3)
    s = show()
    s.request_hold(first := uuid4(), ["A1", "A2"], T0, limits, customer_id="ann")
    s.request_hold(over := uuid4(), ["A3", "V1"], T0, limits, customer_id="ann")
    e = last_event(s)
    assert isinstance(e, ShowInventory.SeatsRejected)
    assert (e.reason, e.seat_ids) == ("customer_hold_limit", [])
    assert s.hold_of(over)["status"] == REJECTED and s.reserved_by("ann") == 2
    s.request_hold(uuid4(), ["A3", "V1"], T0, limits, customer_id="bob")  # others may
    assert s.seat_state("A3") == RESERVED and s.reserved_by("bob") == 2
    # Paid seats are no longer held: ann may hold again (one seat left in the show).
    s.payment_succeeded(first, T0 + timedelta(minutes=1))
    assert s.reserved_by("ann") == 0


def test_the_hold_limit_counts_released_holds_out():
    limits = HoldLimits(max_seats=3, hold_for=timedelta(minutes=10), max_held_per_customer=2)
    s = show()
    s.request_hold(uuid4(), ["A1", "A2"], T0, limits, customer_id="ann")
    s.request_hold(uuid4(), ["A3"], T0, limits, customer_id="ann")
    assert last_event(s).reason == "customer_hold_limit"
    s.release_expired(T0 + timedelta(minutes=10))
    s.request_hold(uuid4(), ["A3"], T0 + timedelta(minutes=11), limits, customer_id="ann")
    assert s.seat_state("A3") == RESERVED and s.reserved_by("ann") == 1


def test_holds_stored_before_holds_named_a_customer_load_and_count_for_nobody():
    s = show()
    s.request_hold(uuid4(), ["A1", "A2", "A3"], T0, LIMITS, customer_id="ann")
    events = s.collect_events()
    object.__delattr__(events[-1], "customer_id")  # as the event was stored before
    mapper = Application().mapper
    stored = [mapper.to_stored_event(e) for e in events]
    assert b"customer_id" not in stored[-1].state
    loaded = None
    for e in (mapper.to_domain_event(x) for x in stored):
        loaded = e.mutate(loaded)
    assert loaded.reserved_by("ann") == 0 and loaded.seat_state("A1") == RESERVED
    loaded.request_hold(uuid4(), ["V1"], T0, HoldLimits(max_held_per_customer=1), customer_id="ann")
    assert loaded.seat_state("V1") == RESERVED


def test_holds_are_all_or_nothing():
    s = show()
    s.request_hold(uuid4(), ["A2"], T0, LIMITS)
    s.request_hold(b := uuid4(), ["A1", "A2"], T0, LIMITS)
    e = last_event(s)
    assert (e.reason, e.seat_ids) == ("seats_taken", ["A2"])
    assert s.seat_state("A1") == "AVAILABLE"  # nothing of the rejected request is held
    assert s.hold_of(b)["status"] == "REJECTED"


def test_a_repeated_request_changes_nothing():
    s, b = show(), uuid4()
    s.request_hold(b, ["A1"], T0, LIMITS)
    version = s.version
    s.request_hold(b, ["A1"], T0 + timedelta(minutes=30), LIMITS)
    s.request_hold(b, ["A2"], T0, LIMITS)
    assert s.version == version


def test_payment_within_the_hold_books_the_seats():
    s, b = show(), uuid4()
    s.request_hold(b, ["A1"], T0, LIMITS)
    s.payment_succeeded(b, T0 + timedelta(minutes=9))
    assert s.seat_state("A1") == BOOKED


def test_a_late_success_never_resurrects_seats():
    s, b = show(), uuid4()
    s.request_hold(b, ["A1"], T0, LIMITS)
    s.payment_succeeded(b, T0 + timedelta(minutes=10))  # expired, sweep not yet run
    e = last_event(s)
    assert isinstance(e, ShowInventory.SeatsReleased) and e.reason == "hold_expired"
    assert s.seat_state("A1") == "AVAILABLE"
    version = s.version
    s.payment_succeeded(b, T0 + timedelta(minutes=11))
    assert s.version == version


def test_expiry_releases_only_due_holds():
    s, early, late = show(), uuid4(), uuid4()
    s.request_hold(early, ["A1"], T0, LIMITS)
    s.request_hold(late, ["A2"], T0 + timedelta(minutes=5), LIMITS)
    assert s.next_deadline() == T0 + timedelta(minutes=10)
    assert s.release_expired(T0 + timedelta(minutes=9, seconds=59)) == []
    assert s.release_expired(T0 + timedelta(minutes=10)) == [str(early)]
    assert s.hold_of(early)["status"] == RELEASED
    assert s.seat_state("A2") == RESERVED
    assert s.next_deadline() == T0 + timedelta(minutes=15)


def test_booked_seats_do_not_expire():
    s, b = show(), uuid4()
    s.request_hold(b, ["A1"], T0, LIMITS)
    s.payment_succeeded(b, T0)
    assert s.release_expired(T0 + timedelta(hours=1)) == []
    assert s.seat_state("A1") == BOOKED


def test_cancellation_releases_reserved_and_booked_seats_once():
    s, r, k = show(), uuid4(), uuid4()
    s.request_hold(r, ["A1"], T0, LIMITS)
    s.request_hold(k, ["A2"], T0, LIMITS)
    s.payment_succeeded(k, T0)
    s.booking_cancelled(r, T0)
    s.booking_cancelled(k, T0)  # booking cancels only before it confirms: free it too
    assert s.seat_state("A1") == s.seat_state("A2") == "AVAILABLE"
    version = s.version
    s.booking_cancelled(r, T0)
    assert s.version == version


def test_released_seats_can_be_held_again():
    s, first, second = show(), uuid4(), uuid4()
    s.request_hold(first, ["A1"], T0, LIMITS)
    s.release_expired(T0 + timedelta(minutes=10))
    s.request_hold(second, ["A1"], T0 + timedelta(minutes=10), LIMITS)
    assert s.holders["A1"] == str(second)


def test_layout_validation():
    with pytest.raises(InventoryRuleViolation, match="no price"):
        ShowInventory.validate_layout({"A1": "gold"}, {"std": 1})
    with pytest.raises(InventoryRuleViolation, match="at least one"):
        ShowInventory.validate_layout({}, {"std": 1})
    with pytest.raises(InventoryRuleViolation, match="negative"):
        ShowInventory.validate_layout({"A1": "std"}, {"std": -1})


def test_ended_holds_keep_only_their_outcome_and_stay_idempotent():
    s, rejected, released = show(), uuid4(), uuid4()
    s.request_hold(released, ["A1"], T0, LIMITS)
    s.request_hold(rejected, ["A1"], T0, LIMITS)
    s.release_expired(T0 + timedelta(minutes=10))
    assert set(s.holds) == set()  # only live holds have full records
    assert s.ended == {str(rejected): REJECTED, str(released): RELEASED}
    assert s.hold_of(rejected)["status"] == REJECTED
    assert s.hold_of(released)["status"] == RELEASED
    version = s.version
    # Redelivered: the seat is free now, yet neither request holds it again.
    s.request_hold(rejected, ["A1"], T0 + timedelta(minutes=11), LIMITS)
    s.request_hold(released, ["A1"], T0 + timedelta(minutes=11), LIMITS)
    s.payment_succeeded(released, T0 + timedelta(minutes=11))
    s.booking_cancelled(rejected, T0 + timedelta(minutes=11))
    assert s.version == version and s.seat_state("A1") == "AVAILABLE"


def test_a_released_booked_hold_ends_too():
    s, b = show(), uuid4()
    s.request_hold(b, ["A1", "A2"], T0, LIMITS)
    s.payment_succeeded(b, T0)
    s.booking_cancelled(b, T0)
    assert not s.holders and not s.holds and s.ended == {str(b): RELEASED}


def test_requests_rejected_as_unknown_before_opening_are_ended_in_the_show():
    b = uuid4()
    s = ShowInventory(show_id="s1", seats={"A1": "std"}, prices={"std": 1}, currency="EUR",
                      rejected_as_unknown=[str(b)])
    assert s.unknown_adopted and s.hold_of(b)["status"] == REJECTED
    version = s.version
    s.request_hold(b, ["A1"], T0, LIMITS)
    assert s.version == version and s.seat_state("A1") == "AVAILABLE"


def test_unknown_show_requests_are_rejected_once_then_closed():
    r, b = UnknownShowRequests(show_id="s9"), uuid4()
    r.reject(b, T0)
    r.reject(b, T0)
    assert r.booking_ids == [str(b)] and len(r.pending_events) == 2  # Started, Rejected
    r.close()
    assert r.closed
    with pytest.raises(AssertionError):
        r.reject(uuid4(), T0)


def busy_show() -> ShowInventory:
    s = show()
    s.request_hold(uuid4(), ["A1"], T0, LIMITS)
    s.request_hold(uuid4(), ["A1"], T0, LIMITS)
    s.request_hold(uuid4(), ["A2"], T0, LIMITS)
    return s


def test_a_deep_copy_shares_no_mutable_state():
    """The aggregate cache hands out deep copies: deciding on one must not touch the
    cached original."""
    s = busy_show()
    s.collect_events()
    c = copy.deepcopy(s)
    assert vars(c) == vars(s) and c.version == s.version
    holder = next(iter(c.holds))
    c.request_hold(uuid4(), ["A3"], T0, LIMITS)
    c.payment_succeeded(holder, T0)
    c.booking_cancelled(holder, T0)
    c.holds.setdefault("x", {"seat_ids": []})["seat_ids"].append("V1")
    c.seats["Z1"] = "std"
    c.prices["std"] = 1
    assert s.seat_state("A2") == RESERVED and s.seat_state("A3") == "AVAILABLE"
    assert "x" not in s.holds and holder not in s.ended and "Z1" not in s.seats
    assert s.prices["std"] == 1000 and not s.pending_events
    for name, value in vars(s).items():
        if isinstance(value, (dict, list)):
            assert getattr(c, name) is not value, name
    for booking_id, hold in s.holds.items():
        if booking_id in c.holds:
            assert c.holds[booking_id] is not hold
            assert c.holds[booking_id]["seat_ids"] is not hold["seat_ids"]


def test_snapshot_round_trip_and_old_snapshots_are_upcast():
    app = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    s = busy_show()
    s.release_expired(T0 + timedelta(minutes=10))
    s.request_hold(b := uuid4(), ["A1"], T0 + timedelta(minutes=10), LIMITS)
    stored = app.mapper.to_stored_event(Snapshot.take(s))
    restored = app.mapper.to_domain_event(stored).mutate(None)
    assert vars(restored) | {"_pending_events": []} == vars(s) | {"_pending_events": []}
    # A snapshot taken before ended holds left ``holds`` (class version 1).
    old_state = {k: v for k, v in vars(s).items() if k not in ("_id", "_version", "_pending_events")}
    old_state["holds"] = {
        **s.holds, **{e: {"status": st, "seat_ids": [], "reserved_until": T0}
                      for e, st in s.ended.items()},
    }
    del old_state["ended"], old_state["unknown_adopted"]
    old = Snapshot(originator_id=s.id, originator_version=s.version, timestamp=T0,
                   topic=ShowInventory.TOPIC, state=old_state)
    upcast = old.mutate(None)
    assert (upcast.holds, upcast.ended) == (s.holds, s.ended)
    assert upcast.unknown_adopted is False and upcast.hold_of(b)["status"] == RESERVED


# --- the service: requests decided as "unknown show" before the show opened ----------

SEATS, PRICES = {"A1": "std", "A2": "std"}, {"std": 1000}


def service(recorder=None, cache: str = "") -> InventoryService:
    env = {"PERSISTENCE_MODULE": "eventsourcing.popo", "AGGREGATE_CACHE_MAXSIZE": cache}
    return InventoryService(env, FakeClock(T0), LIMITS, recorder)


def requested(booking_id, show_id="s1", seats=("A1",)) -> c.BookingRequested:
    return c.BookingRequested(
        event_id=f"booking/{booking_id}/1", occurred_at=T0, show_id=show_id,
        booking_id=booking_id, customer_id="ann", seat_ids=list(seats), payment_method="pm",
    )


def public_events(app: InventoryService) -> list:
    out = []
    for n in app.recorder.select_notifications(start=1, limit=10_000):
        p = to_public(app.mapper.to_domain_event(n))
        if p is not None:
            out.append(p)
    return out


@pytest.mark.parametrize("cache", ["", "100"])
def test_a_request_rejected_before_the_show_opened_never_holds_after(cache):
    app, b, position = service(cache=cache), uuid4(), iter(range(1, 100))
    app.handle(requested(b), Tracking("t", next(position)))
    app.handle(requested(b), Tracking("t", next(position)))  # republished: still once
    [rejected] = public_events(app)
    assert (rejected.booking_id, rejected.reason) == (b, "unknown_show")
    app.open_show("s1", SEATS, PRICES, "EUR")
    events = app.recorder.max_notification_id()
    app.handle(requested(b), Tracking("t", next(position)))  # republished after opening
    assert app.recorder.max_notification_id() == events
    assert app.get_show("s1").seat_state("A1") == "AVAILABLE"
    # A new request to the open show is decided from the show alone.
    app.handle(requested(other := uuid4()), Tracking("t", next(position)))
    assert app.get_show("s1").hold_of(other)["status"] == RESERVED


def test_a_rejection_racing_with_the_opening_is_decided_again_against_the_show():
    """Instance 1 finds no show; instance 2 opens it before instance 1 writes the
    rejection: that write conflicts with the opening's close, and the request is
    decided again, against the show (so it never was rejected)."""
    first = service()
    second = service(recorder=first.recorder)
    b, find, opened = uuid4(), first.find, []

    def find_then_open_elsewhere(aggregate_id):
        found = find(aggregate_id)
        if aggregate_id == UnknownShowRequests.create_id("s1") and not opened:
            opened.append(second.open_show("s1", SEATS, PRICES, "EUR"))
        return found

    first.find = find_then_open_elsewhere
    first.handle(requested(b), Tracking("t", 1))
    assert opened and first.get_show("s1").hold_of(b)["status"] == RESERVED
    requests = first.repository.get(UnknownShowRequests.create_id("s1"))
    assert (requests.closed, requests.booking_ids, requests.version) == (True, [], 2)
    assert [type(p).__name__ for p in public_events(first)] == [
        "ShowInventoryOpened", "SeatsReserved",
    ]


def test_rejections_recorded_by_the_old_per_booking_records_are_honoured():
    app, b, legacy_show = service(), uuid4(), uuid4()
    # Recorded before UnknownShowRequests: one aggregate per booking.
    app.save(UnknownShowRequest(booking_id=b, show_id="s1", at=T0))
    app.save(UnknownShowRequest(booking_id=legacy_show, show_id="old", at=T0))
    app.handle(requested(b), Tracking("t", 1))  # show still unknown: not rejected twice
    assert len(public_events(app)) == 2
    show_, _ = app.open_show("s1", SEATS, PRICES, "EUR")  # adopts it
    assert show_.hold_of(b)["status"] == REJECTED
    # A show opened before the hand-over existed (its Opened event has no such field).
    app.save(ShowInventory(show_id="old", seats=SEATS, prices=PRICES, currency="EUR"))
    assert not app.get_show("old").unknown_adopted
    events = app.recorder.max_notification_id()
    app.handle(requested(b), Tracking("t", 2))
    app.handle(requested(legacy_show, show_id="old"), Tracking("t", 3))
    assert app.recorder.max_notification_id() == events
    app.handle(requested(new := uuid4(), show_id="old"), Tracking("t", 4))
    assert app.get_show("old").hold_of(new)["status"] == RESERVED


def test_a_cancelled_show_releases_every_hold_booked_too_and_grants_nothing_after():
    s, reserved, booked = show(), uuid4(), uuid4()
    s.request_hold(reserved, ["A1"], T0, LIMITS)
    s.request_hold(booked, ["A2", "V1"], T0, LIMITS)
    s.payment_succeeded(booked, T0 + timedelta(minutes=1))
    s.collect_events()
    s.cancel(T0 + timedelta(minutes=2))
    s.cancel(T0 + timedelta(minutes=3))  # redelivered: no second effect
    events = s.collect_events()
    assert [type(e).__name__ for e in events] == ["Cancelled", "SeatsReleased", "SeatsReleased"]
    assert {str(e.booking_id) for e in events[1:]} == {str(reserved), str(booked)}
    assert {e.reason for e in events[1:]} == {"show_cancelled"}
    assert s.holds == {} and s.holders == {}
    late = uuid4()
    s.request_hold(late, ["A3"], T0, LIMITS)
    assert (last_event(s).reason, s.seat_state("A3")) == ("show_cancelled", "AVAILABLE")
    s.payment_succeeded(reserved, T0 + timedelta(minutes=4))  # a success after: nothing booked
    assert s.seat_state("A1") == "AVAILABLE" and s.hold_of(reserved)["status"] == RELEASED


def test_a_withdrawn_seat_releases_only_the_booking_holding_it_and_is_never_sold():
    s, hit, spared = show(), uuid4(), uuid4()
    s.request_hold(hit, ["A1", "A2"], T0, LIMITS)
    s.payment_succeeded(hit, T0)
    s.request_hold(spared, ["A3"], T0, LIMITS)
    s.collect_events()
    s.withdraw(["A2", "A2", "nope"], T0 + timedelta(minutes=1))
    s.withdraw(["A2"], T0 + timedelta(minutes=2))  # redelivered: no second effect
    events = s.collect_events()
    assert [type(e).__name__ for e in events] == ["SeatsWithdrawn", "SeatsReleased"]
    assert (events[0].seat_ids, events[1].booking_id, events[1].reason) == (
        ["A2"], str(hit), "seat_withdrawn")
    assert s.seat_state("A1") == "AVAILABLE" and s.seat_state("A3") == RESERVED
    again = uuid4()
    s.request_hold(again, ["A1", "A2"], T0, LIMITS)
    assert (last_event(s).reason, last_event(s).seat_ids) == ("seat_withdrawn", ["A2"])
    s.request_hold(uuid4(), ["A1"], T0, LIMITS)
    assert s.seat_state("A1") == RESERVED  # its other seat is back on sale


def test_a_snapshot_from_before_cancellations_reads_as_not_cancelled():
    state = {"holds": {}, "ended": {}, "unknown_adopted": True}
    ShowInventory.upcast_v2_v3(state)
    assert state["cancelled"] is False and state["withdrawn"] == []


def test_a_category_taken_off_sale_loses_its_demand_uplift():
    s, vip = show(), uuid4()
    rule = c.DemandRule(threshold_percent=50, uplift_percent=10, max_uplift_percent=10)
    s.reprice(1, {"std": 1000, "vip": 2500}, "EUR", 1, {}, rule, T0)
    s.request_hold(vip, ["V1"], T0, LIMITS)
    s.payment_succeeded(vip, T0)
    assert s.uplifts == {"std": 0, "vip": 10}  # its only seat sold
    s.collect_events()
    s.withdraw(["V1"], T0)  # the booking is released, and no vip seat is on sale any more
    demand = [e for e in s.collect_events() if type(e).__name__ == "DemandChanged"]
    assert [e.uplifts for e in demand] == [{"std": 0}]  # pricing quotes no vip uplift
    s.request_hold(uuid4(), ["A1"], T0, LIMITS)
    assert (last_event(s).amount, last_event(s).uplifts) == (1000, {})


def test_a_repriced_show_is_still_the_show_it_was_opened_as(caplog):
    """Pricing's prices replace the list prices a show opened with; the show is still
    the one its layout and list prices describe: the theatre's event delivered again is
    no other layout, and an operator's PUT of the same show is a repeat."""
    app = service()
    scheduled = c.ShowScheduled(
        event_id="theatre/x/1", occurred_at=T0, show_id="s1", theatre_id="odeon",
        screen_id="one", layout_version=1, film=c.Film(
            title="Dune", runtime_minutes=100, rating="12A", language="en", format="2D"),
        starts_at=T0 + timedelta(days=1), ends_at=T0 + timedelta(days=1, hours=2),
        local_start="2030-01-02T18:00:00+00:00", seats=SEATS, prices=PRICES, currency="EUR")
    app.handle(scheduled, Tracking("theatre", 1))
    app.handle(c.ShowPriced(
        event_id="pricing/x/2", occurred_at=T0, show_id="s1", theatre_id="odeon",
        price_version=1, rules_version=1, prices={"std": 1200}, currency="EUR",
    ), Tracking("pricing", 1))
    assert app.get_show("s1").price_of(["A1"]) == 1200
    app.handle(scheduled, Tracking("theatre", 2))  # delivered again
    assert "another layout" not in caplog.text
    show_, created = app.open_show("s1", SEATS, PRICES, "EUR")
    assert not created and show_.price_of(["A1"]) == 1200
    with pytest.raises(InventoryRuleViolation, match="another layout"):
        app.open_show("s1", SEATS, {"std": 1100}, "EUR")


# --- the customer's holds across a theatre day ---------------------------------------

DAY_LIMITS = HoldLimits(max_seats=3, hold_for=timedelta(minutes=10), max_held_per_customer=3,
                        max_held_per_customer_day=4)


def day_show(show_id: str) -> ShowInventory:
    return ShowInventory(show_id=show_id, seats={"A1": "std", "A2": "std", "A3": "std"},
                         prices={"std": 1000}, currency="EUR",
                         day=theatre_day("odeon", "2030-01-01T19:30:00+00:00"))


def test_a_customer_holds_at_most_the_days_limit_across_its_shows():
    first, second = day_show("s1"), day_show("s2")
    assert first.day == "odeon/2030-01-01"
    day = CustomerDayHolds(customer_id="ann", day=first.day)
    first.request_hold(uuid4(), ["A1", "A2", "A3"], T0, DAY_LIMITS, "ann", day_holds=day)
    second.request_hold(over := uuid4(), ["A1", "A2"], T0, DAY_LIMITS, "ann", day_holds=day)
    e = last_event(second)
    assert isinstance(e, ShowInventory.SeatsRejected) and e.reason == "customer_day_limit"
    assert second.hold_of(over)["status"] == REJECTED and day.held(T0) == 3
    second.request_hold(uuid4(), ["A1"], T0, DAY_LIMITS, "ann", day_holds=day)  # 3 + 1 = 4
    assert second.seat_state("A1") == RESERVED and day.held(T0) == 4


def test_a_hold_counts_on_the_day_until_it_ends_or_lapses():
    show, day = day_show("s1"), CustomerDayHolds(customer_id="ann", day="odeon/2030-01-01")
    show.request_hold(paid := uuid4(), ["A1", "A2"], T0, DAY_LIMITS, "ann", day_holds=day)
    show.request_hold(uuid4(), ["A3"], T0 + timedelta(minutes=5), DAY_LIMITS, "ann",
                      day_holds=day)
    assert day.held(T0 + timedelta(minutes=5)) == 3
    day.ended(str(paid), T0 + timedelta(minutes=6))  # booked: no longer held
    assert day.held(T0 + timedelta(minutes=6)) == 1
    assert day.held(T0 + timedelta(minutes=15)) == 0  # the other's deadline passed
    day.ended(str(paid), T0)  # again: nothing more
    later = uuid4()
    day.hold(str(later), "s2", 1, T0 + timedelta(minutes=30), T0 + timedelta(minutes=20))
    assert list(day.holds) == [str(later)]  # the lapsed one left with it
    events = day.collect_events()
    assert [type(e).__name__ for e in events] == ["Started", "Held", "Held", "Ended", "Held"]


def test_a_repeated_request_is_not_counted_twice_on_the_day():
    show, day = day_show("s1"), CustomerDayHolds(customer_id="ann", day="odeon/2030-01-01")
    b = uuid4()
    show.request_hold(b, ["A1", "A2"], T0, DAY_LIMITS, "ann", day_holds=day)
    show.request_hold(b, ["A1", "A2"], T0, DAY_LIMITS, "ann", day_holds=day)
    day.hold(str(b), "s1", 2, T0 + timedelta(minutes=10), T0)
    assert day.held(T0) == 2


def test_a_show_moved_to_another_day_counts_its_later_holds_there():
    show = day_show("s1")
    show.move_to_day("odeon/2030-01-02", T0)
    show.move_to_day("odeon/2030-01-02", T0)  # again: nothing
    assert show.day == "odeon/2030-01-02"
    assert [type(e).__name__ for e in show.collect_events()] == ["Opened", "DayChanged"]


def test_snapshots_taken_before_shows_knew_their_day_load_without_one():
    state = {"show_id": "s1"}
    ShowInventory.upcast_v4_v5(state)
    assert state["day"] is None
    assert show().day is None  # opened by an operator: no theatre day


def test_a_customers_day_is_snapshotted_and_loads_from_its_snapshot():
    assert InventoryService.snapshotting_intervals[CustomerDayHolds] == 100
    app = InventoryService(clock=FakeClock(T0))
    day = CustomerDayHolds(customer_id="ann", day="odeon/2030-01-01")
    for _ in range(60):
        b = str(uuid4())
        day.hold(b, "s1", 1, T0 + timedelta(minutes=10), T0)
        day.ended(b, T0)
    day.hold(kept := str(uuid4()), "s1", 2, T0 + timedelta(minutes=10), T0)
    app.save(day)  # 122 events: a snapshot at 100
    snapshots = app.snapshots
    assert snapshots is not None and [s.originator_version for s in snapshots.get(day.id)] == [100]
    app.partitions_assigned()  # nothing cached: loaded from the snapshot
    loaded = app.repository.get(day.id)
    assert list(loaded.holds) == [kept] and loaded.held(T0) == 2
