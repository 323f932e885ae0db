"""Theatre service: the catalogue's source of truth. Operators register theatres, lay
out screens and schedule shows; theatre reacts to no other service's events.

Every command is one write, decided on the aggregates as stored now (any instance may
take it) and decided again if another writer got there first: a show and its screen's
schedule are saved together, all or nothing, so no clash slips between two writers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from copy import deepcopy
from datetime import timedelta
from typing import Any, ClassVar, Generic, NamedTuple, TypeVar

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import ProcessRecorder
from eventsourcing.utils import EnvType

from shared import contracts as c
from shared import ids
from shared.clock import Clock
from shared.service import ServiceApplication
from theatre.domain import (
    ConflictingRepeat,
    InvalidShow,
    Screen,
    ScreenSchedule,
    Show,
    ShowPlan,
    Theatre,
    seat_layout,
    show_time,
)
from theatre.publishing import to_public

DEFAULT_CLEANING_GAP = timedelta(minutes=20)
T = TypeVar("T")


class TheatreNotFound(LookupError):
    pass


class ScreenNotFound(LookupError):
    pass


class ShowNotFound(LookupError):
    pass


class Outcome(NamedTuple, Generic[T]):
    """What a command made or found (a copy: the cached objects stay with the writers)."""
    result: T
    created: bool  # whether it made something new (False: a change, or nothing at all)
    position: int | None  # its write's place in theatre's event sequence; None: no write


class Scheduled(NamedTuple):
    shows: list[Show]  # in the order asked for
    new: list[str]  # the ids of those scheduled now (the others were before, as asked)


class TheatreService(ServiceApplication):
    service = "theatre"
    # Every show of a screen ever scheduled is an event of its schedule.
    snapshotting_intervals: ClassVar = {ScreenSchedule: 100}

    def __init__(self, env: EnvType | None = None, clock: Clock | None = None,
                 recorder: ProcessRecorder | None = None,
                 cleaning_gap: timedelta = DEFAULT_CLEANING_GAP) -> None:
        if cleaning_gap < timedelta(0):
            raise ValueError(f"the cleaning gap cannot be negative: {cleaning_gap}")
        super().__init__(env, clock, recorder)
        self.cleaning_gap = cleaning_gap

    def to_public(self, domain_event: Any) -> c.PublicEvent | None:
        return to_public(domain_event)

    # --- theatres and screens ----------------------------------------------------

    def register_theatre(self, theatre_id: str, name: str, city: str, address: str,
                         time_zone: str) -> Outcome[Theatre]:
        """Register a theatre; the same registration again changes nothing."""
        def decide() -> tuple[Theatre, bool, list[Aggregate]]:
            theatre = self.find_current(ids.theatre_id(theatre_id))
            if theatre is not None:
                theatre.check_same(name, city, address, time_zone)
                return theatre, False, []
            theatre = Theatre.register(theatre_id, name, city, address, time_zone,
                                       self.clock.now())
            return theatre, True, [theatre]
        return self._write(decide)

    def lay_out_screen(self, theatre_id: str, screen_id: str, name: str,
                       rows: Sequence[dict[str, Any]]) -> Outcome[Screen]:
        """Add a screen, or give it a new layout version; the current layout again
        changes nothing. Shows keep the version they were scheduled with."""
        seats = seat_layout(rows)

        def decide() -> tuple[Screen, bool, list[Aggregate]]:
            self._theatre(theatre_id)
            screen = self.find_current(ids.screen_id(theatre_id, screen_id))
            if screen is None:
                screen = Screen.add(theatre_id, screen_id, name, seats, self.clock.now())
                return screen, True, [screen]
            changed = screen.lay_out(name, seats, self.clock.now())
            return screen, False, [screen] if changed else []
        return self._write(decide)

    # --- shows ---------------------------------------------------------------------

    def schedule_show(self, plan: ShowPlan) -> Outcome[Show]:
        """Schedule one show: the same request again changes nothing."""
        done = self.schedule_shows(plan.theatre_id, [plan])
        return Outcome(done.result.shows[0], done.created, done.position)

    def schedule_shows(self, theatre_id: str, plans: Sequence[ShowPlan]) -> Outcome[Scheduled]:
        """Schedule a programme of shows, all or none: each is checked, against the
        shows on record and the others of the programme, before anything is written,
        and then all are written at once. Shows scheduled before as asked are left as
        they are; ``created`` says whether any is new."""
        if any(p.theatre_id != theatre_id for p in plans):
            raise InvalidShow(f"a programme schedules shows of one theatre, {theatre_id}")
        repeated = sorted(s for s, n in Counter(p.show_id for p in plans).items() if n > 1)
        if repeated:
            raise InvalidShow(f"shows {', '.join(repeated)} appear more than once")

        def decide() -> tuple[Scheduled, bool, list[Aggregate]]:
            now = self.clock.now()
            theatre = self._theatre(theatre_id)
            screens: dict[str, Screen] = {}
            schedules: dict[str, ScreenSchedule] = {}  # each read once: it takes every show
            shows, new = [], []
            for plan in plans:
                time = show_time(plan.show_id, plan.start, theatre.time_zone)
                show = self.find_current(ids.show_id(plan.show_id))
                if show is not None:
                    if not show.is_plan(plan, time):
                        raise ConflictingRepeat(
                            f"show {plan.show_id} is scheduled otherwise (theatre "
                            f"{show.theatre_id}, screen {show.screen_id}, {show.film['title']!r}"
                            f", starting {show.local_start}); reschedule or cancel it instead")
                    shows.append(show)
                    continue
                if plan.screen_id not in screens:
                    screens[plan.screen_id] = self._screen(plan)
                    schedules[plan.screen_id] = self._schedule(theatre_id, plan.screen_id)
                show = Show.schedule(plan, screens[plan.screen_id], time, now)
                schedules[plan.screen_id].take(show, self.cleaning_gap)
                shows.append(show)
                new.append(show)
            scheduled = Scheduled(shows, [show.show_id for show in new])
            return scheduled, bool(new), [*schedules.values(), *new]
        return self._write(decide)

    def reschedule_show(self, show_id: str, start: str) -> Outcome[Show]:
        """Move a show to a new local start on its screen; its old slot is its own."""
        def decide() -> tuple[Show, bool, list[Aggregate]]:
            show = self._show(show_id)
            theatre = self._theatre(show.theatre_id)
            if not show.reschedule(show_time(show_id, start, theatre.time_zone),
                                   self.clock.now()):
                return show, False, []
            schedule = self._schedule(show.theatre_id, show.screen_id)
            schedule.move(show, self.cleaning_gap)
            return show, False, [schedule, show]
        return self._write(decide)

    def cancel_show(self, show_id: str, reason: str) -> Outcome[Show]:
        """Cancel a show for good and free its slot; cancelling again changes nothing."""
        def decide() -> tuple[Show, bool, list[Aggregate]]:
            show = self._show(show_id)
            if not show.cancel(reason, self.clock.now()):
                return show, False, []
            schedule = self._schedule(show.theatre_id, show.screen_id)
            schedule.free(show_id)
            return show, False, [schedule, show]
        return self._write(decide)

    def withdraw_seats(self, show_id: str, seat_ids: list[str], reason: str) -> Outcome[Show]:
        """Take broken seats out of a show's sale; seats withdrawn before are left be."""
        def decide() -> tuple[Show, bool, list[Aggregate]]:
            show = self._show(show_id)
            withdrawn = show.withdraw_seats(seat_ids, reason, self.clock.now())
            return show, False, [show] if withdrawn else []
        return self._write(decide)

    def get_show(self, show_id: str) -> Show:
        """The show as stored now: another instance may have changed it since this one
        last read it (a copy, for the caller to keep)."""
        with self.writing():
            return deepcopy(self._show(show_id))

    # --- reading and writing -------------------------------------------------------

    def _theatre(self, theatre_id: str) -> Theatre:
        theatre = self.find_current(ids.theatre_id(theatre_id))
        if theatre is None:
            raise TheatreNotFound(theatre_id)
        return theatre

    def _screen(self, plan: ShowPlan) -> Screen:
        screen = self.find_current(ids.screen_id(plan.theatre_id, plan.screen_id))
        if screen is None:
            raise ScreenNotFound(f"show {plan.show_id}: theatre {plan.theatre_id} has no "
                                 f"screen {plan.screen_id}; lay it out first")
        return screen

    def _schedule(self, theatre_id: str, screen_id: str) -> ScreenSchedule:
        found = self.find_current(ids.screen_schedule_id(theatre_id, screen_id))
        return found or ScreenSchedule(theatre_id=theatre_id, screen_id=screen_id)

    def _show(self, show_id: str) -> Show:
        show = self.find_current(ids.show_id(show_id))
        if show is None:
            raise ShowNotFound(show_id)
        return show

    def _write(self, decide: Callable[[], tuple[T, bool, list[Aggregate]]]) -> Outcome[T]:
        """A command's write (ServiceApplication.write), and whether it made something."""
        def deciding() -> tuple[tuple[T, bool], list[Aggregate]]:
            result, created, changed = decide()
            return (result, created), changed
        (result, created), position = self.write(deciding)
        return Outcome(result, created, position)
