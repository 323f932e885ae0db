"""Small rules every view follows."""

from __future__ import annotations

from datetime import UTC, datetime


def ms(moment: datetime | None) -> datetime | None:
    """Times to the millisecond, as MongoDB stores them: a view must read the same
    whether it was folded in memory or round-tripped through the database."""
    if moment is None:
        return None
    micro = moment.microsecond
    return moment if micro % 1000 == 0 else moment.replace(microsecond=micro - micro % 1000)


def utc_text(moment: datetime) -> str:
    """A UTC time as the catalogue keeps it: ISO 8601 to the second, ``Z`` for UTC
    ("2026-05-01T18:30:00Z"), so that it is plain JSON and sorts as text in time order."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def fold_case(text: str) -> str:
    """How names are matched and sorted regardless of case (cities, theatres, film titles)."""
    return text.strip().casefold()
