"""Excursions: a machine's process value outside its configured limits while a unit's step ran on it."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mes.models.base import Base, utcnow
from mes.models.plant import Tag
from mes.models.production import Nonconformance, StepExecution


class Excursion(Base):
    """One tag past one of its limits during an execution: first and last time out, the worst value, the effect."""

    __tablename__ = "excursions"
    __table_args__ = (UniqueConstraint("execution_id", "tag_id", "side"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    execution_id: Mapped[int] = mapped_column(ForeignKey("step_executions.id"), index=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id"))
    side: Mapped[str] = mapped_column(String(4))  # high | low
    limit_value: Mapped[str] = mapped_column(String(32))  # the limit crossed, as configured then
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]
    extreme: Mapped[float] = mapped_column(Float)  # the highest (or lowest) value seen out of limits
    samples: Mapped[int]  # good samples out of limits
    action: Mapped[str] = mapped_column(String(8))  # flag | fail
    ncr_id: Mapped[int | None] = mapped_column(ForeignKey("nonconformances.id"), index=True)
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)

    execution: Mapped[StepExecution] = relationship()
    tag: Mapped[Tag] = relationship()
    ncr: Mapped[Nonconformance | None] = relationship()
