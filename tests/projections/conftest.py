"""What the MongoDB views' tests share."""

from __future__ import annotations

import pytest


@pytest.fixture
def views_db(mongo_db, endpoints):
    """The test's database through the projector's own client settings (tz-aware)."""
    from projections.mongo_store import connect

    client = connect(endpoints.mongo_url)
    yield client[mongo_db.name]
    client.close()
