"""Where the tests find the checkout, and where they keep what outlives a test."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
E2E_LOGS = ROOT / ".data" / "e2e-logs"  # each distributed system's service logs, kept
