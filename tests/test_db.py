"""The database: per-connection SQLite settings, UTC times, migrations from empty on both databases."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text

from mes.db import READ_ONLY, make_engine
from mes.migrate import is_current, upgrade
from mes.models import Base, Plant


def test_every_sqlite_connection_has_wal_foreign_keys_busy_timeout_and_full_sync(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}").execution_options(**{READ_ONLY: True})
    # Two connections held at once: the settings must be on each, not only the first.
    with engine.connect() as first, engine.connect() as second:
        for connection in (first, second):
            pragmas = {name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                       for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")}
            assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 10000, "synchronous": 2}
    engine.dispose()


def test_sqlite_refuses_a_row_pointing_nowhere(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'fk.db'}"
    upgrade(url)
    engine = make_engine(url)
    with pytest.raises(Exception, match="FOREIGN KEY"), engine.begin() as connection:
        connection.execute(text("INSERT INTO stations (line_id, code, name, calendar_id, self_checks, active) "
                                "VALUES (999, 'X', 'x', 999, '[]', 1)"))
    engine.dispose()


def test_times_are_stored_in_utc_and_come_back_aware(sessions) -> None:
    shanghai = timezone(timedelta(hours=8))
    loaded = datetime(2026, 3, 1, 8, 30, tzinfo=shanghai)
    with sessions.begin() as session:
        session.add(Plant(id=1, name="p", timezone="Asia/Shanghai", target_satellites_per_year=200,
                          spares_allowance="0.08", serial_format="{prefix}-{seq}", config_hash="x", loaded_at=loaded))
    with sessions() as session:
        back = session.scalars(select(Plant)).one().loaded_at
    assert back == loaded and back.tzinfo is not None and back.utcoffset() == timedelta(0)
    assert back.hour == 0


def test_naive_datetimes_are_refused(sessions) -> None:
    with pytest.raises(Exception, match="naive datetime"), sessions.begin() as session:
        session.add(Plant(id=1, name="p", timezone="UTC", target_satellites_per_year=1, spares_allowance="0",
                          serial_format="{prefix}-{seq}", config_hash="x", loaded_at=datetime(2026, 1, 1)))


def _assert_migrated_matches_models(url: str) -> None:
    engine = make_engine(url)
    assert not inspect(engine).get_table_names(), "the database should start empty"
    upgrade(url)
    assert is_current(engine)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
    upgrade(url)  # a second upgrade is a no-op
    engine.dispose()


def test_migrations_build_the_schema_from_empty_on_sqlite(tmp_path) -> None:
    _assert_migrated_matches_models(f"sqlite:///{tmp_path / 'empty.db'}")


def test_migrations_build_the_schema_from_empty_on_postgresql(scratch_postgres) -> None:
    url = scratch_postgres.create()
    try:
        _assert_migrated_matches_models(url)
    finally:
        scratch_postgres.drop(url)
