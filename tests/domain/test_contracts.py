from datetime import UTC, datetime
from uuid import uuid4

import pytest

from shared import contracts as c

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def sample() -> c.SeatsReserved:
    return c.SeatsReserved(
        event_id="inventory/x/2", occurred_at=NOW, show_id="s1", booking_id=uuid4(),
        seat_ids=["A1"], amount=1000, currency="EUR", reserved_until=NOW,
    )


def test_round_trip_carries_a_versioned_tag():
    data = c.encode(sample())
    assert b'"type":"SeatsReserved.v1"' in data
    assert c.decode(data) == c.decode(c.encode(c.decode(data)))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: s.replace(b'"amount":1000', b'"amount":1000,"extra":1'), "unknown field"),
        (lambda s: s.replace(b'"amount":1000', b'"amount":"1000"'), "Expected `int`"),
        (lambda s: s.replace(b'"amount":1000,', b""), "missing required field"),
        (lambda s: s.replace(b"SeatsReserved.v1", b"SeatsReserved.v9"), "Invalid value"),
        (lambda s: s[:20], "not JSON"),
        (lambda s: None, "no value"),  # a Kafka record without a value
    ],
)
def test_decoding_is_strict(mutate, message):
    with pytest.raises(c.ContractError, match=message):
        c.decode(mutate(c.encode(sample())))


def test_every_contract_has_its_partition_key():
    """A show's events are keyed by the show, a theatre's own by the theatre: each kind
    is delivered in order."""
    for cls in c.AnyPublicEvent.__args__:
        assert issubclass(cls, c.ShowEvent | c.TheatreEvent), cls
        field = "show_id" if issubclass(cls, c.ShowEvent) else "theatre_id"
        assert field in cls.__struct_fields__
    assert sample().key == sample().show_id
