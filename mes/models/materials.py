"""Material records: purchased parts, bills of material, received lots and serials, consumptions."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mes.models.base import Base, utcnow
from mes.models.plant import RoutingStep, UnitType
from mes.models.production import StepExecution, Unit
from mes.models.users import User


class Part(Base):
    """A purchased part: tracked by lot (bearings, cells) or by serial (FPGAs, motors)."""

    __tablename__ = "parts"
    id: Mapped[int] = mapped_column(primary_key=True)
    part_number: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    tracking: Mapped[str] = mapped_column(String(8))  # lot | serial
    active: Mapped[bool] = mapped_column(default=True)


class BomItem(Base):
    """What a routing step consumes: a purchased part or a built unit type, and how many."""

    __tablename__ = "bom_items"
    __table_args__ = (UniqueConstraint("step_id", "sequence"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("routing_steps.id"), index=True)
    sequence: Mapped[int]
    part_id: Mapped[int | None] = mapped_column(ForeignKey("parts.id"))
    unit_type_id: Mapped[int | None] = mapped_column(ForeignKey("unit_types.id"))
    quantity: Mapped[int]

    step: Mapped[RoutingStep] = relationship(back_populates="bom")
    part: Mapped[Part | None] = relationship()
    unit_type: Mapped[UnitType | None] = relationship()

    @property
    def part_number(self) -> str:
        return self.part.part_number if self.part else self.unit_type.part_number  # type: ignore[union-attr]


class ReceivedItem(Base):
    """A received supplier lot, or one received serial (quantity 1), from quarantine to consumption."""

    __tablename__ = "received_items"
    __table_args__ = (UniqueConstraint("part_id", "identifier"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    receipt: Mapped[str] = mapped_column(String(32), index=True)  # the arrival it came with
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"), index=True)
    identifier: Mapped[str] = mapped_column(String(64), index=True)  # supplier lot number or serial
    supplier: Mapped[str] = mapped_column(String(200))
    coc_reference: Mapped[str] = mapped_column(String(200))  # certificate of conformity
    expiry: Mapped[date | None]
    quantity: Mapped[int]
    remaining: Mapped[int]
    # quarantine | released | rejected | returned | scrapped
    status: Mapped[str] = mapped_column(String(16), default="quarantine", index=True)
    on_hold: Mapped[bool] = mapped_column(default=False)  # an NCR on it is open
    received_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    decision_signature_id: Mapped[int | None] = mapped_column(ForeignKey("signatures.id"))
    decision_note: Mapped[str | None] = mapped_column(String(1000))

    part: Mapped[Part] = relationship()
    received_by: Mapped[User] = relationship()


class Consumption(Base):
    """A component built into a unit at a step: a received lot or serial, or another unit.

    A removed component (rework) keeps its row, stamped with who removed it and why.
    """

    __tablename__ = "consumptions"
    __table_args__ = (
        # A unit is built into one parent at a time, whatever races to consume it.
        Index("ux_consumptions_component_unit_installed", "component_unit_id", unique=True,
              sqlite_where=text("removed_at IS NULL"), postgresql_where=text("removed_at IS NULL")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    execution_id: Mapped[int] = mapped_column(ForeignKey("step_executions.id"), index=True)
    bom_item_id: Mapped[int] = mapped_column(ForeignKey("bom_items.id"))
    step_code: Mapped[str] = mapped_column(String(32))
    received_item_id: Mapped[int | None] = mapped_column(ForeignKey("received_items.id"), index=True)
    component_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    quantity: Mapped[int]
    consumed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    consumed_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None]
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    removal_reason: Mapped[str | None] = mapped_column(String(1000))

    unit: Mapped[Unit] = relationship(foreign_keys=[unit_id])
    execution: Mapped[StepExecution] = relationship()
    bom_item: Mapped[BomItem] = relationship()
    received_item: Mapped[ReceivedItem | None] = relationship()
    component_unit: Mapped[Unit | None] = relationship(foreign_keys=[component_unit_id])
    consumed_by: Mapped[User] = relationship(foreign_keys=[consumed_by_id])
