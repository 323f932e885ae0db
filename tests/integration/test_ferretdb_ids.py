"""FerretDB v1 finds documents by `_id` through an index (scripts/infractl/ferretdb_ids.py):
without it each `find_one` / `replace_one` by `_id` scans the collection's table."""

from __future__ import annotations

import time

import pytest
from psycopg import sql

from scripts.infractl.config import FERRETDB_DATABASE
from tests.support.servers import pg_connect

pytestmark = pytest.mark.infra


@pytest.fixture
def ferret_pg(mongo_client, postgres_server):
    if "ferretdbVersion" not in mongo_client.admin.command("buildInfo"):
        pytest.skip("the server is MongoDB itself, which indexes _id")
    with pg_connect(postgres_server, FERRETDB_DATABASE, autocommit=True) as conn:
        yield conn


def _table(conn, schema: str, collection: str) -> str:
    (table,) = conn.execute(
        sql.SQL("SELECT _jsonb ->> 'table' FROM {}._ferretdb_database_metadata "
                "WHERE _jsonb ->> '_id' = %s").format(sql.Identifier(schema)), (collection,)).fetchone()
    return table


def _gin_scans(conn, schema: str, table: str) -> int:
    row = conn.execute("SELECT idx_scan FROM pg_stat_user_indexes WHERE schemaname = %s "
                       "AND relname = %s AND indexrelname LIKE '%%\\_id\\_gin\\_%%'",
                       (schema, table)).fetchone()
    return row[0] if row else -1


def test_a_new_collection_gets_the_index_and_lookups_use_it(mongo_db, ferret_pg) -> None:
    bookings = mongo_db["bookings"]
    bookings.insert_many([{"_id": f"b{i:04d}", "status": "CONFIRMED"} for i in range(500)])
    table = _table(ferret_pg, mongo_db.name, "bookings")
    assert _gin_scans(ferret_pg, mongo_db.name, table) >= 0, "the trigger made no index"

    plan = mongo_db.command("explain", {"find": "bookings", "filter": {"_id": "b0042"}})
    assert "_id_gin" in str(plan["queryPlanner"]), plan["queryPlanner"]

    # What FerretDB executes (prepared statements, `_id` a parameter) must use it too, also
    # after the first five executions, when PostgreSQL may switch to a generic plan.
    before = _gin_scans(ferret_pg, mongo_db.name, table)
    for i in range(20):
        assert bookings.find_one({"_id": f"b{i * 7:04d}"})["status"] == "CONFIRMED"
        bookings.replace_one({"_id": f"b{i * 7:04d}"}, {"status": "CANCELLED"})
    deadline = time.monotonic() + 30  # busy backends report statistics every 1-10 s
    while _gin_scans(ferret_pg, mongo_db.name, table) < before + 40 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _gin_scans(ferret_pg, mongo_db.name, table) >= before + 40
    assert bookings.count_documents({"status": "CANCELLED"}) == 20


def test_ferretdb_database_plans_each_statement_with_its_values(ferret_pg, postgres_server) -> None:
    # A fresh session, as FerretDB's pool opens them: the database's setting applies.
    with pg_connect(postgres_server, FERRETDB_DATABASE) as conn:
        assert conn.execute("SHOW plan_cache_mode").fetchone()[0] == "force_custom_plan"
