"""The domain modules do no I/O: they import nothing of Kafka, PostgreSQL, MongoDB or HTTP."""

import ast
from pathlib import Path

import pytest

from shared.services import NAMES, PROJECTOR

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_MODULES = [f"{name}/domain.py" for name in NAMES]
FORBIDDEN = {"confluent_kafka", "psycopg", "psycopg_pool", "pymongo", "litestar", "uvicorn",
             "httpx", "socket", "requests", "apscheduler", "sqlite3"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("module", DOMAIN_MODULES)
def test_domain_imports_no_infrastructure(module):
    assert not imported_roots(ROOT / module) & FORBIDDEN


@pytest.mark.parametrize("module", DOMAIN_MODULES)
def test_domain_imports_no_other_service(module):
    own = module.split("/")[0]
    others = {*NAMES, PROJECTOR} - {own}
    assert not imported_roots(ROOT / module) & others
