"""The domain modules do no I/O: they import nothing of Kafka, PostgreSQL, MongoDB or HTTP."""


import pytest

from shared.services import NAMES, PROJECTOR
from tests.support.imports import imported_roots
from tests.support.paths import ROOT

DOMAIN_MODULES = [f"{name}/domain.py" for name in NAMES]
FORBIDDEN = {"confluent_kafka", "psycopg", "psycopg_pool", "pymongo", "litestar", "uvicorn",
             "httpx", "socket", "requests", "apscheduler", "sqlite3", "redis", "stripe"}


@pytest.mark.parametrize("module", DOMAIN_MODULES)
def test_domain_imports_no_infrastructure(module):
    assert not imported_roots(ROOT / module) & FORBIDDEN


@pytest.mark.parametrize("module", DOMAIN_MODULES)
def test_domain_imports_no_other_service(module):
    own = module.split("/")[0]
    others = {*NAMES, PROJECTOR} - {own}
    assert not imported_roots(ROOT / module) & others
