"""Smoke tests of the benchmark command: a tiny steady run (shows opened by inventory's
PUT, and shows scheduled through the theatre with customers quoting), and a tiny flash
sale spread over time, each on a fresh system.

Checks that ``python -m bench`` starts a system, drives it, audits it, tears it down
and writes its report; not a measurement (the figures are in docs/benchmarks.md).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]


def test_a_tiny_steady_run_confirms_bookings_and_audits_clean(postgres_server, kafka_bootstrap):
    run = subprocess.run(
        [sys.executable, "-m", "bench", "steady", "--rates", "4", "--duration", "3",
         "--shows", "4", "--seats", "20", "--no-limits", "--hold-seconds", "2", "--idle-seconds", "1",
         "--follow", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    report = json.loads(Path(re.search(r"report: (\S+)", run.stdout).group(1)).read_text())
    steady = report["steady"]
    assert steady["audit"]["ok"], steady["audit"]
    (step,) = steady["result"]["steps"]
    assert step["confirmed"]["total"] > 0
    assert step["outcomes"].get("unsettled", 0) == 0
    # Every customer polled: none saw the status go back, and none saw the hold before the
    # views had it (a booking not projected yet reads as requested, PENDING).
    seen = step["client_latency"]
    assert seen["followed"] == step["bookings"] > 0
    assert seen["bookings_whose_status_went_back"] == 0
    assert seen["held_first_seen_unprojected"] == 0


def test_a_tiny_flash_sale_spread_over_time_sells_exactly_and_tells_every_loser(
    postgres_server, kafka_bootstrap,
) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench", "flash-sale", "--flash-customers", "60",
         "--flash-seats", "6", "--flash-over", "1.5", "--no-limits"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "arriving evenly over 1.5 s (40 customers/s" in run.stdout
    report = json.loads(Path(re.search(r"report: (\S+)", run.stdout).group(1)).read_text())
    assert report["flash_sale"]["audit"]["ok"], report["flash_sale"]["audit"]
    sale = report["flash_sale"]["result"]
    assert sale["exact"] and sale["sold_twice"] == []
    assert sale["losers_told"] == sale["losers"] == 54
    assert sale["arrival_span_s"] > 1.3  # spread as asked, not sent at once
    assert sale["losers_told_from_arrival"]["n"] == 54


def test_a_tiny_steady_run_through_the_theatre_books_with_quotes(
    postgres_server, kafka_bootstrap, redis_server,
) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench", "steady", "--rates", "4", "--duration", "3",
         "--shows", "4", "--seats", "20", "--no-limits", "--hold-seconds", "2", "--idle-seconds", "1",
         "--through-theatre", "--quote"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    report = json.loads(Path(re.search(r"report: (\S+)", run.stdout).group(1)).read_text())
    steady = report["steady"]
    assert steady["audit"]["ok"], steady["audit"]
    (step,) = steady["result"]["steps"]
    assert step["confirmed"]["total"] > 0 and step["quiet_before_window"]
    # Every booking was quoted first, and pricing's CPU is in the report.
    http = step["http"]
    assert http["by_status"]["post_quote 201"] == http["requests"]["post_booking"] == step["bookings"]
    assert not http["errors"] and not http["transport_errors"]
    assert step["cpu"]["ms_per_confirmed"]["pricing"] > 0
