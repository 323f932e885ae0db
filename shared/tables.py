"""Creating a service's tables when several instances start at once."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from eventsourcing.persistence import IntegrityError, InternalError, ProgrammingError

TRIES = 5


def racing_to_create_tables(construct: Callable[[], None], tries: int = TRIES) -> None:
    """Run ``construct`` (an application's constructor, which creates its tables if
    missing) until it wins. Instances of a service started together race to create its
    tables, and PostgreSQL's CREATE TABLE IF NOT EXISTS does not wait for a concurrent
    one: the loser fails ("already exists", a unique violation on pg_type, "tuple
    concurrently updated"). A later try finds the tables made."""
    for attempt in range(1, tries + 1):
        try:
            construct()
            return
        except (IntegrityError, ProgrammingError, InternalError):
            if attempt == tries:
                raise
            time.sleep(random.uniform(0.05, 0.3) * attempt)
