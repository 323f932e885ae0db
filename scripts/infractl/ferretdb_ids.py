"""An index that FerretDB v1's lookups by `_id` can use.

FerretDB v1 (PostgreSQL backend) keeps a collection as a table of `_jsonb` documents with
a unique btree index on `(_jsonb -> '_id')`, but it pushes an `_id` filter down as
`_jsonb -> $1 @> $2`: containment, which a btree cannot answer. Every `find_one`,
`replace_one` or `update_one` by `_id` therefore scans the whole table (FerretDB issues
#4646 and #4209; v2 no longer has this layout). A GIN index on the same expression answers
containment, so the scan becomes an index lookup, whose cost does not grow with the
collection.

An event trigger in FerretDB's PostgreSQL database adds the index to every table created
there from now on, whoever creates it (the projector, a rebuild, a test), and `install`
adds it to the tables that exist already. Nothing in the application knows: on MongoDB
itself `_id` is indexed anyway.
"""

from __future__ import annotations

from typing import Any

FUNCTION = "cinema_ferretdb_id_gin"

# One definition of the index, for the trigger and for the tables already there.
_INDEX = """
CREATE OR REPLACE FUNCTION {function}_on(tbl oid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    rel record;
BEGIN
    SELECT c.relname, n.nspname INTO rel
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = tbl AND c.relkind = 'r';
    IF rel IS NULL OR NOT EXISTS (
        SELECT 1 FROM pg_attribute
         WHERE attrelid = tbl AND attname = '_jsonb' AND NOT attisdropped) THEN
        RETURN;  -- not one of FerretDB's document tables
    END IF;
    IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                 JOIN pg_am am ON am.oid = ic.relam
                WHERE i.indrelid = tbl AND am.amname = 'gin') THEN
        RETURN;  -- indexed already (FerretDB itself makes btrees only)
    END IF;
    -- Named after the table and its oid: unique however long FerretDB's table names are.
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gin ((_jsonb -> ''_id'') jsonb_path_ops)',
                   left(rel.relname, 40) || '_id_gin_' || tbl, rel.nspname, rel.relname);
END $$;

CREATE OR REPLACE FUNCTION {function}() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE
    cmd record;
BEGIN
    FOR cmd IN SELECT objid FROM pg_event_trigger_ddl_commands()
                WHERE command_tag = 'CREATE TABLE' AND object_type = 'table' LOOP
        PERFORM {function}_on(cmd.objid);
    END LOOP;
END $$;
"""

_TRIGGER = """
CREATE EVENT TRIGGER {function} ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
    EXECUTE FUNCTION {function}()
"""

_EXISTING = """
SELECT {function}_on(c.oid)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
"""


def install(conn: Any) -> None:
    """Install the trigger in the database `conn` is connected to (FerretDB's), and index
    the document tables already there. Idempotent. `conn` is a psycopg connection of a
    superuser (event triggers need one), in autocommit mode."""
    from psycopg import errors, sql

    conn.execute(_INDEX.format(function=FUNCTION))
    if conn.execute("SELECT 1 FROM pg_event_trigger WHERE evtname = %s", (FUNCTION,)).fetchone() is None:
        try:
            conn.execute(_TRIGGER.format(function=FUNCTION))
        except errors.DuplicateObject:
            pass  # a concurrent `up` created it meanwhile
    conn.execute(_EXISTING.format(function=FUNCTION))
    # FerretDB prepares its statements, and with `_id` as a parameter the generic plan
    # cannot use the index: PostgreSQL keeps choosing it once a few custom plans cost
    # about as much, and every lookup scans again. Custom plans always.
    conn.execute(sql.SQL("ALTER DATABASE {} SET plan_cache_mode = force_custom_plan").format(
        sql.Identifier(conn.info.dbname)))
