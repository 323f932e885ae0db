"""python -m bench <scenario> [options]: start a fresh system, load it, report, stop.

    python -m bench limits                        # reference limits of PostgreSQL and Kafka
    python -m bench steady --rates 20,40,80,160   # one row per rate, until saturation
    python -m bench steady --through-theatre --quote   # shows priced by pricing, customers quote
    python -m bench flash-sale                    # 2,000 customers, 200 seats, at once
    python -m bench prices                        # price lookups, cache against store, in a flash sale
    python -m bench all                           # limits, the steady curve, the flash sale
    python -m bench chaos --minutes 20 --seed 1   # a soak under faults, audited (bench/chaos.py)

The report is printed and written to .data/bench/<time>-<scenario>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench import report as rp
from bench.audit import audit
from bench.driver import Driver
from bench.durability import durable
from bench.limits import measure
from bench.limits import settings as limit_settings
from bench.procstats import Sampler, listener_pid, memory_kib
from bench.projection import projection_lag
from bench.report import add_totals
from bench.scenarios import SteadyParams, flash_sale, steady
from bench.system import (
    DATA,
    BenchSystem,
    Probe,
    infra_ports,
    loadavg,
    machine,
    service_pids,
    start_system,
    stop_system,
)
from launcher.processes import service_of
from tests.e2e.harness import Distributed

SCENARIOS = ("steady", "flash-sale", "prices", "limits", "all")
# A scenario run on a fresh system: scenario(system, driver, sampler) -> its result.
Scenario = Callable[[BenchSystem, Driver, Sampler], Awaitable[dict]]


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", choices=SCENARIOS)
    g = p.add_argument_group("steady")
    g.add_argument("--rates", default="5,10,15,20,30,40,60,80,120,160,240,320",
                   help="bookings/s, one step each, in order, until saturation (default %(default)s)")
    g.add_argument("--duration", type=float, default=20, help="seconds per rate (default 20)")
    g.add_argument("--shows", type=int, default=200, help="fresh shows per rate (default 200)")
    g.add_argument("--seats", type=int, default=100, help="seats per show (default 100)")
    g.add_argument("--zipf", type=float, default=1.0, help="skew towards hot shows (0: uniform)")
    g.add_argument("--fail-rate", type=float, default=0.1, help="share paying with a declined card")
    g.add_argument("--retry-rate", type=float, default=0.5, help="of the declined, share retrying")
    g.add_argument("--follow", type=float, default=0.2,
                   help="share of customers polling their booking (retriers always do;"
                        " default 0.2: latencies of all bookings come from the stores)")
    g.add_argument("--idle-seconds", type=float, default=10,
                   help="measure the idle system this long before the first rate (default 10)")
    g.add_argument("--keep-going", action="store_true", help="do not stop at the first saturated rate")
    g.add_argument("--through-theatre", action="store_true",
                   help="schedule each rate's shows through the theatre (priced by pricing,"
                        " where the system has it), not with inventory's PUT")
    g.add_argument("--quote", action="store_true",
                   help="customers quote (POST /quotes on pricing) and book with the quote;"
                        " a system without pricing books unquoted (needs --through-theatre)")
    g.add_argument("--contacts", action="store_true",
                   help="every customer gives an email address (one in four French) to the"
                        " notification service before the run, so it mails them (to Mailpit)")
    g = p.add_argument_group("flash sale")
    g.add_argument("--flash-customers", type=int, default=2000)
    g.add_argument("--flash-seats", type=int, default=200)
    g.add_argument("--flash-follow", type=float, default=0.1,
                   help="share of flash-sale customers polling (default 0.1)")
    g.add_argument("--flash-over", type=float, default=0.0, metavar="SECONDS",
                   help="customers arrive evenly over this many seconds (default 0: at once)")
    g.add_argument("--lookup-rate", type=float, default=100,
                   help="prices: price lookups a second, of each kind (default 100)")
    g.add_argument("--flash-hold-seconds", type=float, default=600,
                   help="hold time of the flash sale's system (default: the product's 600)")
    g = p.add_argument_group("driver and system")
    g.add_argument("--connections", type=int, default=128, help="HTTP connections to booking")
    g.add_argument("--poll-ms", type=float, default=15, help="poll interval per booking")
    g.add_argument("--poll-max-ms", type=float, default=250,
                   help="polls back off to this interval after ten (= --poll-ms: fixed interval)")
    g.add_argument("--poll-concurrency", type=int, default=8, help="polls in flight at most")
    g.add_argument("--hold-seconds", type=float, default=5,
                   help="hold time of the steady system: the declined who do not retry expire")
    g.add_argument("--sweep-seconds", type=float, default=0.2)
    g.add_argument("--seed", type=int, default=6)
    g.add_argument("--without", action="append", default=[], metavar="SERVICE",
                   choices=("notifications",),
                   help="run the system without this service's process (notifications:"
                        " nothing in the saga waits for it)")
    g.add_argument("--instances", type=int, default=1,
                   help="instances of each of booking, inventory and payment (default 1)")
    g.add_argument("--ferretdb", choices=("private", "shared"), default="private",
                   help="views on a FerretDB started for this run (default), or scripts/infra's")
    g.add_argument("--limit-seconds", type=float, default=3, help="per reference limit")
    g.add_argument("--no-limits", action="store_true", help="skip the reference limits")
    g.add_argument("--no-audit", action="store_true", help="skip the invariants audit")
    g.add_argument("--durable", action="store_true",
                   help="turn fsync, synchronous_commit and full_page_writes on for the run"
                        " (the dev cluster has them off), and off again after it")
    g.add_argument("--audit-transitions", action="store_true",
                   help="also check every booking's transitions (slow on big runs)")
    args = p.parse_args(argv)
    if args.quote and not args.through_theatre:
        p.error("--quote needs --through-theatre: pricing prices only the theatre's shows")
    if args.contacts and "notifications" in args.without:
        p.error("--contacts needs the notification service")
    return args


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def process_groups(
    system: BenchSystem, probe_box: list[Probe]
) -> Callable[[], dict[str, list[int]]]:
    """The pids to sample: each service, the PostgreSQL backends of each service's
    database, the Kafka broker and FerretDB (shared with whoever else uses them), Mailpit
    when the notification service sends to it, this driver."""
    servers = infra_ports(system)
    pids: dict[str, int | None] = {}

    def groups() -> dict[str, list[int]]:
        if not probe_box:
            probe_box.append(Probe(system))
        out: dict[str, list[int]] = {}
        for name, pid in service_pids(system).items():  # a service's instances, together
            out.setdefault(service_of(name), []).append(pid)
        for svc, backends in probe_box[0].backend_pids().items():
            out["ferretdb-pg" if svc == "ferretdb" else f"pg:{svc}"] = backends
        for name in ("kafka", "ferretdb", "mailpit"):
            if name not in servers:
                continue
            if pids.get(name) is None or not os.path.exists(f"/proc/{pids[name]}"):
                pids[name] = listener_pid(servers[name])  # found again after a restart
            server = pids[name]
            out[name] = [server] if server else []
        out["driver"] = [os.getpid()]
        return out

    return groups


def one_system(args: argparse.Namespace, hold_seconds: float, scenario: Scenario) -> dict:
    """Start a fresh system, run one scenario coroutine on it, audit, tear down.
    ``scenario(system, driver, sampler)`` returns the scenario's result."""
    log(f"starting a fresh system (hold {hold_seconds:g} s) ...")
    run: dict = {}
    system = start_system(hold_seconds, args.sweep_seconds,
                          private_ferretdb=args.ferretdb == "private", instances=args.instances,
                          without=tuple(args.without), **notify_settings(hold_seconds))
    sampler: Sampler | None = None
    try:
        s = system.local.settings
        run["system"] = {"topic_prefix": s.topic_prefix, "databases": s.databases,
                         "ports": s.ports, "hold_seconds": hold_seconds,
                         "sweep_seconds": args.sweep_seconds, "mongo_url": s.mongo_url,
                         "processes": sorted(system.local.procs)}
        probe_box: list = []  # the sampler thread's own Probe, made on its first sample
        sampler = Sampler(process_groups(system, probe_box)).start()

        async def go() -> None:
            driver = Driver(system, connections=args.connections, poll_ms=args.poll_ms,
                            poll_concurrency=args.poll_concurrency,
                            follow_timeout=hold_seconds + 60, poll_max_ms=args.poll_max_ms)
            try:
                run["result"] = await scenario(system, driver, sampler)
            finally:
                await driver.close()

        try:
            asyncio.run(go())
        except Exception as e:  # keep what was measured so far
            run["error"] = f"{type(e).__name__}: {e}"
            log(f"run failed: {run['error']}")
        run["views_answering"] = views_answering(system)
        run["projection_lag"] = projection_lag(system)  # over the whole run, from /lag
        run["peak_rss_mib"] = {name: round(memory[1] / 1024, 1)
                               for name, pid in service_pids(system).items()
                               if (memory := memory_kib(pid))}
        if not args.no_audit:
            log("auditing the stores ...")
            run["audit"] = audit(system, args.audit_transitions)
    finally:
        if sampler is not None:
            sampler.stop()
            for probe in probe_box:
                probe.close()
        stop_system(system, log)
    return run


