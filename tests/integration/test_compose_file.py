"""compose.yaml is valid and names the backing servers.

Needs no server, hence no `infra` marker. Where a Docker client and engine work,
`docker compose config -q` validates the file too; without Docker (as on the dev and CI
machines) PyYAML and the structural checks below are the test.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from importlib.metadata import version
from pathlib import Path

import yaml

from launcher.processes import DATABASES, SERVICES
from shared.config import DEFAULT_VAPID_PRIVATE_KEY, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"


def _docker_works() -> bool:
    docker = shutil.which("docker")
    if not docker:
        return False
    checks = ([docker, "compose", "version"], [docker, "info"])
    return all(
        subprocess.run(argv, capture_output=True, timeout=30, check=False).returncode == 0
        for argv in checks
    )


def test_compose_file_names_the_backing_servers() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert {"postgres", "kafka", "mongo", "redis"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["mongo"]["image"].startswith("mongo:7")
    assert services["redis"]["image"] == "redis:7"
    assert "test" in services["redis"]["healthcheck"]
    for name in ("postgres", "kafka", "mongo"):
        assert "test" in services[name]["healthcheck"], name
        volume = services[name]["volumes"][0].split(":")[0]
        assert volume in compose["volumes"], f"{name} should use a named volume"
    sql = (ROOT / "compose/postgres/init-databases.sql").read_text()
    for database in DATABASES:
        assert f"CREATE DATABASE {database};" in sql

    if _docker_works():
        result = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "config", "-q"],
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr


def test_compose_runs_each_service_from_the_project_image() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for name in SERVICES:
        service = services[name]
        assert service["build"] == "."
        assert service["command"] == ["python", "-m", name]
        assert service["environment"]["CINEMA_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert "test" in service["healthcheck"]
        assert service["environment"]["CINEMA_REDIS_URL"] == "redis://redis:6379/0"
        sends_mail = {"mailpit"} if name == "notifications" else set()
        assert set(service["depends_on"]) == {"postgres", "kafka", "mongo", "redis"} | sends_mail
    assert (ROOT / "Dockerfile").exists()


def test_kafka_image_matches_local_broker_version() -> None:
    config = (ROOT / "scripts/infractl/config.py").read_text()
    version = re.search(r'^KAFKA_VERSION = "([^"]+)"', config, re.MULTILINE).group(1)
    kafka = yaml.safe_load(COMPOSE.read_text())["services"]["kafka"]
    assert kafka["image"] == f"apache/kafka:{version}"


def test_mailpit_runs_the_version_scripts_infra_builds_and_the_services_mail_it() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    mailpit = compose["services"]["mailpit"]
    config = (ROOT / "scripts/infractl/config.py").read_text()
    version = re.search(r'^MAILPIT_VERSION = "([^"]+)"', config, re.MULTILINE).group(1)
    assert mailpit["image"] == f"axllent/mailpit:{version}"
    assert all(port.startswith("127.0.0.1:") for port in mailpit["ports"])
    assert "test" in mailpit["healthcheck"]
    assert mailpit["volumes"][0].split(":")[0] in compose["volumes"]  # kept across restarts
    environment = compose["x-cinema-service"]["environment"]
    assert environment["CINEMA_SMTP_HOST"] == "${CINEMA_SMTP_HOST:-mailpit}"
    assert environment["CINEMA_SMTP_PORT"] == "${CINEMA_SMTP_PORT:-1025}"  # Mailpit's own
    assert DEFAULT_VAPID_PRIVATE_KEY in environment["CINEMA_VAPID_PRIVATE_KEY"]


def test_localstripe_runs_the_version_the_tests_use_on_loopback_only() -> None:
    localstripe = yaml.safe_load(COMPOSE.read_text())["services"]["localstripe"]
    assert localstripe["build"] == "compose/localstripe"
    assert all(port.startswith("127.0.0.1:") for port in localstripe["ports"])
    assert "test" in localstripe["healthcheck"]
    dockerfile = (ROOT / localstripe["build"] / "Dockerfile").read_text()
    assert f"localstripe=={version('localstripe')}" in dockerfile  # as scripts/infra runs it
    assert "--from-scratch" in dockerfile


def test_payment_charges_through_localstripe_which_learns_its_webhook_endpoint() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    payment, register = services["payment"], services["stripe-webhooks"]
    assert payment["environment"]["CINEMA_GATEWAY"].endswith("stripe}")
    assert payment["environment"]["CINEMA_STRIPE_API_BASE"].endswith("http://localstripe:8420}")
    assert register["command"][-2:] == ["payment.webhook_endpoint", "http://payment:8003"]
    assert register["depends_on"]["localstripe"]["condition"] == "service_healthy"
    for name in ("CINEMA_GATEWAY", "CINEMA_STRIPE_API_BASE", "CINEMA_STRIPE_WEBHOOK_SECRET"):
        assert register["environment"][name] == payment["environment"][name]


def test_every_process_is_scraped_and_traced_and_the_dashboard_reads_what_they_export() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert {"otel-collector", "jaeger", "prometheus", "grafana"} <= set(services)
    environment = compose["x-cinema-service"]["environment"]
    assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    scrape = yaml.safe_load((ROOT / "compose/prometheus/prometheus.yml").read_text())
    targets = {job["job_name"]: job["static_configs"][0]["targets"]
               for job in scrape["scrape_configs"]}
    settings = Settings()
    for name in SERVICES:  # every registered service and the projector
        assert targets.get(name) == [f"{name}:{settings.service_port(name)}"], name
    collector = yaml.safe_load((ROOT / "compose/otel-collector/config.yaml").read_text())
    assert collector["exporters"]["otlp/jaeger"]["endpoint"] == "jaeger:4317"
    for name in ("otel-collector", "jaeger", "prometheus", "grafana"):
        for port in services[name].get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)
    dashboard = json.loads((ROOT / "compose/grafana/dashboards/cinema.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for series in ("cinema_stuck_bookings", "cinema_http_requests_total", "cinema_holds_total",
                   "cinema_payments_total", "cinema_messages_consumed_total",
                   "cinema_inbox_lag_messages", "cinema_outbox_backlog_events",
                   "cinema_view_lag_seconds", "cinema_dead_letters_total",
                   "cinema_notifications_total"):
        assert series in exprs, series
