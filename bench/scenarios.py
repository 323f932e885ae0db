"""The scenarios: ``steady`` (open-loop arrivals, one row per rate) and ``flash-sale``.

Latencies come from two places: the event store (the time of the booking's
``SeatsHeld``/``Confirmed``/``Cancelled`` event minus the time the customer sent the
POST, same machine, same clock: exact and free for every booking) and the
customers who poll (what a client sees through the API, at the poll's resolution).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

from bench.driver import DECLINED, VISA, Driver, HttpStats, Trace
from bench.procstats import Sampler, all_processes, top_others
from bench.projection import projection_lag
from bench.report import dist_ms
from bench.system import SAGA, Probe, infra_pids
from booking.application import BookingService
from inventory.application import InventoryService
from payment.application import PaymentService
from shared.service import ServiceApplication
from shared.services import PROJECTED
from tests.e2e.harness import Distributed

SEATS_PER_BOOKING = ([1, 2, 3, 4], [0.4, 0.3, 0.2, 0.1])
# Events by the last part of their stored topic (``SeatsHeld``: the SeatsReserved event).
SERVER_EVENTS = ("Requested", "SeatsHeld", "Confirmed", "Cancelled")


@dataclass
class SteadyParams:
    duration: float = 20.0
    shows: int = 200
    seats: int = 100
    zipf: float = 1.0  # show k of n is chosen with weight 1/k**zipf (0: uniform)
    fail_rate: float = 0.1  # customers paying with a declined card
    retry_rate: float = 0.5  # of those, the share that retry with a good card
    follow: float = 1.0  # share of customers who poll their booking (retriers always do)
    customers: int = 1000  # distinct customer identities (tokens)
    max_outstanding: int = 5000  # arrivals beyond this many unfinished customers are dropped
    drain_timeout: float = 60.0
    seed: int = 6
    # Shows scheduled through the theatre (so pricing prices them, where the system has
    # it) rather than opened with inventory's PUT; the wait for them is not measured.
    through_theatre: bool = False
    quote: bool = False  # customers book with a quote from pricing, where the system has it


class ShowPicker:
    """Zipf-skewed choice of a show with enough seats the driver has not handed out yet
    (customers pick from the seat map, so steady bookings do not collide)."""

    def __init__(self, shows: dict[str, int], zipf: float, rng: random.Random) -> None:
        self.rng = rng
        self.order = list(shows)
        self.free = {s: rng.sample([f"A{i}" for i in range(1, n + 1)], n) for s, n in shows.items()}
        weights = [1 / (k ** zipf) for k in range(1, len(self.order) + 1)]
        self.cum = [sum(weights[: i + 1]) for i in range(len(weights))]

    def pick(self, n: int) -> tuple[str, list[str]] | None:
        for _ in range(8):
            show = self.order[bisect.bisect(self.cum, self.rng.random() * self.cum[-1])]
            if len(self.free[show]) >= n:
                return show, [self.free[show].pop() for _ in range(n)]
        for show in self.order:  # the popular ones are sold out: any show with room
            if len(self.free[show]) >= n:
                return show, [self.free[show].pop() for _ in range(n)]
        return None


class Backlogs:
    """Samples each service's outbox and inbox backlog every second, in a thread."""

    def __init__(self, system: Distributed, interval: float = 1.0) -> None:
        self.system, self.interval = system, interval
        self.samples: list[tuple[float, dict]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="backlogs", daemon=True)

    def _run(self) -> None:
        probe = Probe(self.system)
        try:
            while not self._stop.wait(self.interval):
                try:
                    self.samples.append((time.monotonic(), probe.backlogs()))
                except Exception:
                    pass
        finally:
            probe.close()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def summary(self, start: float, end: float) -> tuple[dict, dict]:
        """(max during [start, end], last sample at or before end) per service."""
        inside = [b for t, b in self.samples if start <= t <= end + self.interval]
        peak = {s: {k: max(b[s][k] for b in inside) for k in ("outbox", "inbox")}
                for s in SAGA} if inside else {}
        return peak, (inside[-1] if inside else {})


