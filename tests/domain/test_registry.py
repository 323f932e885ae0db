"""Each registered service is its package plus its registry entry: the package has the
shape every service has, and compose, the database init script and the Dockerfile know
it (docs/adding-a-service.md is the checklist this keeps honest)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from launcher.processes import DATABASES, SERVICES
from projections.sources import STREAMS
from shared.config import Settings
from shared.contracts import TOPICS
from shared.services import BY_NAME, PACKAGE_MODULES, PROJECTED, PROJECTOR
from shared.services import SERVICES as SPECS
from shared.views import BadToken, parse_token
from shared.wiring import wiring_of
from tests.support.embedded import embedded_system

ROOT = Path(__file__).resolve().parents[2]
NAMES = [s.name for s in SPECS]


@pytest.mark.parametrize("name", NAMES)
def test_the_package_has_the_shape_of_a_service(name: str) -> None:
    package = ROOT / name
    missing = [m for m in PACKAGE_MODULES if not (package / f"{m}.py").is_file()]
    assert not missing, f"{name}/ lacks {missing} (docs/adding-a-service.md)"
    wiring = wiring_of(name)
    for part in ("application", "http", "timers"):
        assert callable(getattr(wiring, part, None)), f"{name}.wiring.{part}"
    main = (package / "__main__.py").read_text()
    assert f'main("{name}")' in main, f"{name}/__main__.py runs launcher.bootstrap.main"


def test_the_applications_are_the_ones_the_registry_names() -> None:
    apps = embedded_system().apps  # built from each service's wiring, like a service's process
    assert list(apps) == NAMES
    for name, app in apps.items():
        assert type(app).__name__ == BY_NAME[name].application  # it names the tables
        assert app.service == name
        assert set(app.subscribes_to) <= set(NAMES) - {name}


def test_everything_that_lists_services_derives_from_the_registry() -> None:
    assert list(TOPICS) == NAMES and len(set(TOPICS.values())) == len(NAMES)
    assert list(DATABASES) == NAMES and list(SERVICES) == [*NAMES, PROJECTOR]
    assert list(STREAMS) == list(PROJECTED)
    s = Settings.from_env({})
    assert {n: s.service_db(n) for n in NAMES} == {n: BY_NAME[n].database for n in NAMES}
    ports = [s.service_port(p) for p in SERVICES]
    assert len(set(ports)) == len(ports), "two processes on one port"
    for name in PROJECTED:
        assert parse_token(f"{name}:12") == (name, 12)
    with pytest.raises(BadToken):
        parse_token("nosuchservice:12")


def test_compose_and_the_init_script_know_every_service() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    sql = (ROOT / "compose/postgres/init-databases.sql").read_text()
    for spec in SPECS:
        service = compose.get(spec.name)
        assert service, f"compose.yaml has no service {spec.name}"
        assert service["command"] == ["python", "-m", spec.name]
        assert any(p.endswith(f":{spec.port}:{spec.port}") for p in service["ports"]), spec.name
        assert f"CREATE DATABASE {spec.database};" in sql, spec.name


def test_the_image_holds_every_service() -> None:
    copied = set(re.findall(r"^COPY (\S+) \1$", (ROOT / "Dockerfile").read_text(), re.MULTILINE))
    assert {*NAMES, PROJECTOR, "shared", "launcher"} <= copied
