"""Percentiles, the printed tables and the JSON file of a run."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from bench.durability import FAST_NOTE as FSYNC_NOTE  # runs saved without a note
from shared.services import NAMES


def pct(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def dist_ms(values_s: list[float]) -> dict:
    """n, p50, p95, p99, max of durations given in seconds, in milliseconds."""
    out: dict = {"n": len(values_s)}
    for name, p in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100)):
        v = pct(values_s, p)
        out[name] = None if v is None else round(v * 1000, 1)
    return out


def fmt_ms(d: dict | None, keys: tuple[str, ...] = ("p50", "p95", "p99")) -> str:
    if not d or not d.get("n"):
        return "-"
    return "/".join("-" if d[k] is None else f"{d[k]:.0f}" for k in keys)


def table(headers: list[str], rows: list[list]) -> str:
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = lambda r: "  ".join(c.rjust(w) for c, w in zip(r, widths))
    return "\n".join([line(cells[0]), "  ".join("-" * w for w in widths), *map(line, cells[1:])])


def add_totals(cpu: dict, confirmed: int, ferretdb_ours: bool = True) -> None:
    """postgres = our three databases' backends; other = the machine minus what the run
    used (FerretDB counts as the run's when it is private to it); CPU ms per booking."""
    g = cpu.get("groups", {})
    if not g:
        return
    pg = [v for k, v in g.items() if k.startswith("pg:")]
    g["postgres"] = {"cpu_s": round(sum(v["cpu_s"] for v in pg), 2),
                     "cores": round(sum(v["cores"] for v in pg), 3)}
    ours = sum(v["cores"] for k, v in g.items() if not k.startswith("pg:")
               and (ferretdb_ours or not k.startswith("ferretdb")))
    cpu["other_cores"] = round(cpu["machine_busy_cores"] - ours, 3)
    cpu["ms_per_confirmed"] = {  # what one confirmed booking costs each process
        k: round(1000 * v["cpu_s"] / confirmed, 1) for k, v in g.items()
        if confirmed and not k.startswith("pg:")
    }


def rerender(path: str) -> str:
    """Print a saved report again (totals recomputed): python -m bench.report FILE."""
    out = json.loads(Path(path).read_text())
    ours = out.get("args", {}).get("ferretdb", "private") == "private"
    steady = out.get("steady", {}).get("result")
    if steady:
        add_totals(steady["idle"], 0, ours)
        for step in steady["steps"]:
            add_totals(step["cpu"], step["confirmed"]["in_window"], ours)
    flash = out.get("flash_sale", {}).get("result")
    if flash:
        add_totals(flash["cpu"], flash["customers"], ours)
    return render(out)


def write_json(report: dict, scenario: str, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{time.strftime('%Y%m%d-%H%M%S')}-{scenario}.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    return path


# --- printing -------------------------------------------------------------------------


def limits_text(limits: dict, note: str = FSYNC_NOTE) -> str:
    if not limits:
        return ""
    rows = [[name, f"{m['rate']:,.0f}/s" if "rate" in m else f"{m['ms']} ms", m["how"]]
            for name, m in limits.items() if "rate" in m or "ms" in m]
    skipped = [f"  {name}: {m['error']}" for name, m in limits.items() if "error" in m]
    return "\n".join([f"Reference limits ({note}):",
                      table(["limit", "rate", "how"], rows), *skipped])


SHORT = {"inventory": "inv", "payment": "pay"}  # in column headers


def _cores(cpu: dict, *names: str) -> str:
    g = cpu.get("groups", {})
    return "/".join(f"{g[n]['cores']:.2f}" if n in g else "-" for n in names)


def _per(d: dict, fmt: str = "{:.0f}") -> str:
    return "/".join("-" if d.get(n) is None else fmt.format(d[n])
                    for n in ("booking", "inventory", "payment"))


def steady_text(steps: list[dict], limits: dict, note: str = FSYNC_NOTE) -> str:
    es = limits.get("pg_eventsourcing_insert", {}).get("rate")
    flow, res = [], []
    for s in steps:
        c, srv, cli, cpu, pg = s["confirmed"], s["server_latency"], s["client_latency"], s["cpu"], s["pg"]
        errors = sum(s["http"]["errors"].values()) + sum(s["http"]["transport_errors"].values())
        flow.append([
            s["offered_rate"], f"{s['arrival_rate']:.0f}", f"{c['per_s']:.1f}",
            f"{c['per_s'] / max(s['expected_confirm_rate'], 1e-9):.0%}",
            fmt_ms(srv["post_to_held"]), fmt_ms(srv["post_to_confirmed_first_try"]),
            fmt_ms(cli["post_to_held_visible"], ("p99",)),
            fmt_ms(cli["post_to_confirmed_visible"], ("p99",)),
            fmt_ms(cli.get("api_behind_store_confirmed"), ("p50", "p99")),
            fmt_ms(cli["post_response"], ("p99",)), sum(s["http"]["requests"].values()), errors,
            s["outcomes"].get("unsettled", 0),
            ",".join(s.get("disturbed", [])) or "no",
        ])
        per_conf = pg.get("tracking_writes_per_confirmed", {})
        worst = max((v for v in per_conf.values() if v), default=None)
        res.append([
            s["offered_rate"], _cores(cpu, *NAMES, "projections"),
            _cores(cpu, "postgres", "kafka", "ferretdb", "ferretdb-pg", "driver"),
            f"{cpu.get('other_cores', 0):.2f}", f"{cpu.get('machine_busy_cores', 0):.2f}",
            _per(pg["commits_per_s"]), _per(pg["tracking_writes_per_s"]), _per(per_conf, "{:.1f}"),
            f"{es / worst:.0f}" if es and worst else "-",
            _per({k: v.get("inbox") for k, v in s["backlog_max"].items()}),
        ])
    cost_names = [*NAMES, "projections", "postgres", "kafka", "ferretdb", "ferretdb-pg",
                  "driver"]
    cost_rows = [[s["offered_rate"], *(s["cpu"].get("ms_per_confirmed", {}).get(n, "-")
                                       for n in cost_names)] for s in steps]
    hop_names = list(steps[0].get("hops", {})) if steps else []
    hop_rows = [[s["offered_rate"], *(fmt_ms(s["hops"][h], ("p50", "p99")) for h in hop_names)]
                for s in steps if s.get("hops")]
    lag_cols = ("p50", "p95", "p99", "max", "over_200ms")
    lag_rows = [[s["offered_rate"], s["projection_lag"]["n"],
                 *(s["projection_lag"].get(q, "-") for q in lag_cols)]
                for s in steps if s.get("projection_lag")]
    return "\n".join([
        f"Steady curve ({note}):",
        table(["rate/s", "arrived/s", "confirmed/s", "of expected", "held p50/95/99 ms",
               "confirmed p50/95/99 ms", "seen held p99", "seen conf p99", "API behind p50/99",
               "POST p99", "requests", "http errors", "unsettled", "server restarted"], flow),
        *(f"  errors at {s['offered_rate']}/s: "
          + ", ".join(f"{k}: {n}" for k, n in {**s["http"]["errors"],
                                                **s["http"]["transport_errors"]}.items())
          for s in steps if s["http"]["errors"] or s["http"]["transport_errors"]),
        *(f"  reads at {s['offered_rate']}/s: " + reads_text(s["client_latency"])
          for s in steps if "bookings_whose_status_went_back" in s["client_latency"]),
        *(f"  quotes at {s['offered_rate']}/s: {q['n']}, POST /quotes p50/p95/p99 {fmt_ms(q)} ms"
          for s in steps if (q := s["http"].get("latency_ms", {}).get("post_quote"))),
        *(f"  at {s['offered_rate']}/s the system was still busy with the scheduled shows when"
          " the window opened: their events count in the window"
          for s in steps if s.get("quiet_before_window") is False),
        ("  held/confirmed: event time in booking's store - POST sent, every booking (confirmed:"
        " first-try card); seen: as polled through the API by the customers who follow;"
        " API behind: seen CONFIRMED minus its event time (the read side's delay plus the poll"
        " spacing, <= 250 ms); of expected: confirmed/s / (arrivals/s x share that should confirm)."),
        "",
        table(["rate/s", "cores " + "/".join(SHORT.get(n, n) for n in (*NAMES, "proj")),
               "pg/kafka/ferret/ferret-pg/driver",
               "other", "machine", "all tx/s b/i/p", "write tx/s b/i/p", "per confirmed b/i/p",
               "store ceiling bk/s", "max inbox b/i/p"], res),
        ("  cores: CPU s / wall s in the window (2 = the machine); pg: backends of the"
        " service databases; ferret: FerretDB and its PostgreSQL backends (the run's own unless --ferretdb shared); other: the rest of the"
        " machine; all tx: pg_stat_database.xact_commit (reads included); write tx: tracking records written (one per message the inbox processed, plus"
        " relay positions), each a transaction of the service's single writer; store ceiling:"
        " the eventsourcing write limit / the worst service's write tx per confirmed booking."),
        "",
        "CPU milliseconds per confirmed booking (window CPU / bookings confirmed in it):",
        table(["rate/s", *cost_names], cost_rows),
        *(f"  other at {s['offered_rate']}/s: {others_text(s['cpu'])}" for s in steps
          if s["cpu"].get("top_others")),
        "",
        ("Where the time goes: each hop of the saga (outbox relay, Kafka, inbox consumer, write),"
        " from event times in the three stores, first-try bookings, p50/p99 ms:"),
        table(["rate/s", *hop_names], hop_rows) if hop_rows else "",
        *(["", ("Projection lag per step, commit -> view (the projector's /lag, from the step's"
           " start until the views caught up), ms:"),
           table(["rate/s", "events", "p50", "p95", "p99", "max", "over 200 ms"], lag_rows)]
          if lag_rows else []),
    ])


def reads_text(seen: dict) -> str:
    """What the customers who polled saw: the two checks of monotonic, projected reads."""
    return (f"of {seen['followed']} followed bookings, {seen['held_first_seen_unprojected']}"
            " first seen held before the view had them (answered from booking's store),"
            f" {seen['bookings_whose_status_went_back']} seen going back")


def flash_text(f: dict, note: str = FSYNC_NOTE) -> str:
    told, conf = f["losers_told_from_post"], f["winners_confirmed_from_post"]
    lines = [
        f"Flash sale ({note}):",
        f"  {f['customers']} customers for {f['seats']} seats, " + arrival_text(f),
        (f"  confirmed {f['confirmed']} (must be {f['seats']}): {'OK' if f['exact'] else 'WRONG'};"
        f" seats sold twice: {f['sold_twice']}; BOOKED seats in the seat map: {f['booked_seats']}"),
        (f"  losers told: {f['losers_told']} of {f['losers']}"
        f" ({f.get('losers_refused_at_once', 0)} refused at once, 409 seats_taken; the rest"
        " CANCELLED seats_unavailable);"
        f" other outcomes: {f['other_outcomes']}"),
        "  time until told, from the customer's POST (ms): p50/p95/p99/max "
        + fmt_ms(told, ("p50", "p95", "p99", "max")),
        "  time until told, from the sale's start (ms): p50/p95/p99/max "
        + fmt_ms(f["losers_told_from_start"], ("p50", "p95", "p99", "max")),
        *(["  time until told, from the customer's scheduled arrival (ms): p50/p95/p99/max "
           + fmt_ms(f["losers_told_from_arrival"], ("p50", "p95", "p99", "max"))]
          if f.get("arrive_over_s") else []),
        "  winners confirmed, from POST (ms): p50/p95/p99/max "
        + fmt_ms(conf, ("p50", "p95", "p99", "max")),
        *(["  reads: " + reads_text(f["client_latency"])]
          if "bookings_whose_status_went_back" in f.get("client_latency", {}) else []),
        (f"  POSTs accepted at {f['customers'] / max(f['all_posts_answered_s'], 1e-9):.0f}/s;"
        f" every POST answered after {f['all_posts_answered_s']:.2f} s; all settled after"
        f" {f['all_settled_s']:.2f} s; http errors {f['http']['errors']}"
        f" {f['http']['transport_errors']}"),
        "  cores: " + ", ".join(f"{k} {v['cores']:.2f}" for k, v in f["cpu"].get("groups", {}).items()
                                if not k.startswith("pg:")) + f"; machine {f['cpu'].get('machine_busy_cores')}",
        "  CPU ms per customer: " + ", ".join(f"{k} {v}" for k, v in
                                               f["cpu"].get("ms_per_confirmed", {}).items()),
        (f"  the show's aggregate: version {f.get('hot_show', {}).get('version')}, loads in"
        f" {f.get('hot_show', {}).get('load_ms')} ms (snapshot every"
        f" {f.get('hot_show', {}).get('snapshot_interval')} events); every message about it loads it"),
        "  hops of the winners, p50/p99 ms: " + "; ".join(
            f"{h}: {fmt_ms(d, ('p50', 'p99'))}" for h, d in f.get("hops_of_winners", {}).items()),
    ]
    return "\n".join(lines)


def arrival_text(f: dict) -> str:
    over = f.get("arrive_over_s") or 0  # runs saved before the option: at once
    if not over:
        return "all at once"
    return (f"arriving evenly over {over:g} s ({f['customers'] / over:,.0f} customers/s; the"
            " driver sent them late by p50/p99/max "
            + fmt_ms(f["driver_arrival_lag"], ("p50", "p99", "max")) + " ms)")


def others_text(cpu: dict) -> str:
    return "; ".join(f"{c:.2f} {cmd[:60]}" for c, cmd in cpu.get("top_others", [])[:4])


def idle_text(idle: dict) -> str:
    g = idle.get("groups", {})
    return (f"Idle ({idle.get('wall_s')} s, no load), cores: " + ", ".join(
        f"{k} {v['cores']:.2f}" for k, v in g.items() if not k.startswith("pg:"))
        + f"; machine {idle.get('machine_busy_cores')}; other {idle.get('other_cores')}"
        + (f" (top: {others_text(idle)})" if idle.get("top_others") else ""))


def run_text(run: dict) -> list[str]:
    parts = []
    processes = run.get("system", {}).get("processes", [])
    if any("-" in p for p in processes):  # several instances of a service
        parts.append("  processes: " + ", ".join(processes))
    if run.get("peak_rss_mib"):
        parts.append("  peak RSS per process (MiB): " + ", ".join(
            f"{k} {v}" for k, v in run["peak_rss_mib"].items()))
    if run.get("views_answering") is not None:
        parts.append("  views (MongoDB-wire server) still answering at the end: "
                     + ("yes" if run["views_answering"] else "NO"))
    if "projection_lag" in run:
        lag = run["projection_lag"]
        parts.append("  projection lag, commit -> view, p50/p95/p99/max ms: " + (
            "n/a (the projector's /lag had no samples)" if lag is None
            else fmt_ms(lag, ("p50", "p95", "p99", "max"))))
    if run.get("audit"):
        a = run["audit"]
        parts.append(f"  audit ({a['took_s']} s, {a['totals']}): " + (
            f"all {len(a['checks'])} invariants checked hold" if a["ok"]
            else "; ".join(f"{k}: {v}" for k, v in a["checks"].items() if v != "ok")))
    if run.get("error"):
        parts.append(f"  RUN FAILED: {run['error']}")
    return parts


def render(out: dict) -> str:
    m, note = out["machine"], out.get("note") or FSYNC_NOTE
    parts = [(f"Machine: {m['nproc']} cores ({m['cpu']}), {m['mem_gib']} GiB; load average"
             f" before {m['loadavg_before']}, after {m.get('loadavg_after')}; source"
             f" {out.get('commit')}")]
    if out.get("limits"):
        parts.append(limits_text(out["limits"], note))
    steady = out.get("steady")
    if steady:
        text = ([steady_text(steady["result"]["steps"], out.get("limits", {}), note),
                 idle_text(steady["result"]["idle"])] if steady.get("result") else [])
        parts.append("\n".join(text + run_text(steady)))
    flash = out.get("flash_sale")
    if flash:
        text = [flash_text(flash["result"], note)] if flash.get("result") else []
        parts.append("\n".join(text + run_text(flash)))
    prices = out.get("prices")
    if prices:
        text = [prices_text(prices["result"])] if prices.get("result") else []
        parts.append("\n".join(text + run_text(prices)))
    return "\n\n".join(parts)


def prices_text(r: dict) -> str:
    """Price lookups during the flash sale: cache against store, and over HTTP."""
    def row(name: str, d: dict) -> str:
        return (f"| {name} | {d.get('n', 0)} | {fmt(d.get('p50'))} | {fmt(d.get('p99'))} "
                f"| {fmt(d.get('max'))} |")
    ip, http, flash = r["in_process"], r["http"], r["flash_sale"]
    lines = [(f"Price lookups at {r['rate_per_s']:g}/s each, during a flash sale "
              f"({flash.get('customers')} customers arriving over "
              f"{r.get('arrive_over_s', 0):g} s, {flash.get('seats')} seats)"),
             "", "| lookup | n | p50 ms | p99 ms | max ms |", "|---|---|---|---|---|",
             row("price sheet from the cache (Redis)", ip["cache"]),
             row("price sheet from the store (PostgreSQL)", ip["store"]),
             row("GET /shows/{id}/prices over HTTP", http["latency"]), "",
             (f"store / cache: {ip.get('store_over_cache_p50')}x at p50, "
              f"{ip.get('store_over_cache_p99')}x at p99; the service's own lookups: "
              f"{http.get('hits')} hits, {http.get('misses')} misses, {http.get('failures')} "
              f"failures (hit ratio {http.get('hit_ratio')})")]
    return "\n".join(lines)


def fmt(ms: float | None) -> str:
    return "-" if ms is None else f"{ms:.2f}"


if __name__ == "__main__":
    import sys

    print(rerender(sys.argv[1]))
