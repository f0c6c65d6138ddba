"""The fast path of `mes.telemetry.store`: one statement per batch, the rows handed over as arrays or JSON.

Per-row parameter handling in Python was most of the adapter's CPU (thousands of named placeholders
rendered each batch). Here PostgreSQL receives binary arrays and does the insert and the marking of
the minutes to roll up in one statement; SQLite takes the bulk through executemany and the state and
counter tags' rows as one JSON document. Both return the new rows of those tags, so states and counts
derive from those only, as on the portable path.
"""
from __future__ import annotations

import json
from collections import namedtuple
from datetime import UTC, datetime

from sqlalchemy.orm import Session

New = namedtuple("New", "tag_id source_time value status")

POSTGRESQL = """
WITH new AS (
    INSERT INTO samples (tag_id, source_time, value, text, status, received_at, backfilled)
    SELECT * FROM unnest(CAST(%(tag_id)b AS integer[]), CAST(%(source_time)b AS timestamptz[]),
                         CAST(%(value)b AS double precision[]), CAST(%(text)b AS varchar[]),
                         CAST(%(status)b AS bigint[]), CAST(%(received_at)b AS timestamptz[]),
                         CAST(%(backfilled)b AS boolean[]))
    ON CONFLICT (tag_id, source_time) DO NOTHING
    RETURNING tag_id, source_time, value, status
), pending AS (  -- the minutes to roll up once over (mes.telemetry_rollups); the update takes the row lock
    INSERT INTO rollup_pending (bucket)
    SELECT DISTINCT date_trunc('minute', n.source_time, 'UTC') FROM new n WHERE n.value IS NOT NULL
    ON CONFLICT (bucket) DO UPDATE SET bucket = excluded.bucket
)
SELECT c.inserted, d.tag_id, d.source_time, d.value, d.status
FROM (SELECT count(*) AS inserted FROM new) AS c
LEFT JOIN new AS d ON d.tag_id = ANY(CAST(%(derived)b AS integer[]))
"""

SQLITE_PLAIN = """
INSERT INTO samples (tag_id, source_time, value, text, status, received_at, backfilled) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (tag_id, source_time) DO NOTHING
"""

SQLITE_RETURNING = """
INSERT INTO samples (tag_id, source_time, value, text, status, received_at, backfilled)
SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, j.value ->> 5, j.value ->> 6
FROM json_each(?) AS j WHERE true
ON CONFLICT (tag_id, source_time) DO NOTHING
RETURNING tag_id, source_time, value, status
"""

# One writer at a time on SQLite, so the pending mark needs no row lock (see mes.telemetry_rollups).
SQLITE_PENDING = "INSERT INTO rollup_pending (bucket) VALUES (?) ON CONFLICT (bucket) DO NOTHING"


def store_postgresql(session: Session, rows: list[tuple[int, datetime, float | None, str | None, int, datetime,
                                                         bool]], derived: list[int]) -> tuple[int, list[New]]:
    """Insert samples and mark their minutes in one statement; the new rows of `derived` tags come back."""
    columns = list(zip(*rows, strict=True))
    cursor = session.connection().connection.dbapi_connection.cursor()  # the session's own transaction
    try:
        answer = cursor.execute(POSTGRESQL, {  # %(…)b: binary arrays; text ones cost ten times more to send
            "tag_id": list(columns[0]), "source_time": list(columns[1]), "value": list(columns[2]),
            "text": list(columns[3]), "status": list(columns[4]), "received_at": list(columns[5]),
            "backfilled": list(columns[6]), "derived": derived}).fetchall()
    finally:
        cursor.close()
    return answer[0][0], [New(r[1], r[2].astimezone(UTC), r[3], r[4]) for r in answer if r[1] is not None]


def _sqlite_time(at: datetime) -> str:
    """A time as SQLAlchemy stores it in SQLite: naive UTC text, always with microseconds."""
    if at.tzinfo is not UTC:
        at = at.astimezone(UTC)
    return at.isoformat(" ", "microseconds")[:26]  # isoformat is C; strftime was a fifth of the writer's time


def store_sqlite(session: Session, rows: list[tuple[int, datetime, float | None, str | None, int, datetime, bool]],
                 derived: list[int]) -> tuple[int, list[New]]:
    """Insert samples and mark their minutes; ValueError for a state or count value JSON cannot carry (NaN)."""
    wanted = set(derived)
    received: dict[datetime, str] = {}  # a batch shares a few receive times
    plain, watched = [], []
    for t, at, v, x, s, rx, b in rows:  # the hot loop of the SQLite writer: kept inline
        if at.tzinfo is not UTC:
            at = at.astimezone(UTC)
        row = (t, at.isoformat(" ", "microseconds")[:26], v, x, s, received.get(rx) or received.setdefault(
            rx, _sqlite_time(rx)), b)
        (watched if t in wanted else plain).append(row)
    # Only state and counter tags need to know which rows were new; the bulk goes in without RETURNING,
    # through executemany's C loop, which costs less than half the JSON route.
    payload = json.dumps(watched, allow_nan=False) if watched else None  # before writing: a ValueError writes nothing
    cursor = session.connection().connection.dbapi_connection.cursor()
    try:
        cursor.executemany(SQLITE_PLAIN, plain)
        inserted = max(cursor.rowcount, 0)
        new = cursor.execute(SQLITE_RETURNING, (payload,)).fetchall() if payload else []
        # A replayed minute is marked again: recomputing it gives the same rollup, so a superset is harmless.
        minutes = {r[1][:16] for r in plain if r[2] is not None} | {r[1][:16] for r in new if r[2] is not None}
        if minutes:
            cursor.executemany(SQLITE_PENDING, [(f"{m}:00.000000",) for m in minutes])
    finally:
        cursor.close()
    return inserted + len(new), [New(r[0], datetime.fromisoformat(r[1]).replace(tzinfo=UTC), r[2], r[3]) for r in new]