def notify_settings(hold_seconds: float) -> dict[str, str]:
    """The notification service mails through this checkout's Mailpit (the servers'
    SMTP endpoint), whatever the version's test systems do; the payment reminder at the
    product's proportion of the hold (2 minutes before the end of 10): with the default 2
    minutes, every hold of a few seconds would be reminded at once."""
    return {"notify_channels": "smtp", "notify_reminder_before_s": f"{hold_seconds / 5:g}"}


def views_answering(system: Distributed, timeout_ms: int = 3000) -> bool | None:
    """Whether the MongoDB-wire server of the views still answers a query that needs
    its PostgreSQL pool (None when the system has no views)."""
    import pymongo

    s = system.local.settings
    if "projections" not in system.local.procs:
        return None
    try:
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
            s.mongo_url, serverSelectionTimeoutMS=timeout_ms, socketTimeoutMS=timeout_ms)
        with client:
            client[getattr(s, "views_db", "views")].list_collection_names()
        return True
    except pymongo.errors.PyMongoError:
        return False


def source_version() -> str:
    """The commit measured, and whether the working tree differed from it."""
    commit = os.popen("git rev-parse --short HEAD 2>/dev/null").read().strip()
    if not commit:
        return open(".commit").read().strip()[:7] if os.path.exists(".commit") else "unknown"
    dirty = os.popen("git status --porcelain --untracked-files=no 2>/dev/null").read().strip()
    return commit + (" + uncommitted changes" if dirty else "")


