"""scripts/infra on servers that are already up: `up` is harmless and fast, `status` and
`env` agree with what the fixtures use, one server stops and starts alone. (`down` of all
is checked by scripts/check-infra-lifecycle, which CI runs before the suite, since the
suite itself needs the servers.)
"""

from __future__ import annotations

import os
import re
import smtplib
import subprocess
import time
import urllib.request
import uuid

import pytest

from tests.support.mailpit import mailpit_stopped
from tests.support.paths import ROOT
from tests.support.servers import Endpoints, infra, pg_connect

pytestmark = pytest.mark.infra

SERVERS = ("postgres", "kafka", "ferretdb", "redis", "stripe", "mailpit")


def status_pids() -> dict[str, int]:
    result = infra("status")
    assert result.returncode == 0, f"status says not all up:\n{result.stdout}{result.stderr}"
    pids = {}
    for line in result.stdout.splitlines():
        match = re.match(r"(\w+)\s+up\s+127\.0\.0\.1:\d+.*\bpid (\d+)", line)
        if match:
            pids[match.group(1)] = int(match.group(2))
    assert set(pids) == set(SERVERS), result.stdout
    return pids


def test_second_up_is_harmless_and_fast(postgres_server, kafka_bootstrap, mongo_client,
                                        redis_server, stripe_server, mailpit) -> None:
    before = status_pids()
    started = time.monotonic()
    result = infra("up")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("already up") == len(SERVERS), result.stdout
    assert elapsed < 15, f"a second `up` took {elapsed:.1f}s"
    assert status_pids() == before  # nothing was restarted
    mongo_client.admin.command("ping")  # and the servers still answer
    assert redis_server.ping()
    with urllib.request.urlopen(urllib.request.Request(
            f"{stripe_server}/v1/payment_intents", headers={"Authorization": "Bearer sk_test_x"})
    ) as response:
        assert response.status == 200
    assert mailpit.answers()


def test_env_agrees_with_fixture_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CINEMA_POSTGRES_HOST", "CINEMA_POSTGRES_PORT", "CINEMA_POSTGRES_USER",
                 "CINEMA_POSTGRES_PASSWORD", "CINEMA_KAFKA_BOOTSTRAP", "CINEMA_MONGO_URL",
                 "CINEMA_REDIS_URL", "CINEMA_STRIPE_API_BASE", "CINEMA_SMTP_HOST",
                 "CINEMA_SMTP_PORT", "CINEMA_MAILPIT_API"):
        monkeypatch.delenv(name, raising=False)
    result = infra("env", env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    exported = dict(re.findall(r"^export (\w+)=(.*)$", result.stdout, re.MULTILINE))
    expected = Endpoints.from_env()
    assert exported["CINEMA_POSTGRES_HOST"] == expected.pg_host
    assert int(exported["CINEMA_POSTGRES_PORT"]) == expected.pg_port
    assert exported["CINEMA_POSTGRES_USER"] == expected.pg_user
    assert exported["CINEMA_KAFKA_BOOTSTRAP"] == expected.kafka_bootstrap
    assert exported["CINEMA_MONGO_URL"] == expected.mongo_url
    assert exported["CINEMA_REDIS_URL"] == expected.redis_url
    assert exported["CINEMA_STRIPE_API_BASE"] == expected.stripe_api_base
    assert exported["CINEMA_SMTP_HOST"] == expected.smtp_host
    assert int(exported["CINEMA_SMTP_PORT"]) == expected.smtp_port
    assert exported["CINEMA_MAILPIT_API"] == expected.mailpit_api


def test_mailpit_stops_and_starts_alone_and_keeps_its_messages(mailpit, endpoints) -> None:
    """`scripts/infra down mailpit` / `up mailpit`: the others keep running untouched, and
    the messages stored before are there after (Mailpit's database is in .data)."""
    message_id = f"<infra.{uuid.uuid4().hex}@cinema-saga>"
    with smtplib.SMTP(endpoints.smtp_host, endpoints.smtp_port, timeout=5) as smtp:
        smtp.sendmail("infra@cinema-saga.example", ["test@cinema-saga.example"],
                      f"Message-ID: {message_id}\r\nSubject: kept\r\n\r\nacross a restart\r\n")
    mailpit.wait_for(message_id)
    before = status_pids()
    try:
        with mailpit_stopped(mailpit):
            assert not mailpit.answers()
            with pytest.raises(OSError):
                smtplib.SMTP(endpoints.smtp_host, endpoints.smtp_port, timeout=2)
            result = infra("status")
            assert result.returncode == 3, result.stdout
            assert re.search(r"^mailpit\s+down", result.stdout, re.MULTILINE), result.stdout
        after = status_pids()
        assert after["mailpit"] != before["mailpit"]
        assert {k: v for k, v in after.items() if k != "mailpit"} == {
            k: v for k, v in before.items() if k != "mailpit"}
        assert mailpit.copies(message_id) == 1
    finally:
        mailpit.delete_message_id(message_id)


def test_only_the_servers_that_stand_alone_start_or_stop_alone() -> None:
    for args in (("down", "postgres"), ("up", "kafka"), ("up", "mailpit", "redis")):
        result = infra(*args)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "redis|stripe|mailpit" in result.stderr


def durability_shown(ep: Endpoints) -> dict[str, str]:
    with pg_connect(ep, autocommit=True) as conn:
        return {name: conn.execute(f"SHOW {name}").fetchone()[0]
                for name in ("fsync", "synchronous_commit", "full_page_writes")}


def test_scripts_run_runs_postgres_durable_and_the_tests_do_not(postgres_server) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CINEMA_PG_DURABLE"}
    try:
        result = subprocess.run([str(ROOT / "scripts/run"), "--servers-only"], env=env,
                                capture_output=True, text=True, timeout=300, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "(durable)" in result.stdout, result.stdout
        assert durability_shown(postgres_server) == dict.fromkeys(
            ("fsync", "synchronous_commit", "full_page_writes"), "on")
    finally:  # back to the test cluster's settings, as scripts/test starts it
        restored = infra("up", env={**env, "CINEMA_PG_DURABLE": "0"})
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert set(durability_shown(postgres_server).values()) == {"off"}
