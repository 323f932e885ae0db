"""Who calls the HTTP APIs in tests: bearer tokens signed with the tests' secret (the
apps under test are given ``Settings(token_secret=SECRET)``)."""

from __future__ import annotations

from datetime import timedelta

from shared.http.auth import issue_token

SECRET = "test-secret-long-enough-for-hs256-0123456789"


def bearer(subject: str, operator: bool = False, ttl: timedelta = timedelta(hours=1)) -> dict:
    """The ``Authorization`` header of ``subject``, an operator or a customer."""
    roles = ["operator"] if operator else []
    return {"Authorization": f"Bearer {issue_token(SECRET, subject, roles, ttl)}"}


OPERATOR = bearer("ops", operator=True)
ALICE = bearer("alice")
BOB = bearer("bob")
