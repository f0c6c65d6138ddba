"""Satellites and what is built into them: allocations of accepted units to positions, containments."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mes.models.base import Base, utcnow
from mes.models.plant import UnitType
from mes.models.production import Unit
from mes.models.quality import Signature
from mes.models.users import User

INSTALLED = text("removed_at IS NULL")


class Satellite(Base):
    """A satellite build; its positions are the unit types times their quantity per satellite."""

    __tablename__ = "satellites"
    id: Mapped[int] = mapped_column(primary_key=True)
    build: Mapped[str] = mapped_column(String(32), unique=True)
    programme: Mapped[str] = mapped_column(String(100))
    need_date: Mapped[date] = mapped_column(index=True)  # integration need-date
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Allocation(Base):
    """An accepted unit in a satellite position; a deallocation is signed and keeps the row."""

    __tablename__ = "allocations"
    __table_args__ = (
        Index("ux_allocations_position_filled", "satellite_id", "unit_type_id", "position", unique=True,
              sqlite_where=INSTALLED, postgresql_where=INSTALLED),
        Index("ux_allocations_unit_allocated", "unit_id", unique=True,
              sqlite_where=INSTALLED, postgresql_where=INSTALLED),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    satellite_id: Mapped[int] = mapped_column(ForeignKey("satellites.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    unit_type_id: Mapped[int] = mapped_column(ForeignKey("unit_types.id"))
    position: Mapped[int]  # 1 .. quantity per satellite of the unit type
    allocated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    allocated_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None]
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    removal_reason: Mapped[str | None] = mapped_column(String(1000))
    removal_signature_id: Mapped[int | None] = mapped_column(ForeignKey("signatures.id"))

    satellite: Mapped[Satellite] = relationship()
    unit: Mapped[Unit] = relationship()
    unit_type: Mapped[UnitType] = relationship()
    allocated_by: Mapped[User] = relationship(foreign_keys=[allocated_by_id])


class Containment(Base):
    """One signed action holding everything a trace found, with the reason."""

    __tablename__ = "containments"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    subject: Mapped[str] = mapped_column(String(200))  # what was traced, e.g. "lot L-2291 of BRG-7002"
    reason: Mapped[str] = mapped_column(String(2000))
    signature_id: Mapped[int] = mapped_column(ForeignKey("signatures.id"))
    placed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)

    signature: Mapped[Signature] = relationship()
    items: Mapped[list[ContainmentItem]] = relationship(back_populates="containment",
                                                         order_by="ContainmentItem.id")


class ContainmentItem(Base):
    """Something a containment reached: a held unit, a quarantined lot, or a flagged satellite."""

    __tablename__ = "containment_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    containment_id: Mapped[int] = mapped_column(ForeignKey("containments.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    received_item_id: Mapped[int | None] = mapped_column(ForeignKey("received_items.id"))
    satellite_id: Mapped[int | None] = mapped_column(ForeignKey("satellites.id"), index=True)

    containment: Mapped[Containment] = relationship(back_populates="items")
    unit: Mapped[Unit | None] = relationship()
    satellite: Mapped[Satellite | None] = relationship()
