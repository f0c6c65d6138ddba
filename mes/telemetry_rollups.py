"""Minute and hour rollups, recomputed from the raw samples once a minute is over.

`mes.telemetry.store` only marks the minutes its new samples fall in (`rollup_pending`); `roll_up`
then recomputes each closed pending minute from the raw samples and each hour it touches from its
minutes, replacing what was there. Recomputing (rather than adding to) the rows keeps them exact
whatever arrives late, twice or after a crash: a minute stays pending until its recompute commits.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, select, text
from sqlalchemy.orm import Session

from mes.models import RollupPending
from mes.models.base import UTCDateTime

# Samples of a minute still arrive a little after it ends (batch windows, publishing intervals).
SETTLE = timedelta(seconds=10)
MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)

_REPLACE = """ON CONFLICT (tag_id, resolution, bucket) DO UPDATE SET count = excluded.count,
    minimum = excluded.minimum, maximum = excluded.maximum, total = excluded.total"""
# `tag_id IN (tags)` makes both databases seek each tag's run of the (tag_id, source_time) key
# instead of scanning the whole table for a time range.
_MINUTE = text(f"""
INSERT INTO tag_rollups (tag_id, resolution, bucket, count, minimum, maximum, total)
SELECT tag_id, 'minute', :start, count(*), min(value), max(value), sum(value) FROM samples
WHERE tag_id IN (SELECT id FROM tags) AND source_time >= :start AND source_time < :end AND value IS NOT NULL
GROUP BY tag_id
{_REPLACE}""")
_HOUR = text(f"""
INSERT INTO tag_rollups (tag_id, resolution, bucket, count, minimum, maximum, total)
SELECT tag_id, 'hour', :start, sum(count), min(minimum), max(maximum), sum(total) FROM tag_rollups
WHERE tag_id IN (SELECT id FROM tags) AND resolution = 'minute' AND bucket >= :start AND bucket < :end
GROUP BY tag_id
{_REPLACE}""")
_TIMES = (bindparam("start", type_=UTCDateTime()), bindparam("end", type_=UTCDateTime()))


def roll_up(session: Session, now: datetime | None = None) -> int:
    """Recompute the pending minutes over by `now` (all of them if None) and their hours; return how many."""
    query = select(RollupPending.bucket).order_by(RollupPending.bucket)
    if now is not None:
        query = query.where(RollupPending.bucket < now - MINUTE - SETTLE)
    minutes = list(session.scalars(query))
    if not minutes:
        return 0
    # Deleted before recomputing: a writer that marks the minute again meanwhile waits on this row (on
    # PostgreSQL its upsert takes the row lock), so its samples are seen now or the minute stays pending.
    session.execute(delete(RollupPending).where(RollupPending.bucket.in_(minutes)))
    minute_sql, hour_sql = _MINUTE.bindparams(*_TIMES), _HOUR.bindparams(*_TIMES)
    for start in minutes:
        session.execute(minute_sql, {"start": start, "end": start + MINUTE})
    for start in sorted({m.replace(minute=0) for m in minutes}):
        session.execute(hour_sql, {"start": start, "end": start + HOUR})
    return len(minutes)
