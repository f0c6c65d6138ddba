"""Cheap per-test database state: empty only the tables a test wrote, put the plant back from a snapshot.

Most tests start from the default 15-line plant and end by emptying the database. Done the plain way,
that was most of the suite's database cost: `load_plant` takes about 0.25 s on SQLite and 0.75 s on
PostgreSQL, and on PostgreSQL a TRUNCATE of all ~50 tables took about a second more (it gives every
table and index a new file). So instead:

- `empty_all_tables` DELETEs from just the tables that hold rows and restarts the id sequences that were
  used: a few milliseconds, and afterwards the database is as a TRUNCATE ... RESTART IDENTITY leaves it.
- `PlantSnapshot` runs the real `load_plant` once per test session, in a database of its own, keeps the
  rows it wrote, and copies them into each test's database with one bulk INSERT per table (10-50 ms).
  Its audit rows are not copied but recorded again through `mes.audit`, so they are chained with the
  test's own audit key and checkpointed in the test's instance folder, as `load_plant` would have.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, insert, select, text
from sqlalchemy.orm import Session

from mes import audit
from mes.audit import AuditConfig
from mes.db import make_engine, make_session_factory
from mes.models import Base
from mes.models.audit import AuditHead, AuditRow
from mes.plant_config import PlantConfig
from mes.plant_loader import load_plant

AUDIT_TABLES = {AuditRow.__tablename__, AuditHead.__tablename__}
# What `mes.audit.record` takes; the time, the user's name, the numbering and the hashes it makes itself.
AUDIT_FIELDS = ("user_id", "action", "entity", "entity_id", "old", "new", "reason")


# PostgreSQL's id sequences that have handed out a value since they were made or restarted:
# (the table that owns the sequence, the sequence, the last value it handed out).
USED_SEQUENCES = """
    SELECT owner.relname, format('%I.%I', s.schemaname, s.sequencename), s.last_value
    FROM pg_sequences s
    JOIN pg_depend d ON d.objid = format('%I.%I', s.schemaname, s.sequencename)::regclass
                    AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
    JOIN pg_class owner ON owner.oid = d.refobjid
    WHERE s.schemaname = current_schema() AND s.last_value IS NOT NULL"""


# PostgreSQL: the size of every table's data, live rows and dead ones that autovacuum has not reclaimed yet.
TABLE_BYTES = ("SELECT coalesce(sum(pg_relation_size(oid)), 0) FROM pg_class "
               "WHERE relkind = 'r' AND relnamespace = CAST(current_schema() AS regnamespace)")
TRUNCATE_ABOVE_BYTES = 8 * 1024 * 1024


def is_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def tables_with_rows(connection: Any, tables: list[Table]) -> set[str]:
    """The names of the `tables` that hold at least one row, in one query."""
    probes = [f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM \"{t.name}\")" for t in tables]
    return set(connection.execute(text(" UNION ALL ".join(probes))).scalars())


def empty_all_tables(engine: Engine) -> None:
    """Delete every row (Alembic's version row kept), children first, and start the ids at 1 again.

    Only the tables that hold rows are touched, by DELETE: a test writes to a few of them, and a TRUNCATE
    of them all cost about a second a test on PostgreSQL. But there a DELETE leaves dead rows that the next
    tests read through until autovacuum reclaims them (the demo's history left 35 MB, and the tests after it
    ran twice as long). So once the tables hold more than TRUNCATE_ABOVE_BYTES, live or dead, they are
    TRUNCATEd after all, which gives the space back at once.
    """
    tables = list(reversed(Base.metadata.sorted_tables))
    with engine.begin() as connection:
        if is_postgresql(engine) and connection.execute(text(TABLE_BYTES)).scalar_one() > TRUNCATE_ABOVE_BYTES:
            names = ", ".join(f'"{t.name}"' for t in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            return
        occupied = tables_with_rows(connection, tables)
        if "units" in occupied:
            # units and step_executions point at each other; cut that link first.
            connection.execute(text("UPDATE units SET current_execution_id = NULL"))
        for table in tables:
            if table.name in occupied:
                connection.execute(table.delete())
        if is_postgresql(engine):
            # What RESTART IDENTITY did: every sequence a test drew from starts at 1 again (even one
            # whose rows were rolled back). SQLite needs nothing: without AUTOINCREMENT an empty
            # table's ids start at 1 by themselves.
            for _, name, _ in connection.execute(text(USED_SEQUENCES)):
                connection.execute(text(f"ALTER SEQUENCE {name} RESTART"))


@dataclass(frozen=True)
class PlantSnapshot:
    """The rows `load_plant` writes into an empty database for one configuration, to copy into others.

    `tables`: (table, rows) in the order of their foreign keys, rows as `load_plant` left them, ids
    included; `sequences`: where `load_plant` left PostgreSQL's id sequences (none on SQLite; those of the
    audit tables are left to the audit rows recorded again);
    `audit_entries`: what `load_plant` recorded in the audit trail, to record again in the test's chain.
    """

    tables: list[tuple[Table, list[dict[str, Any]]]]
    sequences: list[tuple[str, int]]
    audit_entries: list[dict[str, Any]]

    @classmethod
    def take(cls, url: str, config: PlantConfig, instance_path: Path) -> PlantSnapshot:
        """Load `config` with `load_plant` into the empty, migrated database at `url`, and keep its rows."""
        engine = make_engine(url)
        try:
            sessions = make_session_factory(engine, audit=AuditConfig.for_instance(instance_path))
            with sessions.begin() as session:
                load_plant(session, config)
            with engine.connect() as connection:
                tables = []
                for table in Base.metadata.sorted_tables:
                    keys = [c.key for c in table.columns]
                    rows = [dict(zip(keys, row, strict=True)) for row in connection.execute(select(table))]
                    if rows and table.name not in AUDIT_TABLES:
                        tables.append((table, rows))
                used = connection.execute(text(USED_SEQUENCES)) if is_postgresql(engine) else []
                sequences = [(name, value) for table_name, name, value in used if table_name not in AUDIT_TABLES]
                audit_rows = connection.execute(select(AuditRow).order_by(AuditRow.seq)).mappings()
                audit_entries = [{field: row[field] for field in AUDIT_FIELDS} for row in audit_rows]
        finally:
            engine.dispose()
        return cls(tables, sequences, audit_entries)

    def restore(self, session: Session) -> None:
        """Write the plant into the (empty) database of `session`, in the session's transaction."""
        connection = session.connection()
        for table, rows in self.tables:
            connection.execute(insert(table), rows)
        if self.sequences:
            # The rows came with their ids, so the sequences did not move: put them where load_plant left them.
            connection.execute(text("SELECT setval(CAST(:name AS regclass), :value)"),
                               [{"name": name, "value": value} for name, value in self.sequences])
        for entry in self.audit_entries:
            audit.record(session, **entry)
