"""The fast path of `mes.telemetry.store`: one statement per batch, the rows handed over as arrays or JSON.

Per-row parameter handling in Python was most of the adapter's CPU (thousands of named placeholders
rendered each batch). Here PostgreSQL receives binary arrays and does the insert and the minute/hour
rollups in one statement; SQLite receives one JSON document and aggregates the rollups itself. Both
return the rows that were new, so states and counts derive from those only, as on the portable path.
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
), rolled AS (
    INSERT INTO tag_rollups AS r (tag_id, resolution, bucket, count, minimum, maximum, total)
    SELECT n.tag_id, v.res, date_trunc(v.res, n.source_time, 'UTC'), count(*), min(n.value), max(n.value),
           sum(n.value)
    FROM new n CROSS JOIN (VALUES ('minute'), ('hour')) AS v(res)
    WHERE n.value IS NOT NULL
    GROUP BY n.tag_id, v.res, date_trunc(v.res, n.source_time, 'UTC')
    ON CONFLICT (tag_id, resolution, bucket) DO UPDATE SET count = r.count + excluded.count,
        minimum = least(r.minimum, excluded.minimum), maximum = greatest(r.maximum, excluded.maximum),
        total = r.total + excluded.total
)
SELECT c.inserted, d.tag_id, d.source_time, d.value, d.status
FROM (SELECT count(*) AS inserted FROM new) AS c
LEFT JOIN new AS d ON d.tag_id = ANY(CAST(%(derived)b AS integer[]))
"""

SQLITE_SAMPLES = """
INSERT INTO samples (tag_id, source_time, value, text, status, received_at, backfilled)
SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, j.value ->> 5, j.value ->> 6
FROM json_each(?) AS j WHERE true
ON CONFLICT (tag_id, source_time) DO NOTHING
RETURNING tag_id, source_time, value, status
"""

# Buckets are written in the text form SQLAlchemy gives SQLite datetimes, so both paths meet in one row.
SQLITE_ROLLUPS = """
INSERT INTO tag_rollups (tag_id, resolution, bucket, count, minimum, maximum, total)
SELECT j.value ->> 0, v.res,
       CASE v.res WHEN 'minute' THEN substr(j.value ->> 1, 1, 16) || ':00.000000'
                  ELSE substr(j.value ->> 1, 1, 13) || ':00:00.000000' END AS b,
       count(*), min(j.value ->> 2), max(j.value ->> 2), sum(j.value ->> 2)
FROM json_each(?) AS j CROSS JOIN (SELECT 'minute' AS res UNION ALL SELECT 'hour') AS v
WHERE j.value ->> 2 IS NOT NULL
GROUP BY j.value ->> 0, v.res, b
ON CONFLICT (tag_id, resolution, bucket) DO UPDATE SET count = count + excluded.count,
    minimum = min(minimum, excluded.minimum), maximum = max(maximum, excluded.maximum), total = total + excluded.total
"""


def store_postgresql(session: Session, rows: list[tuple[int, datetime, float | None, str | None, int, datetime,
                                                         bool]], derived: list[int]) -> tuple[int, list[New]]:
    """Insert samples and roll them up in one statement; the new rows of `derived` tags come back."""
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


def _sqlite_time(at: datetime, cache: dict[datetime, str]) -> str:
    """A time as SQLAlchemy stores it in SQLite: naive UTC text, always with microseconds."""
    text = cache.get(at)
    if text is None:
        text = cache[at] = f"{at.astimezone(UTC):%Y-%m-%d %H:%M:%S.%f}"
    return text


def store_sqlite(session: Session, rows: list[tuple[int, datetime, float | None, str | None, int, datetime, bool]],
                 derived: list[int]) -> tuple[int, list[New]]:
    """Insert samples from one JSON document and roll them up; ValueError for a value JSON cannot carry (NaN)."""
    times: dict[datetime, str] = {}
    payload = json.dumps([(t, _sqlite_time(at, times), v, x, s, _sqlite_time(rx, times), b)
                          for t, at, v, x, s, rx, b in rows], allow_nan=False)
    cursor = session.connection().connection.dbapi_connection.cursor()
    try:
        returned = cursor.execute(SQLITE_SAMPLES, (payload,)).fetchall()
        if returned:
            cursor.execute(SQLITE_ROLLUPS, (json.dumps(returned),))
    finally:
        cursor.close()
    wanted = set(derived)
    return len(returned), [New(r[0], datetime.fromisoformat(r[1]).replace(tzinfo=UTC), r[2], r[3])
                           for r in returned if r[0] in wanted]