def booking_timeline(app: BookingService, after_id: int) -> dict[str, dict]:
    """booking id -> {event name: time.time() of its first such event, 'reason': ...}
    for the booking events recorded after ``after_id``."""
    out: dict[str, dict] = {}
    start = after_id + 1
    for _ in range(100_000):  # bounded: pages of 2,000
        page = app.recorder.select_notifications(start=start, limit=2000)
        for n in page:
            kind = n.topic.rsplit(".", 1)[1]
            if kind not in SERVER_EVENTS:
                continue
            e: Any = app.mapper.to_domain_event(n)  # one of Booking's SERVER_EVENTS
            rec = out.setdefault(str(n.originator_id), {})
            rec.setdefault(kind, e.timestamp.timestamp())
            if kind == "Cancelled":
                rec["reason"] = str(e.reason)
            elif kind == "SeatsHeld":
                rec["reserved_until"] = e.reserved_until.timestamp()
        if len(page) < 2000:
            break
        start = page[-1].id + 1
    return out


HOP_EVENTS = {
    "inventory": ("SeatsHeld", "SeatsBooked"),
    "payment": ("AttemptSucceeded",),
}


def service_timeline(app: ServiceApplication, service: str, after_id: int) -> dict[str, dict]:
    """booking id -> {"<service>.<event>": time} for inventory's holds and bookings and
    payment's successful charges recorded after ``after_id``."""
    out: dict[str, dict] = {}
    wanted = HOP_EVENTS[service]
    start = after_id + 1
    for _ in range(100_000):
        page = app.recorder.select_notifications(start=start, limit=2000)
        for n in page:
            kind = n.topic.rsplit(".", 1)[1]
            if kind in wanted:
                e: Any = app.mapper.to_domain_event(n)  # one of HOP_EVENTS
                out.setdefault(str(e.booking_id), {}).setdefault(
                    f"{service}.{kind}", e.timestamp.timestamp())
        if len(page) < 2000:
            break
        start = page[-1].id + 1
    return out


# Each hop: the event that causes it, the event it causes, what lies between.
HOPS = (
    ("booking.Requested", "inventory.SeatsHeld", "booking -> inventory: hold decided"),
    ("inventory.SeatsHeld", "booking.SeatsHeld", "inventory -> booking: hold visible"),
    ("inventory.SeatsHeld", "payment.AttemptSucceeded", "inventory -> payment: charged"),
    ("payment.AttemptSucceeded", "inventory.SeatsBooked", "payment -> inventory: seats booked"),
    ("inventory.SeatsBooked", "booking.Confirmed", "inventory -> booking: confirmed"),
)


def hops(booking_tl: dict, inventory_tl: dict, payment_tl: dict, ids: list[str]) -> dict:
    """Per hop of the saga, its latency distribution over the given bookings (each hop
    is: the source's outbox relay, Kafka, the target's inbox consumer, its write)."""
    out = {}
    for src, dst, name in HOPS:
        values = []
        for b in ids:
            rec = {**{f"booking.{k}": v for k, v in booking_tl.get(b, {}).items()},
                   **inventory_tl.get(b, {}), **payment_tl.get(b, {})}
            if src in rec and dst in rec:
                values.append(rec[dst] - rec[src])
        out[name] = dist_ms(values)
    return out


