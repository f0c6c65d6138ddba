"""The adapters' side of the machine link: gaps in what was received, endpoint health, writes to machines."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from mes.models.base import Base, utcnow


class TelemetryGap(Base):
    """A time nothing could be received from a machine; never interpolated over. `ended_at` None while open."""

    __tablename__ = "telemetry_gaps"
    __table_args__ = (Index("ix_telemetry_gaps_machine_id_started_at", "machine_id", "started_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id"))
    started_at: Mapped[datetime]  # the last value received before the gap
    ended_at: Mapped[datetime | None]  # the first value received after it
    reason: Mapped[str] = mapped_column(String(32))  # disconnected | spool_full | adapter_restart
    backfilled: Mapped[int] = mapped_column(default=0)  # samples read back from the PLC's history
    declared_at: Mapped[datetime] = mapped_column(default=utcnow)


class EndpointHealth(Base):
    """What an adapter last reported of one endpoint; the pages and /api/v1/health read it."""

    __tablename__ = "endpoint_health"
    endpoint: Mapped[str] = mapped_column(String(255), primary_key=True)
    connected: Mapped[bool]
    last_value_at: Mapped[datetime | None]
    spool_readings: Mapped[int] = mapped_column(default=0)
    spool_fill: Mapped[float] = mapped_column(Float, default=0.0)  # 0..1 of the spool's capacity
    clock_offset_s: Mapped[float | None] = mapped_column(Float)  # the PLC's clock minus ours
    error: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class MachineWrite(Base):
    """A value the MES asks the adapter to write to a machine node (serial, recipe), and how that went."""

    __tablename__ = "machine_writes"
    __table_args__ = (Index("ix_machine_writes_status", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id"), index=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id"))
    execution_id: Mapped[int | None] = mapped_column(ForeignKey("step_executions.id"), index=True)
    value: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | verified | failed
    error: Mapped[str | None] = mapped_column(String(500))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]
