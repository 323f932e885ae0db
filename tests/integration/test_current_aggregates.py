"""Several aggregates as stored now, in one read (shared/aggregate_cache.py,
``find_all_current``): a cached copy still at its latest stored version is used as it is,
one another writer has moved on is read again, on the real PostgreSQL."""

from __future__ import annotations

import pytest

from notifications.application import NotificationService
from notifications.contact import ContactDetails
from shared import ids
from shared.recorder import TOPIC

pytestmark = pytest.mark.infra


def details(email: str) -> ContactDetails:
    return ContactDetails.checked(email, "en", [], {}, True, NotificationService.kinds())


def test_cached_copies_still_the_latest_are_kept_and_the_others_read_again(pg_database) -> None:
    env = {**pg_database.eventsourcing_env(), "PROCESS_RECORDER_TOPIC": TOPIC,
           "AGGREGATE_CACHE_MAXSIZE": "100"}
    one, other = NotificationService(env=env), NotificationService(env=env)
    try:
        assert one.recorder.max_versions([]) == {}
        for customer in ("ann", "bob"):
            one.set_contact(customer, details(f"{customer}@one.example"))  # cached by one
        other.set_contact("ann", details("ann@other.example"))  # moved on elsewhere
        ann, bob, nobody = (ids.contact_id(c) for c in ("ann", "bob", "nobody"))
        assert one.recorder.max_versions([ann, bob, nobody]) == {ann: 3, bob: 2}
        with one.writing():
            cached_bob = one.find(bob)
            found = one.find_all_current([ann, bob, nobody, bob])
            assert found[bob] is cached_bob  # still the latest: not read again
        assert found[ann].email == "ann@other.example" and found[ann].version == 3
        assert found[nobody] is None and list(found) == [ann, bob, nobody]
        other.set_contact("bob", details("bob@other.example"))
        with one.writing():
            assert one.find_latest(bob).email == "bob@other.example"
            assert one.find_latest(nobody) is None
    finally:
        one.close()
        other.close()
