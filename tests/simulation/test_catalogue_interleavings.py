"""The catalogue comes out the same whatever the interleaving of theatre's and
inventory's streams (each in its own order, as the projector reads them), however the
events are cut into batches, and with any events folded again (a replay): inventory
may open a show and sell its seats before the show's scheduling is projected, or after.
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
THEATRE = cat.numbered("theatre", cat.theatre_stream())
INVENTORY = cat.numbered("inventory", cat.inventory_stream([e for _, _, e in THEATRE]))
CATALOGUE = [v for v in VIEWS if v.startswith("catalogue_")]


def documents(views: InMemoryViewStore) -> dict:
    return {v: {k: {f: x for f, x in d.items() if f != "_rev"} for k, d in views.docs[v].items()}
            for v in CATALOGUE}


def answers(views: InMemoryViewStore) -> list:
    q = InMemoryQueries(views)
    shows = q.shows(include_cancelled=True, limit=100)
    return [shows, [q.show(s["show_id"]) for s in shows], q.theatres(limit=100)]


def in_order() -> InMemoryViewStore:
    views = InMemoryViewStore()
    project(views, THEATRE)
    project(views, INVENTORY)
    return views


EXPECTED = in_order()


def interleaved(rng: random.Random) -> list:
    """Both streams merged at random, each kept in its order."""
    theatre, inventory, out = list(THEATRE), list(INVENTORY), []
    while theatre or inventory:
        source = theatre if (theatre and (not inventory or rng.random() < 0.5)) else inventory
        out.append(source.pop(0))
    return out


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(rng=st.randoms(use_true_random=False))
def test_any_interleaving_and_batching_folds_to_the_same_catalogue(rng: random.Random) -> None:
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


def test_inventory_first_or_theatre_first_gives_the_same_show() -> None:
    inventory_first = InMemoryViewStore()
    project(inventory_first, INVENTORY)
    project(inventory_first, THEATRE)
    assert documents(inventory_first) == documents(EXPECTED)
    one_batch = InMemoryViewStore()
    project(one_batch, INVENTORY + THEATRE)  # a show scheduled in the batch that registers
    assert documents(one_batch) == documents(EXPECTED)  # its theatre: the join sees it


def test_only_a_batch_that_schedules_a_show_is_folded_in_two_waves() -> None:
    from projections.projector import _waves

    assert len(_waves(INVENTORY)) == 1
    assert len(_waves(THEATRE)) == 2
    assert [name for name, *_ in _waves(THEATRE)[1]] == ["catalogue_shows"]
