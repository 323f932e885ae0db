"""The catalogue and the seat maps come out the same whatever the interleaving of
theatre's, inventory's and pricing's streams (each in its own order, as the projector
reads them), however the events are cut into batches, and with any events folded again
(a replay): inventory may open a show and sell its seats before the show's scheduling is
projected, or after; pricing's versions may come before the show is scheduled or opened,
inventory's demand uplifts before or after the version they are for.
"""

from __future__ import annotations

import os
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.projector import VIEWS, InMemoryViewStore, project
from projections.queries import InMemoryQueries
from tests.support import catalogue as cat

EXAMPLES = {"dev": 50, "ci": 300, "long": 3_000}[os.environ.get("HYPOTHESIS_PROFILE", "ci")]
_THEATRE_EVENTS = cat.theatre_stream()
THEATRE = cat.numbered("theatre", _THEATRE_EVENTS)
INVENTORY = cat.numbered("inventory", cat.inventory_stream(_THEATRE_EVENTS))
PRICING = cat.numbered("pricing", cat.pricing_stream(_THEATRE_EVENTS))
STREAMS = (THEATRE, INVENTORY, PRICING)
FOLDED = [v for v in VIEWS if v.startswith("catalogue_")] + ["seat_maps"]


def documents(views: InMemoryViewStore) -> dict:
    return {v: {k: {f: x for f, x in d.items() if f != "_rev"} for k, d in views.docs[v].items()}
            for v in FOLDED}


def answers(views: InMemoryViewStore) -> list:
    q = InMemoryQueries(views)
    shows = q.shows(include_cancelled=True, limit=100)
    seat_maps = [q.seat_map(s["show_id"]) for s in shows]
    return [shows, [q.show(s["show_id"]) for s in shows], q.theatres(limit=100),
            [{f: x for f, x in d.items() if f != "_rev"} for d in seat_maps if d is not None]]


def in_order() -> InMemoryViewStore:
    views = InMemoryViewStore()
    for stream in STREAMS:
        project(views, stream)
    return views


EXPECTED = in_order()


def interleaved(rng: random.Random) -> list:
    """The streams merged at random, each kept in its order."""
    streams, out = [list(s) for s in STREAMS], []
    while any(streams):
        source = rng.choice([s for s in streams if s])
        out.append(source.pop(0))
    return out


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(rng=st.randoms(use_true_random=False))
def test_any_interleaving_and_batching_folds_to_the_same_views(rng: random.Random) -> None:
    events, views, i = interleaved(rng), InMemoryViewStore(), 0
    while i < len(events):
        n = rng.randint(1, 8)
        project(views, events[i : i + n])
        if rng.random() < 0.2:  # a replay of what came before: changes nothing
            j = rng.randint(0, i + n)
            project(views, events[j : j + rng.randint(1, 5)])
        i += n
    assert documents(views) == documents(EXPECTED)
    assert answers(views) == answers(EXPECTED)


def test_each_stream_first_gives_the_same_views() -> None:
    for first in STREAMS:
        views = InMemoryViewStore()
        project(views, first)
        for stream in STREAMS:
            if stream is not first:
                project(views, stream)
        assert documents(views) == documents(EXPECTED), first[0][0]
    reversed_order = InMemoryViewStore()
    for stream in reversed(STREAMS):  # pricing, inventory, theatre
        project(reversed_order, stream)
    assert documents(reversed_order) == documents(EXPECTED)
    one_batch = InMemoryViewStore()
    project(one_batch, INVENTORY + PRICING + THEATRE)  # a show scheduled in the batch that
    assert documents(one_batch) == documents(EXPECTED)  # registers its theatre: the join sees it


def test_the_views_show_the_latest_version_with_its_uplifts() -> None:
    """What the interleavings agree on is the prices a hold now costs (not the list
    prices, not version 2's, not a redelivered version's)."""
    q = InMemoryQueries(EXPECTED)
    seat_map = q.seat_map("dune-odeon-eve")
    assert seat_map is not None and seat_map["price_version"] == 3
    assert seat_map["prices"] == {"Premium": {"price": 1500, "base": 1500, "uplift_percent": 0},
                                  "Regular": {"price": 1200, "base": 1010, "uplift_percent": 20}}
    assert {s["price"] for s in seat_map["seats"].values() if s["category"] == "Regular"} == {1200}
    show = q.show("dune-odeon-eve")
    assert show is not None
    assert (show["prices"], show["price_version"]) == ({"Regular": 1200, "Premium": 1500}, 3)
    heat = q.show("heat-vue-eve")
    assert heat is not None and heat["prices"] == {"Regular": 900, "Premium": 1200}


def test_only_a_batch_that_schedules_a_show_is_folded_in_two_waves() -> None:
    from projections.projector import _waves

    assert len(_waves(INVENTORY)) == 1
    assert len(_waves(PRICING)) == 1
    assert len(_waves(THEATRE)) == 2
    assert [name for name, *_ in _waves(THEATRE)[1]] == ["catalogue_shows"]
