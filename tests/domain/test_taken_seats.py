"""What booking knows of taken seats: learned from inventory's events, advisory."""

from booking.taken_seats import TakenSeats


def test_held_and_sold_seats_are_taken_for_everyone_but_their_booking():
    known = TakenSeats()
    known.held("s1", ["A1", "A2"], "b1")
    assert known.taken("s1", ["A2", "A3"], apart_from="b2") == ["A2"]
    assert known.taken("s1", ["A1", "A2"], apart_from="b1") == []
    assert known.taken("s2", ["A1"], apart_from="b2") == []  # another show


def test_a_release_frees_the_seats():
    known = TakenSeats()
    known.held("s1", ["A1", "A2"], "b1")
    known.released("s1", ["A1", "A2"])
    assert known.taken("s1", ["A1", "A2"], apart_from="b2") == []
    known.released("s9", ["A1"])  # a show never seen: nothing to do


def test_a_rejection_names_taken_seats_without_overwriting_a_known_holder():
    known = TakenSeats()
    known.held("s1", ["A1"], "b1")
    known.refused("s1", ["A1", "A2"])
    assert known.known() == {"s1": {"A1": "b1", "A2": ""}}
    assert known.taken("s1", ["A1"], apart_from="b1") == []  # still b1's own
    assert known.taken("s1", ["A2"], apart_from="b1") == ["A2"]  # someone's


def test_only_the_most_recently_touched_shows_are_kept():
    known = TakenSeats(max_shows=2)
    known.held("s1", ["A1"], "b1")
    known.held("s2", ["A1"], "b2")
    known.held("s1", ["A2"], "b1")  # s1 touched again: s2 is now the oldest
    known.held("s3", ["A1"], "b3")
    assert set(known.known()) == {"s1", "s3"}


def test_forgetting_leaves_nothing_taken():
    known = TakenSeats()
    known.held("s1", ["A1"], "b1")
    known.forget()
    assert known.taken("s1", ["A1"], apart_from="b2") == [] and known.known() == {}
