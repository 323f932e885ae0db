"""Small rules every view follows."""

from __future__ import annotations

from datetime import datetime


def ms(moment: datetime | None) -> datetime | None:
    """Times to the millisecond, as MongoDB stores them: a view must read the same
    whether it was folded in memory or round-tripped through the database."""
    if moment is None:
        return None
    micro = moment.microsecond
    return moment if micro % 1000 == 0 else moment.replace(microsecond=micro - micro % 1000)
