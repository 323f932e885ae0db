"""python -m bench chaos --minutes N --seed S: a soak under faults.

A fresh system (the simulated payment provider; emails through Mailpit) takes a steady
load (bench/chaos_load.py) while the faults of the seed's schedule (bench/chaos_schedule.py,
printed first) are done to it one after another (bench/chaos_faults.py). Then the run
waits, bounded, until the system is at rest and audits it (bench/chaos_audit.py). The
report is printed and written to .data/bench/<time>-chaos.json; the exit status is 0
only if every fault was done and the audit is clean.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time

from bench import chaos_faults
from bench import report as rp
from bench.chaos_audit import full_audit, wait_at_rest
from bench.chaos_load import Load, LoadParams
from bench.chaos_schedule import Fault, schedule
from bench.driver import Driver
from bench.durability import durable
from bench.limits import settings as limit_settings
from bench.system import DATA, BenchSystem, loadavg, machine, start_system, stop_system
from tests.support.servers import Endpoints


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench chaos", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=20, help="of load (default 20)")
    p.add_argument("--seed", type=int, default=1, help="the schedule's and the load's")
    p.add_argument("--rate", type=float, default=2.0, help="customers a second (default 2)")
    p.add_argument("--shows", type=int, default=0, help="shows of 40 seats (default: enough)")
    p.add_argument("--hold-seconds", type=float, default=20)
    p.add_argument("--rest-timeout", type=float, default=300,
                   help="seconds to wait for the system to be at rest before the audit")
    return p.parse_args(argv)


async def run_faults(system: BenchSystem, faults: list[Fault], t0: float) -> list[dict]:
    done = []
    for fault in faults:
        await asyncio.sleep(max(0.0, t0 + fault.at - time.monotonic()))
        started = time.monotonic() - t0
        log(f"fault at {started:6.1f}s: {fault.kind} {fault.target} ({fault.outage:g}s)")
        record = {"kind": fault.kind, "target": fault.target, "planned_at": fault.at,
                  "at": round(started, 1), "outage": fault.outage}
        try:
            await asyncio.to_thread(chaos_faults.do, system, fault)
        except Exception as e:  # reported; the run goes on and fails at the end
            record["error"] = f"{type(e).__name__}: {e}"
            log(f"  failed: {record['error']}")
        record["took_s"] = round(time.monotonic() - t0 - started, 1)
        done.append(record)
    return done


async def soak(system: BenchSystem, args: argparse.Namespace, faults: list[Fault],
               out: dict) -> Load:
    driver = Driver(system, connections=32, poll_ms=100, poll_max_ms=500, poll_concurrency=16,
                    follow_timeout=args.hold_seconds + 240)
    try:
        rng = random.Random(args.seed)
        params = LoadParams(rate=args.rate)
        count = args.shows or int(args.rate * args.minutes * 60 * 1.9 / params.seats) + 5
        shows = [f"chaos-{i}" for i in range(count)]
        log(f"scheduling {count} shows of {params.seats} seats through the theatre ...")
        await driver.schedule_shows("chaos", shows, params.seats, timeout=300)
        load = Load(driver, params, rng, shows)
        stop = asyncio.Event()
        t0 = time.monotonic()
        tasks = [asyncio.create_task(load.customers(stop)), asyncio.create_task(load.theatre(stop))]
        out["faults_done"] = await run_faults(system, faults, t0)
        await asyncio.sleep(max(0.0, t0 + args.minutes * 60 - time.monotonic()))
        stop.set()
        await asyncio.gather(*tasks)
        out["load_seconds"] = round(time.monotonic() - t0, 1)
        log(f"load over after {out['load_seconds']:g} s; waiting for the customers ...")
        await load.finish(args.hold_seconds + 300)
        out["http"] = driver.http.snapshot()
        return load
    finally:
        await driver.close()


def main(argv: list[str]) -> int:
    args = parse(argv)
    faults = schedule(args.seed, args.minutes)
    print(f"chaos soak: seed {args.seed}, {args.minutes:g} min, {len(faults)} faults:", flush=True)
    for f in faults:
        print("  " + f.describe(), flush=True)
    ep = Endpoints.from_env()
    out: dict = {"scenario": "chaos", "args": vars(args), "machine": machine(),
                 "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                 "schedule": [vars(f) for f in faults], "provider": "simulated"}
    # A crash of PostgreSQL loses nothing acknowledged only on a durable cluster (the
    # test cluster runs without synchronous commits): durable for the run, as
    # tests/e2e/test_database_crash.py makes it.
    with durable(limit_settings(), on=True) as note:
        out["postgres"] = note
        soak_and_audit(args, faults, ep, out)
    out["machine"]["loadavg_after"] = loadavg()
    path = rp.write_json(out, "chaos", DATA)
    print(render(out))
    print(f"\nreport: {path}")
    return 0 if clean(out) else 1


def soak_and_audit(args: argparse.Namespace, faults: list[Fault], ep: Endpoints, out: dict) -> None:
    system = start_system(args.hold_seconds, 0.2, private_ferretdb=True,
                          notify_channels="smtp", smtp_host=ep.smtp_host, smtp_port=str(ep.smtp_port),
                          notify_retry_after_s="5", notify_send_timeout_s="30",
                          notify_reminder_before_s=str(args.hold_seconds / 2))
    try:
        load = asyncio.run(soak(system, args, faults, out))
        out["load"] = load.summary()
        log("waiting until the system is at rest ...")
        out["rest"] = wait_at_rest(system, args.rest_timeout, log)
        log("auditing ...")
        out["audit"] = full_audit(system, load.customer_cancelled(), ep.mailpit_api)
    except Exception as e:
        out["error"] = f"{type(e).__name__}: {e}"
        log(f"run failed: {out['error']}")
    finally:
        stop_system(system, log)


def clean(out: dict) -> bool:
    return ("error" not in out and out.get("audit", {}).get("ok", False)
            and all("error" not in f for f in out.get("faults_done", [])))


def render(out: dict) -> str:
    head = (f"\nchaos soak, seed {out['args']['seed']}: {out['args']['minutes']:g} min of load"
            f" (ran {out.get('load_seconds', '?')} s), load average before"
            f" {out['machine']['loadavg_before']}, after {out['machine']['loadavg_after']}")
    lines = [head, f"PostgreSQL: {out.get('postgres', '?')}"]
    if "load" in out:
        load = out["load"]
        lines.append(f"load: {load['customers']} customers, seen {load['outcomes_seen']};"
                     f" declined {load['declined']}, retried {load['retried']},"
                     f" cancel asked {load['cancel_asked']}; theatre {load['theatre_changes']}")
    lines.append("faults done:")
    for f in out.get("faults_done", []):
        lines.append(f"  {f['at']:7.1f}s {f['kind']:<20} {f['target']:<14} took {f['took_s']:5.1f}s"
                     + (f"  ERROR {f['error']}" if "error" in f else ""))
    if "rest" in out:
        lines.append(f"at rest: {out['rest']}")
    if "audit" in out:
        a = out["audit"]
        lines.append(f"bookings by outcome: {a['bookings_by_outcome']}")
        lines.append(f"audit ({'clean' if a['ok'] else 'FAILED'}): totals {a['totals']}; mail {a['mail']}")
        lines += [f"  {name}: {result}" for name, result in a["checks"].items()]
    if "error" in out:
        lines.append(f"ERROR: {out['error']}")
    return "\n".join(lines)