async def wait_settled(probe: Probe, after_id: int, expected: int, timeout: float) -> float:
    """Wait until every booking requested after ``after_id`` is final; return the time
    it took (or the timeout). ``expected``: how many the driver believes it created."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        o = probe.booking_outcomes(after_id)
        done = o.get("Confirmed", 0) + o.get("Cancelled", 0)
        if o.get("Requested", 0) >= expected and done >= o.get("Requested", 0):
            break
        await asyncio.sleep(0.05)
    return time.monotonic() - start


def pg_window(before: dict, after: dict, rows_before: dict, rows_after: dict,
              seconds: float) -> dict:
    """Per service database over the window: transactions (pg_stat_database, read-only
    ones included), events inserted, tracking records written (inbox messages and relay
    positions: each is one write transaction of the service's single writer)."""
    commits = {s: after[s] - before[s] for s in before}
    rows = {s: {k: rows_after[s][k] - rows_before[s][k] for k in rows_before[s]}
            for s in rows_before}
    return {
        "commits": commits,
        "commits_per_s": {s: round(n / seconds, 1) for s, n in commits.items()},
        "events_per_s": {s: round(r["events"] / seconds, 1) for s, r in rows.items()},
        "tracking_writes": {s: r["tracking"] for s, r in rows.items()},
        "tracking_writes_per_s": {s: round(r["tracking"] / seconds, 1) for s, r in rows.items()},
    }


# --- steady -----------------------------------------------------------------------------


def analysis_apps(system: Distributed) -> dict:
    """Read-only handles on each service's store, to fetch event times after a run."""
    s = system.local.settings
    env = lambda svc: s.postgres_env(s.service_db(svc))
    return {"booking": BookingService(env=env("booking")),
            "inventory": InventoryService(env=env("inventory")),
            "payment": PaymentService(env=env("payment"))}


def timelines(apps: dict, after: dict[str, int]) -> tuple[dict, dict, dict]:
    return (booking_timeline(apps["booking"], after["booking"]),
            service_timeline(apps["inventory"], "inventory", after["inventory"]),
            service_timeline(apps["payment"], "payment", after["payment"]))


async def steady_step(system: Distributed, driver: Driver, sampler: Sampler, apps: dict,
                      rate: float, p: SteadyParams, step: int) -> dict:
    rng = random.Random(p.seed * 1000 + step)
    # Lower case, digits and dashes: the theatre's show ids.
    shows = {f"st{step}-{uuid.uuid4().hex[:6]}-{i}": p.seats for i in range(p.shows)}
    quiet = None
    if p.through_theatre:
        await driver.schedule_shows(f"step{step}", list(shows), p.seats)
        # What scheduling set off (inventory repricing, the catalogue's folds) is done
        # before the window opens, so it is not counted as the bookings' cost.
        quiet = await asyncio.to_thread(wait_quiet, system, p.drain_timeout)
    else:
        await driver.open_shows(shows)
    quote = p.quote and driver.pricing  # a system without pricing: booked unquoted
    picker = ShowPicker(shows, p.zipf, rng)
    probe = Probe(system)
    driver.http = HttpStats()
    traces: list[Trace] = []
    tasks: set[asyncio.Task] = set()
    lags: list[float] = []
    dropped = sold_out = 0
    try:
        start_id = probe.max_event_id("booking")
        commits0, rows0 = probe.commits(), probe.rows_written()
        events0 = {s: probe.max_event_id(s) for s in SAGA}
        servers0 = infra_pids(system)
        with Backlogs(system) as backlogs:
            procs0 = all_processes()
            t0, wall0 = time.monotonic(), time.time()
            next_at = t0
            for _ in range(int(rate * p.duration * 3) + 10):  # bounded; ends by time below
                next_at += rng.expovariate(rate)
                if next_at - t0 >= p.duration:
                    break
                delay = next_at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                lags.append(time.monotonic() - next_at)
                if len(tasks) >= p.max_outstanding:
                    dropped += 1
                    continue
                n = rng.choices(*SEATS_PER_BOOKING)[0]
                choice = picker.pick(n)
                if choice is None:
                    sold_out += 1
                    continue
                declined = rng.random() < p.fail_rate
                retries = declined and rng.random() < p.retry_rate
                t = Trace(
                    customer=f"c{rng.randrange(p.customers)}", key=uuid.UUID(int=rng.getrandbits(128)).hex,
                    show=choice[0], seats=choice[1], method=DECLINED if declined else VISA,
                    retries=retries, followed=retries or rng.random() < p.follow, quote=quote,
                )
                traces.append(t)
                task = asyncio.create_task(driver.customer(t))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            t1 = t0 + p.duration
            await asyncio.sleep(max(t1 - time.monotonic(), 0))
            wall1 = time.time()
            others = top_others(procs0, all_processes(), sampler.pids_seen, p.duration)
            commits1, rows1 = probe.commits(), probe.rows_written()
            # Drain: every customer finishes (bounded) and the store says all are final.
            if tasks:
                await asyncio.wait(set(tasks), timeout=p.drain_timeout)
            posted = sum(1 for t in traces if t.post_status in (200, 202))
            settle_s = await wait_settled(probe, start_id, posted, p.drain_timeout)
            step_lag = await asyncio.to_thread(step_projection_lag, system, wall0, p.drain_timeout)
        for task in list(tasks):
            task.cancel()
        backlog_peak, backlog_end = backlogs.summary(t0, t1)
    finally:
        probe.close()
    booking_tl, inventory_tl, payment_tl = timelines(apps, events0)
    result = analyse_steady(
        rate, p, traces, booking_tl, wall0, wall1, lags, dropped, sold_out,
        driver.http, sampler.window(t0, t1),
        pg_window(commits0, commits1, rows0, rows1, p.duration), backlog_peak, backlog_end,
        settle_s,
    )
    servers1 = infra_pids(system)
    result["disturbed"] = [n for n in servers0 if servers0[n] != servers1[n]]
    result["projection_lag"] = step_lag
    result["quiet_before_window"] = quiet  # None: shows opened by inventory's PUT
    result["cpu"]["top_others"] = others
    first_try = [t.booking_id for t in traces if t.method == VISA]
    result["hops"] = hops(booking_tl, inventory_tl, payment_tl, first_try)
    return result


def wait_quiet(system: Distributed, timeout: float) -> bool:
    """Wait (bounded) until no service has anything left to relay or to consume and the
    views have every stream; whether that happened."""
    probe = Probe(system)
    deadline = time.monotonic() + timeout
    try:
        while any(b["outbox"] or b["inbox"] for b in probe.backlogs().values()):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
    finally:
        probe.close()
    return system.views_caught_up(PROJECTED, max(deadline - time.monotonic(), 0))


def step_projection_lag(system: Distributed, since: float, timeout: float) -> dict | None:
    """The step's commit -> view lag, once the views have caught up with every stream
    (bounded): the events of this step, projected from its start on."""
    with contextlib.suppress(Exception):  # a report without it beats a failed run
        system.views_caught_up(PROJECTED, timeout)
    return projection_lag(system, since=since)


def analyse_steady(rate: float, p: SteadyParams, traces: list[Trace], timeline: dict[str, dict],
                   wall0: float, wall1: float, lags: list[float], dropped: int, sold_out: int,
                   http: HttpStats, cpu: dict, pg: dict, backlog_peak: dict, backlog_end: dict,
                   settle_s: float) -> dict:
    outcomes: Counter = Counter()
    held, expiry_late, post_lat = [], [], []
    conf_first: list[float] = []
    conf_retry: list[float] = []
    seen_held, seen_conf, poll_gaps, stale = [], [], [], []
    confirmed_in_window = 0
    for t in traces:
        if t.post_done is not None and t.post_status in (200, 202):
            post_lat.append(t.post_done - t.sent)
        rec = timeline.get(t.booking_id)
        if rec is None:
            outcomes["REFUSED seats_taken" if t.final == "REFUSED"
                     else "no quote" if t.error == "quote failed" else "not created"] += 1
            continue
        if "Confirmed" in rec:
            outcomes["CONFIRMED"] += 1
            confirmed_in_window += rec["Confirmed"] <= wall1
            (conf_first if t.method == VISA else conf_retry).append(rec["Confirmed"] - t.sent_wall)
        elif "Cancelled" in rec:
            outcomes[f"CANCELLED {rec['reason']}"] += 1
            if rec["reason"] == "hold_expired" and "reserved_until" in rec:
                expiry_late.append(rec["Cancelled"] - rec["reserved_until"])
        else:
            outcomes["unsettled"] += 1
        if "SeatsHeld" in rec:
            held.append(rec["SeatsHeld"] - t.sent_wall)
        if t.held_seen is not None:
            seen_held.append(t.held_seen - t.sent)
        if t.final == "CONFIRMED" and t.method == VISA:
            assert t.final_seen is not None  # set with final
            seen_conf.append(t.final_seen - t.sent)
            if "Confirmed" in rec:  # how long the API lagged the store, poll spacing included
                stale.append((t.final_seen - t.sent) - (rec["Confirmed"] - t.sent_wall))
        if t.polls and t.final_seen is not None and t.post_done is not None:
            poll_gaps.append((t.final_seen - t.post_done) / t.polls)
    should_confirm = sum(1 for t in traces if t.method == VISA or t.retries)
    pg["tracking_writes_per_confirmed"] = {
        s: round(n / confirmed_in_window, 2) if confirmed_in_window else None
        for s, n in pg["tracking_writes"].items()
    }
    confirmed_per_s = confirmed_in_window / p.duration
    expected = should_confirm / p.duration
    conf_p99 = dist_ms(conf_first)["p99"]
    return {
        "offered_rate": rate,
        "duration_s": p.duration,
        "arrivals": len(traces) + dropped + sold_out,
        "arrival_rate": round((len(traces) + dropped + sold_out) / p.duration, 1),
        "dropped_over_max_outstanding": dropped,
        "posts_repeated_after_timeout": sum(1 for t in traces if t.post_attempts > 1),
        "sold_out_arrivals": sold_out,
        "bookings": len(traces),
        "expected_confirm_rate": round(expected, 1),
        "confirmed": {"in_window": confirmed_in_window, "per_s": round(confirmed_per_s, 1),
                      "total": outcomes["CONFIRMED"]},
        "outcomes": dict(outcomes),
        "settled_after_window_s": round(settle_s, 2),
        "server_latency": {
            "post_to_held": dist_ms(held),
            "post_to_confirmed_first_try": dist_ms(conf_first),
            "post_to_confirmed_after_retry": dist_ms(conf_retry),
            "expired_cancel_after_deadline": dist_ms(expiry_late),
        },
        "client_latency": {
            "post_response": dist_ms(post_lat),
            "post_to_held_visible": dist_ms(seen_held),
            "post_to_confirmed_visible": dist_ms(seen_conf),
            "api_behind_store_confirmed": dist_ms(stale),
            "followed": sum(1 for t in traces if t.followed),
            "held_first_seen_unprojected": sum(1 for t in traces if t.held_from_store),
            "bookings_whose_status_went_back": sum(1 for t in traces if t.went_back),
            "mean_poll_interval_ms": round(1000 * sum(poll_gaps) / len(poll_gaps), 1)
            if poll_gaps else None,
        },
        "driver_arrival_lag": dist_ms(lags),
        "http": http.snapshot(),
        "cpu": cpu,
        "pg": pg,
        "backlog_max": backlog_peak,
        "backlog_at_window_end": backlog_end,
        "saturated": bool(
            confirmed_per_s < 0.9 * expected or outcomes["unsettled"] or dropped
            or (conf_p99 or 0) > 5000
        ),
    }


async def steady(system: Distributed, driver: Driver, sampler: Sampler, rates: list[float],
                 p: SteadyParams, keep_going: bool = False, log: Callable[[str], object] = print,
                 idle_seconds: float = 10) -> dict:
    """{"idle": CPU over ``idle_seconds`` without load, "steps": one result per rate}."""
    apps = analysis_apps(system)
    steps = []
    try:
        log(f"steady: {idle_seconds:g} s idle first (the system's cost with no load) ...")
        procs0, t0 = all_processes(), time.monotonic()
        await asyncio.sleep(idle_seconds)
        idle = sampler.window(t0, time.monotonic())
        idle["top_others"] = top_others(procs0, all_processes(), sampler.pids_seen,
                                        time.monotonic() - t0)

        for i, rate in enumerate(rates):
            log(f"steady: {rate}/s for {p.duration:.0f} s ...")
            step = await steady_step(system, driver, sampler, apps, rate, p, i)
            steps.append(step)
            log(f"  confirmed {step['confirmed']['per_s']}/s (expected"
                f" {step['expected_confirm_rate']}/s), confirmed p99"
                f" {step['server_latency']['post_to_confirmed_first_try']['p99']} ms,"
                f" outcomes {step['outcomes']}")
            if step["saturated"] and not keep_going:
                log("  saturated: stopping the curve here")
                break
            await asyncio.sleep(2)  # let sweeps and relays go quiet between steps
    finally:
        for app in apps.values():
            app.close()
    return {"idle": idle, "steps": steps}


# --- flash sale -----------------------------------------------------------------------


async def flash_sale(system: Distributed, driver: Driver, sampler: Sampler, customers: int = 2000,
                     seats: int = 200, follow: float = 0.1, seed: int = 6,
                     timeout: float = 120.0, arrive_over: float = 0.0) -> dict:
    """``customers`` for ``seats`` one-seat bookings of one show, ten per seat. They arrive
    at once (``arrive_over`` 0), or one after another at an even rate over that many
    seconds: a rush the system may keep up with, where 'at once' measures only the queue."""
    rng = random.Random(seed)
    show = f"flash-{uuid.uuid4().hex[:8]}"
    await driver.open_shows({show: seats})
    seat_ids = [f"A{i}" for i in range(1, seats + 1)]
    traces = [
        Trace(customer=f"fan{i}", key=uuid.UUID(int=rng.getrandbits(128)).hex, show=show,
              seats=[seat_ids[i % seats]], method=VISA, retries=False,
              followed=rng.random() < follow)
        for i in range(customers)
    ]
    rng.shuffle(traces)
    for t in traces:
        driver.auth(t.customer)  # sign every token before the sale opens
    driver.http = HttpStats()
    probe = Probe(system)
    apps = analysis_apps(system)
    try:
        after = {svc: probe.max_event_id(svc) for svc in SAGA}
        servers0 = infra_pids(system)
        go, spacing = asyncio.Event(), arrive_over / customers

        async def one(n: int, t: Trace) -> None:
            await go.wait()
            if spacing:
                await asyncio.sleep(max(t0 + n * spacing - time.monotonic(), 0))
            await driver.customer(t)

        tasks = [asyncio.create_task(one(n, t)) for n, t in enumerate(traces)]
        await asyncio.sleep(0.1)  # every customer is waiting at the door
        t0, wall0 = time.monotonic(), time.time()
        go.set()
        await asyncio.wait(tasks, timeout=timeout)
        answered = max((t.post_done for t in traces if t.post_done), default=t0) - t0
        posted = sum(1 for t in traces if t.post_status in (200, 202))
        await wait_settled(probe, after["booking"], posted, timeout)
        settled = time.monotonic() - t0
        for task in tasks:
            task.cancel()
        cpu = sampler.window(t0, time.monotonic())
        timeline, inventory_tl, payment_tl = timelines(apps, after)
        hot_show = aggregate_load(apps["inventory"], show)
        seat_map = await settled_seat_map(driver, show, len(
            [t for t in traces if "Confirmed" in timeline.get(t.booking_id, {})]))
        servers1 = infra_pids(system)
    finally:
        probe.close()
        for app in apps.values():
            app.close()
    result = analyse_flash(traces, timeline, seat_map, seats, t0, wall0, answered, settled,
                           driver.http, cpu, spacing)
    result["arrive_over_s"] = arrive_over
    winners = [t.booking_id for t in traces if "Confirmed" in timeline.get(t.booking_id, {})]
    result["hops_of_winners"] = hops(timeline, inventory_tl, payment_tl, winners)
    result["disturbed"] = [n for n in servers0 if servers0[n] != servers1[n]]
    result["hot_show"] = hot_show
    return result


def aggregate_load(inventory: InventoryService, show: str, rounds: int = 5) -> dict:
    """How long inventory takes to load the sale's show (what each message about it
    costs before any decision): median of a few loads, from its latest snapshot."""
    took = []
    aggregate = None
    for _ in range(rounds):
        start = time.perf_counter()
        aggregate = inventory.get_show(show)
        took.append(time.perf_counter() - start)
    assert aggregate is not None, "no round"
    return {"version": aggregate.version, "load_ms": round(1000 * sorted(took)[rounds // 2], 1),
            "snapshot_interval": getattr(inventory, "snapshotting_intervals", {}).get(
                type(aggregate))}


async def settled_seat_map(driver: Driver, show: str, confirmed: int, timeout: float = 15) -> dict:
    """The seat map once it shows as many BOOKED seats as bookings were confirmed (it
    may be read from a view that follows the store), or the last one seen."""
    deadline = time.monotonic() + timeout
    while True:
        seat_map = await driver.seat_map(show)
        booked = sum(1 for s in seat_map.get("seats", []) if s["state"] == "BOOKED")
        if booked >= confirmed or time.monotonic() > deadline:
            return seat_map
        await asyncio.sleep(0.25)


def analyse_flash(traces: list[Trace], timeline: dict[str, dict], seat_map: dict, seats: int,
                  t0: float, wall0: float, answered: float, settled: float, http: HttpStats,
                  cpu: dict, spacing: float = 0.0) -> dict:
    """``spacing``: the seconds between two customers' scheduled arrivals (0: at once)."""
    confirmed, told_post, told_start, told_accept, conf = [], [], [], [], []
    told_arrival = []  # from the customer's scheduled arrival: the driver's delays count
    # How late the driver sent each POST against its schedule: a loser's time until told
    # from the POST starts at the send, so a driver that falls behind hides part of the queue.
    late = [t.sent - (t0 + n * spacing) for n, t in enumerate(traces) if t.sent]
    sent = [t.sent for t in traces if t.sent]
    other: Counter = Counter()
    losers = refused = 0
    for n, t in enumerate(traces):
        rec = timeline.get(t.booking_id, {})
        if "Confirmed" in rec:
            confirmed.append(t)
            conf.append(rec["Confirmed"] - t.sent_wall)
            continue
        losers += 1
        if t.final == "REFUSED":  # told by the POST's answer (409 seats_taken)
            refused += 1
            assert t.post_done is not None  # refused by the POST's answer
            told_post.append(t.post_done - t.sent)
            told_start.append(t.sent_wall + (t.post_done - t.sent) - wall0)
        elif rec.get("reason") == "seats_unavailable":
            told_post.append(rec["Cancelled"] - t.sent_wall)
            told_start.append(rec["Cancelled"] - wall0)
            if t.post_done is not None:
                accepted_wall = t.sent_wall + (t.post_done - t.sent)
                told_accept.append(rec["Cancelled"] - accepted_wall)
        else:
            other["unsettled" if not rec else rec.get("reason", "?")] += 1
            continue
        told_arrival.append(told_start[-1] - n * spacing)
    sold = Counter(seat for t in confirmed for seat in t.seats)
    booked = {s["seat_id"]: s.get("booking_id")
              for s in seat_map.get("seats", []) if s["state"] == "BOOKED"}
    confirmed_ids = {t.booking_id for t in confirmed}
    return {
        "customers": len(traces),
        "seats": seats,
        "confirmed": len(confirmed),
        "exact": len(confirmed) == seats and len(booked) == seats,
        "sold_twice": sorted(s for s, n in sold.items() if n > 1),
        "booked_seats": len(booked) if seat_map else None,
        "booked_by_unconfirmed": sorted(s for s, b in booked.items() if b not in confirmed_ids),
        "losers": losers,
        "losers_told": len(told_post),
        "losers_refused_at_once": refused,
        "other_outcomes": dict(other),
        "losers_told_from_post": dist_ms(told_post),
        "losers_told_from_start": dist_ms(told_start),
        "losers_told_from_arrival": dist_ms(told_arrival),
        "driver_arrival_lag": dist_ms(late),
        "arrival_span_s": round(max(sent) - min(sent), 3) if sent else 0.0,
        "losers_told_after_202": dist_ms(told_accept),
        "winners_confirmed_from_post": dist_ms(conf),
        "all_posts_answered_s": round(answered, 2),
        "all_settled_s": round(settled, 2),
        "posts_repeated_after_timeout": sum(1 for t in traces if t.post_attempts > 1),
        "client_latency": {
            "post_response": dist_ms([t.post_done - t.sent for t in traces if t.post_done]),
            "followed": sum(1 for t in traces if t.followed),
            "held_first_seen_unprojected": sum(1 for t in traces if t.held_from_store),
            "bookings_whose_status_went_back": sum(1 for t in traces if t.went_back),
            "loser_told_visible": dist_ms([t.final_seen - t.sent for t in traces
                                           if t.final == "CANCELLED" and t.final_seen]),
        },
        "http": http.snapshot(),
        "cpu": cpu,
    }
