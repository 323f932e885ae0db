"""Before and after in one run: the same steady steps (or flash sales) against two
versions of the code, alternating, so that whatever else the machine does weighs on both
alike.

    python -m bench.compare --before fce073f --rates 10,20 --duration 15 --rounds 2
    python -m bench.compare --before 2486d7a --rates 10,20 --through-theatre --quote
    python -m bench.compare --before 57b14a4 --scenario flash-sale --rounds 2
    python -m bench.compare --before 57b14a4 --scenario flash-sale --flash-over 10
    python -m bench.compare --observability --rates 20,40 --duration 20
    python -m bench.compare --notifications --rates 20,40 --duration 20 --rounds 2
    python -m bench.compare --write-limits --rates 20,40 --through-theatre --quote

``--observability`` runs one version twice: before with metrics and tracing off
(``CINEMA_METRICS=off``, ``OTEL_SDK_DISABLED=true``), after with both on as shipped (one
saga in ten traced, its spans written to a JSON-lines file under .data/bench): what
observing the system costs. ``--notifications`` runs one version twice too: without the
notification service's process (before), and with it, every customer having given an
email address, so that it mails them (after). ``--write-limits`` too: without the limits
on customers' writes (Redis) and on their holds per theatre day (an aggregate per
customer and day), then with both as shipped.

The other version is checked out with ``git worktree`` under .data/bench/src-<ref>
(sharing this checkout's .venv) and run from there: its services, driven by the after
version's bench/ (``--bench-of each``: by its own).
Prints one row per rate and version (the median over the rounds) and the ratio
after / before, then (steady) the same for each process's CPU per booking, and writes the
tables to .data/bench/<time>-compare.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from shared.services import NAMES

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / ".data" / "bench"
# Every registered service (a version without one measures it as 0), then the rest.
CPU_GROUPS = (*NAMES, "projections", "postgres", "kafka", "ferretdb", "ferretdb-pg")
# Outside the system, measured but not in its total: the SMTP server the notification
# service sends to (Mailpit, a mail provider's part).
PROVIDERS = ("mailpit",)


def checkout(ref: str) -> Path:
    sha = subprocess.run(["git", "rev-parse", "--short", ref], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.strip()
    tree = OUT / f"src-{sha}"
    if not tree.exists():
        subprocess.run(["git", "worktree", "add", "--detach", "-f", str(tree), sha], cwd=ROOT,
                       check=True, capture_output=True)
        (tree / ".venv").symlink_to(ROOT / ".venv")
    return tree


def use_bench_of(tree: Path, source: Path) -> None:
    """Reset ``tree``'s bench/ to its own commit, then (if another source is given) lay
    that source's bench/ over it: both versions measured by the same driver and analysis."""
    subprocess.run(["git", "checkout", "--", "bench"], cwd=tree, check=True, capture_output=True)
    subprocess.run(["git", "clean", "-fdq", "bench"], cwd=tree, check=True, capture_output=True)
    if source != tree:
        shutil.copytree(source / "bench", tree / "bench", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))


# What --observability changes, before (off) and after (on, as shipped).
OBSERVABILITY_OFF = {"CINEMA_METRICS": "off", "OTEL_SDK_DISABLED": "true", "CINEMA_TRACE_FILE": ""}


def observability_on(stamp: str) -> dict[str, str]:
    return {"CINEMA_METRICS": "on", "OTEL_SDK_DISABLED": "false",
            "CINEMA_TRACE_FILE": str(OUT / f"{stamp}-traces.jsonl")}


# What --write-limits changes, before (none) and after (as shipped): the writes per
# customer (the bench's customers all call from 127.0.0.1, so the harness lifts the limit
# per address) and the seats held per customer and theatre day.
WRITE_LIMITS_OFF = {"CINEMA_WRITES_PER_CUSTOMER": "0", "CINEMA_MAX_HELD_PER_CUSTOMER_DAY": "0"}
WRITE_LIMITS_ON = {"CINEMA_WRITES_PER_CUSTOMER": "60", "CINEMA_MAX_HELD_PER_CUSTOMER_DAY": "20"}


