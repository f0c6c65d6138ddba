"""The plant as configured: lines, stations, machines and tags, unit types, routings, calendars."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Column, Float, ForeignKey, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mes.models.base import Base, utcnow

if TYPE_CHECKING:
    from mes.models.materials import BomItem


class Plant(Base):
    """Plant-wide settings; one row."""

    __tablename__ = "plant"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    target_satellites_per_year: Mapped[int]
    spares_allowance: Mapped[str] = mapped_column(String(32))  # decimal text, exact
    serial_format: Mapped[str] = mapped_column(String(100))
    config_hash: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Calendar(Base):
    """Working time: shifts by weekday and days off, or around the clock (chambers)."""

    __tablename__ = "calendars"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    around_the_clock: Mapped[bool] = mapped_column(default=False)
    shifts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    days_off: Mapped[list[str]] = mapped_column(JSON, default=list)  # ISO dates


class DefectCode(Base):
    __tablename__ = "defect_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    description: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)


class Qualification(Base):
    """A kind of qualification an operator can hold (J-STD-001 soldering, ESD, cleanroom ...)."""

    __tablename__ = "qualifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    validity_days: Mapped[int]


class Line(Base):
    __tablename__ = "lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(unique=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)

    unit_type: Mapped[UnitType] = relationship(back_populates="line")
    stations: Mapped[list[Station]] = relationship(back_populates="line", order_by="Station.code")
    machines: Mapped[list[Machine]] = relationship(back_populates="line", order_by="Machine.code")


class UnitType(Base):
    """The product a line builds, and how many of it one satellite carries."""

    __tablename__ = "unit_types"
    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), unique=True)
    part_number: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    qty_per_satellite: Mapped[int]
    serial_prefix: Mapped[str] = mapped_column(String(16), unique=True)

    line: Mapped[Line] = relationship(back_populates="unit_type")
    revisions: Mapped[list[RoutingRevision]] = relationship(
        back_populates="unit_type", order_by="RoutingRevision.revision"
    )


class Station(Base):
    __tablename__ = "stations"
    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id"))
    self_checks: Mapped[list[str]] = mapped_column(JSON, default=list)  # e.g. ESD wrist strap
    active: Mapped[bool] = mapped_column(default=True)

    line: Mapped[Line] = relationship(back_populates="stations")
    calendar: Mapped[Calendar] = relationship()


class Machine(Base):
    """A machine on a line, reached over OPC UA at `endpoint`."""

    __tablename__ = "machines"
    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), index=True)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    endpoint: Mapped[str] = mapped_column(String(255))
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id"))
    positions: Mapped[int] = mapped_column(default=1)  # units one run can hold
    ideal_cycle_s: Mapped[int | None]
    subscription: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state_map: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # raw value -> PackML state
    security: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the endpoint's channel security, if any
    clock_alarm_s: Mapped[float] = mapped_column(Float, default=2.0)  # alarm past this clock offset
    active: Mapped[bool] = mapped_column(default=True)

    line: Mapped[Line] = relationship(back_populates="machines")
    station: Mapped[Station | None] = relationship()
    calendar: Mapped[Calendar] = relationship()
    tags: Mapped[list[Tag]] = relationship(back_populates="machine", order_by="Tag.name")


class Tag(Base):
    """One OPC UA node of a machine and what it means to the MES."""

    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("machine_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    node_id: Mapped[str] = mapped_column(String(255))
    meaning: Mapped[str] = mapped_column(String(32))
    data_type: Mapped[str] = mapped_column(String(32))
    eng_unit: Mapped[str | None] = mapped_column(String(32))
    scale: Mapped[str] = mapped_column(String(32), default="1")
    offset: Mapped[str] = mapped_column(String(32), default="0")
    low_limit: Mapped[str | None] = mapped_column(String(32))
    high_limit: Mapped[str | None] = mapped_column(String(32))
    on_excursion: Mapped[str] = mapped_column(String(8), default="flag")  # ignore | flag | fail (mes.excursions)
    subscription: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(default=True)

    machine: Mapped[Machine] = relationship(back_populates="tags")


class RoutingRevision(Base):
    """An immutable revision of a unit type's routing; units keep the one they were released on."""

    __tablename__ = "routing_revisions"
    __table_args__ = (UniqueConstraint("unit_type_id", "revision"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_type_id: Mapped[int] = mapped_column(ForeignKey("unit_types.id"), index=True)
    revision: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    unit_type: Mapped[UnitType] = relationship(back_populates="revisions")
    steps: Mapped[list[RoutingStep]] = relationship(back_populates="revision", order_by="RoutingStep.sequence")


step_stations = Table(
    "step_stations",
    Base.metadata,
    Column("step_id", ForeignKey("routing_steps.id"), primary_key=True),
    Column("station_id", ForeignKey("stations.id"), primary_key=True),
)


class RoutingStep(Base):
    """A step of a routing revision; `code` is stable across revisions (e.g. RWA-BAL)."""

    __tablename__ = "routing_steps"
    __table_args__ = (
        UniqueConstraint("routing_revision_id", "code"),
        UniqueConstraint("routing_revision_id", "sequence"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    routing_revision_id: Mapped[int] = mapped_column(ForeignKey("routing_revisions.id"), index=True)
    sequence: Mapped[int]
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    standard_minutes: Mapped[int]
    machine_run: Mapped[bool] = mapped_column(default=False)
    signoff: Mapped[bool] = mapped_column(default=False)
    qualifications: Mapped[list[str]] = mapped_column(JSON, default=list)
    instruction: Mapped[str] = mapped_column(String(4000), default="")
    recipe: Mapped[str | None] = mapped_column(String(200))  # written to the machine's recipe node at the start

    revision: Mapped[RoutingRevision] = relationship(back_populates="steps")
    stations: Mapped[list[Station]] = relationship(secondary=step_stations, order_by="Station.code")
    characteristics: Mapped[list[Characteristic]] = relationship(
        back_populates="step", order_by="Characteristic.sequence"
    )
    bom: Mapped[list[BomItem]] = relationship(back_populates="step", order_by="BomItem.sequence")


class Characteristic(Base):
    """A value a step measures: variable (with limits, inclusive) or attribute (pass/fail)."""

    __tablename__ = "characteristics"
    __table_args__ = (UniqueConstraint("step_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("routing_steps.id"), index=True)
    sequence: Mapped[int]
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # "variable" | "pass_fail"
    unit: Mapped[str | None] = mapped_column(String(32))
    # Decimal text keeps limits exactly as configured ("1.10" stays "1.10").
    nominal: Mapped[str | None] = mapped_column(String(32))
    lower: Mapped[str | None] = mapped_column(String(32))
    upper: Mapped[str | None] = mapped_column(String(32))
    key: Mapped[bool] = mapped_column(default=False)  # a key characteristic, charted with SPC
    # Read from this tag of the execution's machine at completion (mes.machine_capture); None: typed.
    source_tag: Mapped[str | None] = mapped_column(String(64))
    source_aggregate: Mapped[str | None] = mapped_column(String(8))  # last | min | max | mean

    step: Mapped[RoutingStep] = relationship(back_populates="characteristics")
