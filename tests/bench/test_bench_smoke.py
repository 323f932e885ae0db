"""Smoke test of the benchmark command: a tiny steady run on a fresh system.

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
         "--shows", "4", "--seats", "20", "--no-limits", "--hold-seconds", "2", "--idle-seconds", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    report = json.loads(Path(re.search(r"report: (\S+)", run.stdout).group(1)).read_text())
    steady = report["steady"]
    assert steady["audit"]["ok"], steady["audit"]
    (step,) = steady["result"]["steps"]
    assert step["confirmed"]["total"] > 0
    assert step["outcomes"].get("unsettled", 0) == 0