def run_bench(tree: Path, args: argparse.Namespace, env: dict[str, str] | None = None,
              flags: tuple[str, ...] = ()) -> dict:
    if args.scenario == "flash-sale":
        cmd = [sys.executable, "-m", "bench", "flash-sale", "--no-limits",
               "--flash-customers", str(args.customers), "--seed", str(args.seed),
               "--flash-over", str(args.flash_over)]
    else:
        cmd = [sys.executable, "-m", "bench", "steady", "--rates", args.rates, "--duration",
               str(args.duration), "--idle-seconds", "1", "--no-limits", "--keep-going",
               "--seed", str(args.seed), *(["--through-theatre"] if args.through_theatre else []),
               *(["--quote"] if args.quote else []), *flags]
    done = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, timeout=1800,
                          check=False, env={**os.environ, **(env or {})})
    found = re.findall(r"^report: (.+)$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or not found:
        raise RuntimeError(f"bench failed in {tree}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(Path(found[-1]).read_text())


def flash_figures(report: dict) -> dict[float, dict]:
    """One row (keyed by the number of customers) from a flash-sale report."""
    f = report["flash_sale"]["result"]
    # From the scheduled arrival where the customers were spread out (the driver's delays
    # count); at once, from the POST.
    told = f.get("losers_told_from_arrival") if f.get("arrive_over_s") else None
    told = told or f["losers_told_from_post"]
    per = f["cpu"].get("ms_per_confirmed") or {}
    return {f["customers"]: {
        "exact": 1.0 if f["exact"] else 0.0,
        "told_p50": told.get("p50"), "told_p99": told.get("p99"), "told_max": told.get("max"),
        "refused_at_once": f.get("losers_refused_at_once", 0),
        "posts_answered_s": f["all_posts_answered_s"], "settled_s": f["all_settled_s"],
        "cpu_ms_per_customer": sum(per.get(g) or 0 for g in CPU_GROUPS) or None,
    }}


def figures(report: dict) -> dict[float, dict]:
    if "flash_sale" in report:
        return flash_figures(report)
    out = {}
    for step in report["steady"]["result"]["steps"]:
        lat, cpu, seen = step["server_latency"], step["cpu"], step["client_latency"]
        per = cpu.get("ms_per_confirmed") or {}
        out[step["offered_rate"]] = {
            "confirmed_per_s": step["confirmed"]["per_s"],
            "held_p50": lat["post_to_held"].get("p50"),
            "held_p99": lat["post_to_held"].get("p99"),
            "confirmed_p50": lat["post_to_confirmed_first_try"].get("p50"),
            "confirmed_p99": lat["post_to_confirmed_first_try"].get("p99"),
            "cpu_ms_per_booking": sum(per.get(g) or 0 for g in CPU_GROUPS) or None,
            "ferretdb_ms_per_booking": (per.get("ferretdb") or 0) + (per.get("ferretdb-pg") or 0) or None,
            "view_lag_p50": (step.get("projection_lag") or {}).get("p50"),
            "view_lag_p99": (step.get("projection_lag") or {}).get("p99"),
            "other_cores": cpu.get("other_cores"),
            # What the customers saw through the API (the third table).
            "seen_held_p50": seen["post_to_held_visible"].get("p50"),
            "seen_held_p99": seen["post_to_held_visible"].get("p99"),
            "seen_confirmed_p99": seen["post_to_confirmed_visible"].get("p99"),
            "went_back": seen.get("bookings_whose_status_went_back"),
            # The notification service's messages: sent in the window, waiting at its end.
            "told_sent": (step.get("told") or {}).get("sent"),
            "told_waiting": (step.get("told") or {}).get("waiting_at_end"),
            # Which process a change moved (the second table).
            **{f"cpu_{g}": per.get(g) for g in (*CPU_GROUPS, *PROVIDERS)},
        }
    return out


def median(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(values) if values else None


def _ratio(after: float | None, before: float | None) -> float | None:
    return after / before if after is not None and before else None


def print_table(runs: dict[str, list[dict]], keys: list[str], unit: str,
                width: int) -> dict[float, dict]:
    """One row per rate and version (the median over the rounds), then after / before."""
    table = {}
    print(f"{unit:>6}  {'version':>7}  " + "  ".join(f"{k:>{width}}" for k in keys))
    for rate in sorted({r for run in runs["after"] for r in run}):
        row = {}
        for name in ("before", "after"):
            rows = [run[rate] for run in runs[name] if rate in run]
            row[name] = {k: median(rows, k) for k in keys}
            print(f"{rate:>6}  {name:>7}  " + "  ".join(
                f"{'-' if row[name][k] is None else f'{row[name][k]:,.2f}':>{width}}"
                for k in keys))
        ratio = {k: _ratio(row["after"][k], row["before"][k]) for k in keys}
        print(f"{rate:>6}  {'ratio':>7}  " + "  ".join(
            f"{'-' if ratio[k] is None else f'{ratio[k]:.2f}x':>{width}}" for k in keys))
        table[rate] = {**row, "ratio": ratio}
    return table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--before", default=None, help="git ref of the version to compare with"
                   " (with --observability: the after version by default)")
    p.add_argument("--observability", action="store_true",
                   help="before: metrics and tracing off; after: on, sampled as shipped")
    p.add_argument("--notifications", action="store_true",
                   help="steady: before without the notification service; after with it,\n"
                        "every customer with an email address, so it mails them to Mailpit")
    p.add_argument("--write-limits", action="store_true",
                   help="steady: before without the limits on customers' writes and holds\n"
                        "per theatre day; after with both as shipped (through the theatre)")
    p.add_argument("--after", default=None,
                   help="git ref of the new version (default: this working tree as it is)")
    p.add_argument("--rates", default="10,20")
    p.add_argument("--duration", type=float, default=15)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--scenario", choices=["steady", "flash-sale"], default="steady")
    p.add_argument("--customers", type=int, default=2000, help="flash-sale: customers")
    p.add_argument("--through-theatre", action="store_true",
                   help="steady: shows scheduled through the theatre (priced by pricing where\n"
                        "the version has it), passed on to python -m bench")
    p.add_argument("--quote", action="store_true",
                   help="steady: customers quote before booking where the version has pricing\n"
                        "(with --through-theatre; the bench/ that runs must know both flags)")
    p.add_argument("--flash-over", type=float, default=0.0,
                   help="flash-sale: the customers arrive evenly over this many seconds")
    p.add_argument("--bench-of", choices=["after", "each"], default="after",
                   help="after: both versions driven by the after version's bench/ (the same "
                        "load driver and analysis, only the system differs; note that bench/ "
                        "also sets up the private FerretDB, so an old version gets today's "
                        "_id index: use 'each' against code before d237828); each: its own")
    args = p.parse_args()
    if args.quote and not args.through_theatre:
        p.error("--quote needs --through-theatre: pricing prices only the theatre's shows")
    alone = [f for f in ("observability", "notifications", "write_limits") if getattr(args, f)]
    if args.before is None and not alone:
        p.error("--before is needed (but with --observability, --notifications or "
                "--write-limits)")
    if len(alone) > 1:
        p.error("--observability, --notifications and --write-limits each compare one "
                "version with itself: one at a time")
    if alone in (["notifications"], ["write_limits"]) and args.scenario != "steady":
        p.error(f"--{alone[0].replace('_', '-')} compares steady runs")
    after = checkout(args.after) if args.after else ROOT
    before = checkout(args.before) if args.before else after
    if before != after:
        use_bench_of(before, after if args.bench_of == "after" else before)
    elif alone and after != ROOT and args.bench_of == "after":
        use_bench_of(after, ROOT)  # an older version measured by today's bench/
    flags = ({"before": ("--without", "notifications"), "after": ("--contacts",)}
             if args.notifications else {})
    stamp = time.strftime("%Y%m%d-%H%M%S")
    OUT.mkdir(parents=True, exist_ok=True)  # the trace file goes there
    envs = ({"before": OBSERVABILITY_OFF, "after": observability_on(stamp)}
            if args.observability else
            {"before": WRITE_LIMITS_OFF, "after": WRITE_LIMITS_ON} if args.write_limits else {})
    head = subprocess.run(["git", "rev-parse", "--short", args.after or "HEAD"], cwd=ROOT,
                          check=True, capture_output=True, text=True).stdout.strip()
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    for n in range(args.rounds):
        order = [("before", before), ("after", after)]
        for name, tree in order if n % 2 == 0 else order[::-1]:  # alternate who goes first
            print(f"round {n + 1}: {name} ({tree}) ...", flush=True)
            runs[name].append(figures(run_bench(tree, args, envs.get(name),
                                                flags.get(name, ()))))
    keys = (["exact", "told_p50", "told_p99", "told_max", "refused_at_once", "posts_answered_s",
             "settled_s", "cpu_ms_per_customer"] if args.scenario == "flash-sale" else
            ["confirmed_per_s", "held_p50", "held_p99", "confirmed_p50", "confirmed_p99",
             "cpu_ms_per_booking", "ferretdb_ms_per_booking", "view_lag_p50", "view_lag_p99",
             "other_cores"])
    where = "" if args.after else " + the working tree's changes"
    if args.observability:
        print(f"\nbefore = {head}{where} with metrics and tracing off, after = the same with"
              f" both on (sampled as shipped), median of {args.rounds} rounds")
    elif args.notifications:
        print(f"\nbefore = {head}{where} without the notification service, after = the same"
              f" with it, every customer with an email address; median of {args.rounds} rounds")
    elif args.write_limits:
        print(f"\nbefore = {head}{where} without limits on customers' writes and daily holds,"
              f" after = the same with both as shipped; median of {args.rounds} rounds")
    else:
        print(f"\nbefore = {args.before}, after = {head}{where}, median of {args.rounds} rounds")
    unit = "customers" if args.scenario == "flash-sale" else "rate/s"
    table = print_table(runs, keys, unit, width=18)
    if args.scenario == "steady":
        print("\nCPU ms per confirmed booking, by process:")
        by_process = print_table(runs, [f"cpu_{g}" for g in (*CPU_GROUPS, *PROVIDERS)], unit,
                                 width=15)
        print("\nThrough the API, as the customers who follow their booking polled it (ms;"
              " went_back: bookings whose status was seen going back); the notification"
              " service's messages sent in the window and waiting at its end:")
        seen = print_table(runs, ["seen_held_p50", "seen_held_p99", "seen_confirmed_p99",
                                  "went_back", "told_sent", "told_waiting"], unit, width=18)
        for more in (by_process, seen):
            for rate, row in more.items():
                for name, values in row.items():
                    table[rate][name].update(values)
    path = OUT / f"{stamp}-compare.json"
    path.write_text(json.dumps({"before": args.before, "after": head, "args": vars(args),
                                "runs": runs, "table": table}, indent=2, default=str))
    print(f"\nreport: {path}")


if __name__ == "__main__":
    main()
