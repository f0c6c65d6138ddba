"""Machine telemetry: raw samples, their rollups, machine state intervals, production counts.

Samples are keyed by (tag, source time), so a replayed batch adds nothing. On PostgreSQL the
samples table is partitioned by day (see migration 0007); old days are dropped whole.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from mes.models.base import Base


class Sample(Base):
    """One value a PLC reported: engineering value (numbers, booleans as 0/1) or text, with its status."""

    __tablename__ = "samples"
    __table_args__ = {"postgresql_partition_by": "RANGE (source_time)"}  # one partition a day
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id"), primary_key=True)
    source_time: Mapped[datetime] = mapped_column(primary_key=True)  # the PLC's time (server's where missing)
    value: Mapped[float | None] = mapped_column(Float)  # None for text and for bad-quality values
    text: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[int] = mapped_column(BigInteger, default=0)  # OPC UA StatusCode; 0 is Good
    received_at: Mapped[datetime]  # when the adapter received it
    backfilled: Mapped[bool] = mapped_column(default=False)  # read from PLC history after a gap


class ProcessSample(Base):
    """A sample kept with a unit's record after the raw window has passed (it fell inside a step)."""

    __tablename__ = "process_samples"
    execution_id: Mapped[int] = mapped_column(ForeignKey("step_executions.id"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id"), primary_key=True)
    source_time: Mapped[datetime] = mapped_column(primary_key=True)
    value: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[int] = mapped_column(BigInteger, default=0)


class TagRollup(Base):
    """Min, max, sum and count of a tag's good numeric samples per minute or per hour."""

    __tablename__ = "tag_rollups"
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id"), primary_key=True)
    resolution: Mapped[str] = mapped_column(String(8), primary_key=True)  # minute | hour
    bucket: Mapped[datetime] = mapped_column(primary_key=True)  # start of the minute or hour
    count: Mapped[int]
    minimum: Mapped[float] = mapped_column(Float)
    maximum: Mapped[float] = mapped_column(Float)
    total: Mapped[float] = mapped_column(Float)


class RollupPending(Base):
    """A minute whose samples changed since its rollups were computed; the writer recomputes it once closed.

    Rolling up per batch rewrote every tag's minute and hour rows four times a second; marking the minute
    here and recomputing it from the raw samples once it is over costs one row a batch, and stays exact
    whatever arrives late or twice.
    """

    __tablename__ = "rollup_pending"
    bucket: Mapped[datetime] = mapped_column(primary_key=True)  # start of the minute (UTC)


class MachineState(Base):
    """An interval a machine spent in one PackML state; `ended_at` is None while it lasts."""

    __tablename__ = "machine_states"
    __table_args__ = (Index("ix_machine_states_machine_id_started_at", "machine_id", "started_at", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id"))
    state: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class ProductionCount(Base):
    """Parts a machine's counter added at one moment (good or reject), resets and wraparound resolved."""

    __tablename__ = "production_counts"
    __table_args__ = (Index("ix_production_counts_machine_id_at", "machine_id", "at"),)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id"), primary_key=True)
    at: Mapped[datetime] = mapped_column(primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id"))
    kind: Mapped[str] = mapped_column(String(8))  # good | reject
    delta: Mapped[int] = mapped_column(BigInteger)


class CounterState(Base):
    """The last raw value of a counter tag, so the next one can be turned into a delta."""

    __tablename__ = "counter_states"
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id"), primary_key=True)
    raw: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime]


