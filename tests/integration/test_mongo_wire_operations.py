"""pymongo on the MongoDB-wire server: the operations the query views rely on."""

from __future__ import annotations

import pymongo
import pytest
from pymongo.errors import DuplicateKeyError

pytestmark = pytest.mark.infra


def test_upsert_find_sort(mongo_db) -> None:
    seats = mongo_db["seat_map"]
    for seat, state in [("B2", "held"), ("A1", "sold"), ("A2", "free")]:
        seats.update_one({"_id": seat}, {"$set": {"state": state, "show": "s1"}}, upsert=True)
    # Replaying an event must be harmless: an idempotent upsert changes nothing.
    result = seats.update_one({"_id": "A1"}, {"$set": {"state": "sold", "show": "s1"}}, upsert=True)
    assert result.upserted_id is None and result.modified_count == 0

    assert seats.count_documents({"show": "s1"}) == 3
    ordered = list(seats.find({"show": "s1"}, {"state": 1}).sort("_id", pymongo.ASCENDING))
    assert ordered == [{"_id": "A1", "state": "sold"}, {"_id": "A2", "state": "free"},
                       {"_id": "B2", "state": "held"}]
    by_state = [d["_id"] for d in seats.find().sort([("state", 1), ("_id", -1)])]
    assert by_state == ["A2", "B2", "A1"]


def test_unique_index_rejects_duplicate(mongo_db) -> None:
    bookings = mongo_db["bookings"]
    bookings.create_index([("reference", pymongo.ASCENDING)], unique=True, name="by_reference")
    bookings.insert_one({"reference": "CS-1", "seats": 2})
    with pytest.raises(DuplicateKeyError):
        bookings.insert_one({"reference": "CS-1", "seats": 3})
    assert [d["seats"] for d in bookings.find({"reference": "CS-1"})] == [2]
    assert "by_reference" in bookings.index_information()
