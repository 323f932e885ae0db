"""The mapper micro-benchmark runs on the embedded runtime: no servers needed."""

from __future__ import annotations

from bench import mapper


def test_it_measures_every_service_on_the_events_of_confirmed_bookings():
    rows = mapper.measure(bookings=4, passes=1)
    assert [r["service"] for r in rows] == ["booking", "inventory", "payment"]
    # A confirmed first-try booking: four events in booking, five in payment (its intent
    # recorded before its success), two in inventory (held, booked) besides the show's
    # opening.
    assert rows[0]["events"] == 16 and rows[2]["events"] == 20
    assert all(r["encode_us"] > 0 and r["msgspec_decode_us"] > 0 for r in rows)
    assert "mapper CPU per confirmed booking" in mapper.report(rows, 4)
