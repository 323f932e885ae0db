"""Bearer tokens: who may call what, and what an anonymous caller is told."""

import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import jwt
import pytest

from shared.http.auth import issue_token, read_token
from tests.support.api import LAYOUT
from tests.support.tokens import ALICE, SECRET, bearer


@pytest.mark.parametrize(
    "headers, says",
    [
        ({}, "Authorization: Bearer"),
        ({"Authorization": "Basic YWxpY2U6c2VjcmV0"}, "Authorization: Bearer"),
        ({"Authorization": "Bearer not-a-token"}, "invalid"),
        ({"Authorization": f"Bearer {issue_token('another-secret-of-32-bytes-at-least', 'x')}"},
         "invalid"),
        (bearer("alice", ttl=timedelta(seconds=-5)), "expired"),
    ],
    ids=["missing", "other-scheme", "garbage", "wrong-secret", "expired"],
)
def test_unauthenticated_requests_get_401(api, headers, says):
    r = api.booking.get("/bookings", headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.json()["error"] == "unauthorized" and says in r.json()["message"]


def test_401_comes_before_body_validation(api):
    r = api.booking.post("/bookings", json={"nonsense": True})
    assert r.status_code == 401


def test_token_without_expiry_is_refused(api):
    token = jwt.encode({"sub": "alice"}, SECRET, algorithm="HS256")
    r = api.booking.get("/bookings", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_token_with_a_too_long_subject_is_refused():
    token = jwt.encode({"sub": "x" * 65, "exp": 4102444800}, SECRET, algorithm="HS256")
    with pytest.raises(Exception, match="1..64"):
        read_token(SECRET, token)


def test_customer_cannot_open_a_show(api):
    r = api.inventory.put("/shows/show-1/inventory", json=LAYOUT, headers=ALICE)
    assert r.status_code == 403 and r.json()["error"] == "forbidden"


def test_payment_is_for_operators(api):
    api.open_show()
    booking_id = api.book().json()["booking_id"]
    r = api.payment.get(f"/bookings/{booking_id}/payment", headers=ALICE)
    assert r.status_code == 403


def test_token_roundtrip():
    caller = read_token(SECRET, issue_token(SECRET, "ops", ["operator"]))
    assert caller.customer_id == "ops" and caller.is_operator
    assert not read_token(SECRET, issue_token(SECRET, "alice")).is_operator


def test_cli_prints_a_token_for_the_configured_secret():
    env = {"CINEMA_TOKEN_SECRET": SECRET, "PATH": ""}
    out = subprocess.run(
        [sys.executable, "-m", "shared.http.auth", "ops", "--operator", "--ttl-hours", "2"],
        capture_output=True, text=True, check=True, env=env, cwd=Path(__file__).parents[2],
    ).stdout.strip()
    caller = read_token(SECRET, out)
    assert caller.customer_id == "ops" and caller.is_operator


def test_a_token_seen_before_is_still_refused_once_it_expires(api):
    # Verified tokens are remembered until they expire, not beyond.
    headers = bearer("alice", ttl=timedelta(seconds=2))
    assert api.booking.get("/bookings", headers=headers).status_code == 200
    assert api.booking.get("/bookings", headers=headers).status_code == 200  # remembered
    time.sleep(2.1)
    r = api.booking.get("/bookings", headers=headers)
    assert r.status_code == 401 and "expired" in r.json()["message"]
