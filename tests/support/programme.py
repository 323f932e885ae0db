"""An operator's programme in the distributed system (tests/e2e/harness.py), over the
theatre's HTTP API: screens' rows of seats, requests as an operator, and the wait until
inventory has put a show on sale."""

from __future__ import annotations

import time

import httpx


def rows(letters: str, per_row: int) -> list[dict]:
    """Rows ``letters`` of ``per_row`` seats each; the last row Premium, the others Regular."""
    return [{"row": row, "seats": [
        {"number": n, "column": n, "category": "Premium" if row == letters[-1] else "Regular"}
        for n in range(1, per_row + 1)]} for row in letters]


def operator(system, method: str, path: str, body: dict) -> httpx.Response:
    """A request to the theatre as an operator, which must succeed."""
    r = system.clients["theatre"].request(method, path, json=body,
                                          headers=system.auth("ops", operator=True))
    assert r.status_code in (200, 201), r.text
    return r


def on_sale(system, show_id: str, timeout: float = 30) -> None:
    """Until inventory has opened the show (its seats readable)."""
    deadline = time.monotonic() + timeout
    while system.clients["inventory"].get(f"/shows/{show_id}/seats",
                                          headers=system.auth("x")).status_code != 200:
        assert time.monotonic() < deadline, f"{show_id} never went on sale"
        time.sleep(0.1)
