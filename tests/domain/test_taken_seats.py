"""What booking knows of taken seats: learned from inventory's events, plus its own
bookings' claims until inventory answers; advisory."""

from booking.taken_seats import Claim, TakenSeats


def test_held_and_sold_seats_are_taken_for_everyone_but_their_booking():
    known = TakenSeats()
    known.taken_by("s1", ["A1", "A2"], "b1")
    assert known.claim("s1", ["A2", "A3"], "b2") == Claim(["A2"], [])
    assert known.claim("s1", ["A1", "A2"], "b1") == Claim([], [])  # its own: nothing new
    assert known.claim("s2", ["A1"], "b2") == Claim([], ["A1"])  # another show


def test_a_release_frees_the_seats():
    known = TakenSeats()
    known.taken_by("s1", ["A1", "A2"], "b1")
    known.released("s1", ["A1", "A2"])
    assert known.claim("s1", ["A1", "A2"], "b2").taken == []
    known.released("s9", ["A1"])  # a show never seen: nothing to do


def test_a_rejection_names_taken_seats_without_overwriting_a_known_holder():
    known = TakenSeats()
    known.taken_by("s1", ["A1"], "b1")
    known.rejected("s1", "b2", taken=["A1", "A2"])
    assert known.known() == {"s1": {"A1": "b1", "A2": ""}}
    assert known.claim("s1", ["A1"], "b1").taken == []  # still b1's own
    assert known.claim("s1", ["A2"], "b1").taken == ["A2"]  # someone's


def test_a_claim_is_all_or_nothing_and_refuses_others_until_inventory_answers():
    known = TakenSeats()
    assert known.claim("s1", ["A1", "A2"], "b1") == Claim([], ["A1", "A2"])
    assert known.claim("s1", ["A2", "A3"], "b2") == Claim(["A2"], [])
    assert known.claimed() == {"s1": {"A1": "b1", "A2": "b1"}}  # A3 was not claimed
    known.taken_by("s1", ["A1", "A2"], "b1")  # inventory holds them for b1: no longer a claim
    assert known.claimed() == {} and known.known() == {"s1": {"A1": "b1", "A2": "b1"}}


def test_a_rejection_withdraws_the_bookings_claims():
    known = TakenSeats()
    known.claim("s1", ["A1", "A2"], "b1")
    known.claim("s1", ["A3"], "b2")
    known.rejected("s1", "b1")  # e.g. its customer's hold limit: the seats are free
    assert known.claimed() == {"s1": {"A3": "b2"}}
    assert known.claim("s1", ["A1"], "b3") == Claim([], ["A1"])


def test_withdrawing_a_claim_touches_only_that_bookings():
    known = TakenSeats()
    known.claim("s1", ["A1"], "b1")
    known.unclaim("s1", ["A1"], "b2")  # not b2's
    assert known.claimed() == {"s1": {"A1": "b1"}}
    known.unclaim("s1", ["A1"], "b1")
    assert known.claimed() == {}


def test_a_claim_lapses_when_no_answer_comes():
    now = [100.0]
    known = TakenSeats(claim_ttl=10, clock=lambda: now[0])
    known.claim("s1", ["A1"], "b1")
    now[0] += 9.9
    assert known.claim("s1", ["A1"], "b2").taken == ["A1"]
    now[0] += 0.2  # the answer went to another instance, or never came
    assert known.claimed() == {}
    assert known.claim("s1", ["A1"], "b2") == Claim([], ["A1"])


def test_only_the_most_recently_touched_shows_are_kept():
    known = TakenSeats(max_shows=2)
    known.taken_by("s1", ["A1"], "b1")
    known.taken_by("s2", ["A1"], "b2")
    known.taken_by("s1", ["A2"], "b1")  # s1 touched again: s2 is now the oldest
    known.taken_by("s3", ["A1"], "b3")
    assert set(known.known()) == {"s1", "s3"}


def test_forgetting_leaves_nothing_taken():
    known = TakenSeats()
    known.taken_by("s1", ["A1"], "b1")
    known.claim("s1", ["A2"], "b2")
    known.forget()
    assert known.claim("s1", ["A1", "A2"], "b3").taken == []
    assert known.known() == {}
