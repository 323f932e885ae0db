"""A service's recurring jobs, run by its process's scheduler (or by the embedded runtime's sweep)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta


@dataclass
class Timer:
    """A job run every ``every``, and once at start-up (deadlines missed while down)."""

    job: Callable[[], int | None]  # what it did, counted (the embedded sweep adds them up)
    every: timedelta
