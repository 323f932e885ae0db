"""``python -m bench --durable``: the cluster is made durable for a run, then put back."""

from __future__ import annotations

import pytest

from bench.durability import DURABLE_NOTE, current, durable, found_note
from bench.limits import settings

pytestmark = pytest.mark.infra


def test_a_durable_run_turns_fsync_on_and_puts_the_cluster_back(postgres_server):
    s = settings()
    before = current(s)
    with durable(s, on=True) as note:
        assert note == DURABLE_NOTE
        assert current(s) == {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
    assert current(s) == before
    with durable(s, on=False) as note:  # the default: nothing touched
        assert note == found_note(before) and current(s) == before


def test_the_cluster_is_put_back_when_the_run_fails(postgres_server):
    s = settings()
    before = current(s)
    with pytest.raises(RuntimeError), durable(s, on=True):
        raise RuntimeError("the run died")
    assert current(s) == before