def main(argv: list[str]) -> int:
    if argv[:1] == ["chaos"]:  # its own options: bench/chaos.py
        from bench import chaos

        return chaos.main(argv[1:])
    args = parse(argv)
    out: dict = {"scenario": args.scenario, "args": vars(args), "machine": machine(),
                 "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    out["commit"] = source_version()
    with durable(limit_settings(), args.durable) as note:
        out["note"] = note
        run_scenarios(args, out)
    out["machine"]["loadavg_after"] = loadavg()
    path = rp.write_json(out, args.scenario, DATA)
    print(rp.render(out))
    print(f"\nreport: {path}")
    runs = [out[k] for k in ("steady", "flash_sale") if k in out]
    ok = all("error" not in r and r.get("audit", {"ok": True})["ok"] for r in runs)
    return 0 if ok and flash_ok(out) else 1


def run_scenarios(args: argparse.Namespace, out: dict) -> None:
    private = args.ferretdb == "private"  # its CPU is then the run's own
    if args.scenario == "limits" or not args.no_limits:
        out["limits"] = measure(args.limit_seconds, log)  # before any system runs
    if args.scenario in ("steady", "all"):
        p = SteadyParams(duration=args.duration, shows=args.shows, seats=args.seats,
                         zipf=args.zipf, fail_rate=args.fail_rate, retry_rate=args.retry_rate,
                         follow=args.follow, seed=args.seed, drain_timeout=args.hold_seconds + 60,
                         through_theatre=args.through_theatre, quote=args.quote,
                         contacts=args.contacts)
        rates = [float(r) for r in args.rates.split(",") if r.strip()]

        async def run_steady(system: BenchSystem, driver: Driver, sampler: Sampler) -> dict:
            result = await steady(system, driver, sampler, rates, p, args.keep_going, log,
                                  args.idle_seconds)
            add_totals(result["idle"], 0, private)
            for step in result["steps"]:
                add_totals(step["cpu"], step["confirmed"]["in_window"], private)
            return result

        out["steady"] = one_system(args, args.hold_seconds, run_steady)
    if args.scenario in ("flash-sale", "all"):
        async def run_flash(system: BenchSystem, driver: Driver, sampler: Sampler) -> dict:
            log(f"flash sale: {args.flash_customers} customers, {args.flash_seats} seats ...")
            result = await flash_sale(system, driver, sampler, args.flash_customers,
                                      args.flash_seats, args.flash_follow, args.seed,
                                      timeout=180, arrive_over=args.flash_over)
            add_totals(result["cpu"], result["customers"], private)  # per customer, not per seat
            return result

        out["flash_sale"] = one_system(args, args.flash_hold_seconds, run_flash)
    if args.scenario == "prices":
        from bench.price_lookups import price_lookups

        async def run_prices(system: BenchSystem, driver: Driver, sampler: Sampler) -> dict:
            log(f"price lookups at {args.lookup_rate:g}/s during a flash sale of "
                f"{args.flash_customers} customers ...")
            return await price_lookups(system, driver, sampler, args.flash_customers,
                                       args.flash_seats, args.lookup_rate, args.seed,
                                       args.flash_over)

        out["prices"] = one_system(args, args.flash_hold_seconds, run_prices)


def flash_ok(out: dict) -> bool:
    f = out.get("flash_sale", {}).get("result")
    return f is None or (f["exact"] and not f["sold_twice"] and f["losers_told"] == f["losers"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
