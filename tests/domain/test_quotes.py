"""Quotes (shared/quotes.py): made and read back with the services' clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared import quotes

SECRET = "test-secret"


def test_a_quote_is_read_by_the_given_clock_not_this_machines():
    # Made by a clock ahead of this machine's (another host's, skewed; or a simulated one).
    ahead = datetime.now(UTC) + timedelta(hours=1)
    _, token = quotes.make("s1", ["A1"], 900, "EUR", 1, ahead, SECRET)
    assert quotes.read(token, SECRET, ahead).amount == 900
    with pytest.raises(quotes.QuoteExpired):
        quotes.read(token, SECRET, ahead + quotes.QUOTE_FOR)


def test_an_altered_quote_is_refused():
    now = datetime.now(UTC)
    _, token = quotes.make("s1", ["A1"], 900, "EUR", 1, now, SECRET)
    with pytest.raises(quotes.InvalidQuote):
        quotes.read(token[:-4] + "AAAA", SECRET, now)
    with pytest.raises(quotes.InvalidQuote):
        quotes.read(token, "another-secret", now)
