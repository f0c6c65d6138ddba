"""Keeping telemetry for as long as it is worth: raw samples 30 days, minute rollups 90, hourly for good.

Before raw samples go, those recorded on a machine while a unit's step ran there are copied to the
unit's process record. PostgreSQL drops whole daily partitions; SQLite deletes in batches so the
writer is never blocked for long.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select, text
from sqlalchemy.orm import Session, sessionmaker

from mes import telemetry
from mes.models import ProcessSample, Sample, StepExecution, Tag, TagRollup

log = logging.getLogger(__name__)
DELETE_BATCH = 20_000


@dataclass(frozen=True)
class Purged:
    kept_with_units: int
    raw_deleted: int
    minute_rollups_deleted: int


def _keep_process_samples(session: Session, before: datetime) -> int:
    """Copy raw samples older than `before` that fall inside a step execution on their machine."""
    inside = (select(StepExecution.id, Sample.tag_id, Sample.source_time, Sample.value, Sample.text, Sample.status)
              .join(Tag, Tag.machine_id == StepExecution.machine_id)
              .join(Sample, and_(Sample.tag_id == Tag.id, Sample.source_time >= StepExecution.started_at,
                                 or_(StepExecution.ended_at.is_(None), Sample.source_time <= StepExecution.ended_at)))
              .where(Sample.source_time < before, StepExecution.machine_id.is_not(None),
                     StepExecution.started_at < before))
    already = select(func.count()).select_from(ProcessSample)
    count_before = session.scalar(already) or 0
    dialect_insert = telemetry.dialect_insert(session, ProcessSample)
    session.execute(dialect_insert.from_select(
        ["execution_id", "tag_id", "source_time", "value", "text", "status"], inside).on_conflict_do_nothing())
    return (session.scalar(already) or 0) - count_before


def _drop_partitions(session: Session, before: datetime) -> int:
    """PostgreSQL: drop the daily partitions wholly older than `before`; return the rows they held."""
    names = session.scalars(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'samples'")).all()
    dropped = 0
    for name in sorted(names):
        try:
            day = datetime.strptime(name.removeprefix("samples_"), "%Y%m%d").replace(tzinfo=UTC)
        except ValueError:
            continue
        if day + timedelta(days=1) <= before:
            dropped += session.scalar(text(f"SELECT count(*) FROM {name}")) or 0
            session.execute(text(f"DROP TABLE {name}"))
            telemetry.forget_partition(session, day.date())
    return dropped


def purge(sessions: sessionmaker[Session], now: datetime, raw_days: int = 30, minute_days: int = 90) -> Purged:
    """Apply the retention windows; each part in its own short transaction."""
    raw_before = now - timedelta(days=raw_days)
    with sessions.begin() as session:
        kept = _keep_process_samples(session, raw_before)
        postgres = session.get_bind().dialect.name == "postgresql"
        raw_deleted = _drop_partitions(session, raw_before) if postgres else 0
    while not postgres:  # SQLite: in batches, so the writer is never locked out for long
        with sessions.begin() as session:
            keys = select(Sample.tag_id, Sample.source_time).where(Sample.source_time < raw_before).limit(DELETE_BATCH)
            doomed = session.execute(keys).all()
            if not doomed:
                break
            session.execute(delete(Sample).where(
                Sample.source_time < raw_before,
                Sample.source_time <= max(r.source_time for r in doomed)))
            raw_deleted += len(doomed)
    with sessions.begin() as session:
        minute_deleted = session.execute(delete(TagRollup).where(
            TagRollup.resolution == "minute", TagRollup.bucket < now - timedelta(days=minute_days))).rowcount or 0
    log.info("retention: %d samples kept with unit records, %d raw samples and %d minute rollups removed",
             kept, raw_deleted, minute_deleted)
    return Purged(kept, raw_deleted, minute_deleted)


