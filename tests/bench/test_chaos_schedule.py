"""The chaos soak's fault schedule is a pure function of the seed and the run's length."""

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from bench.chaos_schedule import KINDS, PAUSE_SECONDS, schedule


@given(st.integers(0, 2**32), st.sampled_from([2, 5, 20, 30]))
def test_the_same_seed_gives_the_same_schedule(seed, minutes):
    assert schedule(seed, minutes) == schedule(seed, minutes)


def test_different_seeds_give_different_schedules():
    assert schedule(1, 20) != schedule(2, 20)


@given(st.integers(0, 2**32))
def test_twenty_minutes_do_every_kind_twice_two_minutes_once(seed):
    assert Counter(f.kind for f in schedule(seed, 20)) == dict.fromkeys(KINDS, 2)
    assert Counter(f.kind for f in schedule(seed, 2)) == dict.fromkeys(KINDS, 1)


@given(st.integers(0, 2**32), st.sampled_from([2, 20]))
def test_faults_in_order_inside_the_window_pauses_past_the_timeouts(seed, minutes):
    faults = schedule(seed, minutes)
    assert [f.at for f in faults] == sorted(f.at for f in faults)
    assert all(0 < f.at < minutes * 60 for f in faults)
    assert all(PAUSE_SECONDS[0] <= f.outage for f in faults if f.kind == "pause")
