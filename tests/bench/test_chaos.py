"""The two-minute chaos soak: ``python -m bench chaos --minutes 2`` on a fresh system,
every fault kind done once (each process killed, each server killed or crashed and
restarted, a service paused past its timeouts), and the audit at rest clean.

It kills and restarts the servers scripts/infra runs for this checkout: run it alone.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.chaos_schedule import KINDS

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
SEED = 7


def test_a_two_minute_soak_does_every_fault_and_audits_clean(postgres_server, kafka_bootstrap):
    run = subprocess.run(
        [sys.executable, "-m", "bench", "chaos", "--minutes", "2", "--seed", str(SEED)],
        cwd=ROOT, capture_output=True, text=True, timeout=1200, check=False,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    report = json.loads(Path(re.search(r"report: (\S+)", run.stdout).group(1)).read_text())
    done = report["faults_done"]
    assert {f["kind"] for f in done} == set(KINDS)
    assert [f for f in done if "error" in f] == []
    assert report["audit"]["ok"], report["audit"]["checks"]
    assert report["rest"]["quiet"] and report["rest"]["notifications_unsettled"] == 0
    outcomes = report["load"]["outcomes_seen"]
    assert outcomes.get("CONFIRMED", 0) > 0 and outcomes.get("CANCELLED", 0) > 0
    assert report["audit"]["mail"]["by_status"].get("sent", 0) > 0
