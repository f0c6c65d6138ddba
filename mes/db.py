"""Engine and session factory; the SQLite settings every connection must carry."""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from mes import audit as audit_module
from mes.audit import AuditConfig

log = logging.getLogger(__name__)
READ_ONLY = "mes_read_only"  # execution option: this connection only reads
HOLDS_WRITER_QUEUE = "mes_holds_writer_queue"
WRITER_QUEUE_TIMEOUT_S = 30  # past this, fall back on SQLite's own busy timeout

# Durability and integrity first: a plant's records must survive a power cut.
SQLITE_PRAGMAS = (
    ("journal_mode", "WAL"),
    ("foreign_keys", "ON"),
    ("busy_timeout", "10000"),
    ("synchronous", "FULL"),
)

# The adapters' writer dirties a page per tag several times a second: a larger cache keeps those pages,
# and checkpointing every 20,000 pages instead of SQLite's 1,000 copies each back to the file once, not at
# every commit. Together they took a third off the writer's CPU (benchmarks/ingest.py). A locked database
# is given up on after a second: the adapter then spools, rather than let readings pile up in memory.
SQLITE_BULK_WRITER_PRAGMAS = (("cache_size", "-65536"), ("wal_autocheckpoint", "20000"), ("busy_timeout", "1000"))


def _configure_sqlite(engine: Engine, bulk_writer: bool = False) -> None:
    pragmas = SQLITE_PRAGMAS + (SQLITE_BULK_WRITER_PRAGMAS if bulk_writer else ())

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for name, value in pragmas:
            cursor.execute(f"PRAGMA {name}={value}")
        cursor.close()

    # SQLite's busy handler retries by sleeping (up to 100 ms a try), so writers that collide poll and
    # the unlucky ones wait far longer than the lock is held. Writers of one process queue here instead,
    # in order; only the few processes (gunicorn workers, adapters) still meet on the busy handler.
    writers = threading.Lock()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        # Writers take the write lock up front (IMMEDIATE), so two writers queue instead of one
        # failing when it upgrades a read lock; readers never wait (WAL).
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
            return
        queued = writers.acquire(timeout=WRITER_QUEUE_TIMEOUT_S)
        connection.info[HOLDS_WRITER_QUEUE] = queued
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _leave_queue(connection)
            raise

    def _leave_queue(connection) -> None:  # type: ignore[no-untyped-def]
        if connection.info.pop(HOLDS_WRITER_QUEUE, False):
            writers.release()

    event.listen(engine, "commit", _leave_queue)
    event.listen(engine, "rollback", _leave_queue)


def make_engine(url: str, *, bulk_writer: bool = False, **kwargs: object) -> Engine:
    """Create an engine for `url`; SQLite files get their folder and pragmas (`bulk_writer`: the adapters')."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine, bulk_writer)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_session_factory(engine: Engine, *, read_only: bool = False,
                         audit: AuditConfig | None = None) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (views render after the transaction).

    `read_only` sessions never take SQLite's write lock; use them for pages and queries. `audit` says
    where the audit trail's key and checkpoints are (default: the instance folder of the environment).
    """
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    if audit is None:
        from mes.settings import load_settings

        audit = AuditConfig.for_instance(load_settings().instance_path)
    return sessionmaker(bind, expire_on_commit=False, info={audit_module.CONFIG: audit})
