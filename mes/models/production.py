"""Production records: work orders, serialised units, step executions, measurements, machine runs."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mes.models.base import Base, utcnow
from mes.models.plant import Characteristic, Machine, RoutingRevision, RoutingStep, Station, Tag, UnitType
from mes.models.users import User

if TYPE_CHECKING:
    from mes.models.materials import ReceivedItem


class SerialCounter(Base):
    """The last number handed out per serial prefix and year; serials are never reused."""

    __tablename__ = "serial_counters"
    __table_args__ = (UniqueConstraint("name", "year"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32))  # a serial prefix, or "WO" for work orders
    year: Mapped[int]
    last_value: Mapped[int] = mapped_column(default=0)


class WorkOrder(Base):
    __tablename__ = "work_orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    unit_type_id: Mapped[int] = mapped_column(ForeignKey("unit_types.id"), index=True)
    routing_revision_id: Mapped[int] = mapped_column(ForeignKey("routing_revisions.id"))
    quantity: Mapped[int]
    due: Mapped[date]
    priority: Mapped[int]  # 1 (most urgent) .. 5
    status: Mapped[str] = mapped_column(String(16), default="released")  # released | complete
    released_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    released_at: Mapped[datetime] = mapped_column(default=utcnow)

    unit_type: Mapped[UnitType] = relationship()
    routing_revision: Mapped[RoutingRevision] = relationship()
    released_by: Mapped[User] = relationship()
    units: Mapped[list[Unit]] = relationship(back_populates="work_order", order_by="Unit.serial")


class Unit(Base):
    """One serialised unit. `version` makes two people acting on it at once collide loudly (409)."""

    __tablename__ = "units"
    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(40), unique=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    unit_type_id: Mapped[int] = mapped_column(ForeignKey("unit_types.id"), index=True)
    routing_revision_id: Mapped[int] = mapped_column(ForeignKey("routing_revisions.id"))
    # in_work: between or inside steps | ready: passed its last step, awaits acceptance | accepted | scrapped
    status: Mapped[str] = mapped_column(String(16), default="in_work", index=True)
    next_sequence: Mapped[int] = mapped_column(default=1)  # routing sequence of the step to do next
    current_execution_id: Mapped[int | None] = mapped_column(
        ForeignKey("step_executions.id", use_alter=True, name="fk_units_current_execution_id_step_executions"))
    on_hold: Mapped[bool] = mapped_column(default=False)
    first_pass: Mapped[bool] = mapped_column(default=True)
    acceptance_signature_id: Mapped[int | None] = mapped_column(ForeignKey("signatures.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    work_order: Mapped[WorkOrder] = relationship(back_populates="units")
    unit_type: Mapped[UnitType] = relationship()
    routing_revision: Mapped[RoutingRevision] = relationship()
    current_execution: Mapped[StepExecution | None] = relationship(foreign_keys=[current_execution_id],
                                                                   viewonly=True)
    executions: Mapped[list[StepExecution]] = relationship(
        back_populates="unit", foreign_keys="StepExecution.unit_id", order_by="StepExecution.id")


class MachineRun(Base):
    """Several units running one step together in one machine (a TVAC chamber with six wheels)."""

    __tablename__ = "machine_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    step_code: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | complete | aborted
    started_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]

    machine: Mapped[Machine] = relationship()
    station: Mapped[Station] = relationship()
    executions: Mapped[list[StepExecution]] = relationship(back_populates="run", order_by="StepExecution.position")


class StepExecution(Base):
    """One attempt at one routing step for one unit: who, where, on which machine, with what result."""

    __tablename__ = "step_executions"
    __table_args__ = (Index("ix_step_executions_step_code_started_at", "step_code", "started_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("routing_steps.id"))
    step_code: Mapped[str] = mapped_column(String(32))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    machine_id: Mapped[int | None] = mapped_column(ForeignKey("machines.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("machine_runs.id"), index=True)
    position: Mapped[int | None]  # place in the machine for a run
    # running | paused | passed | failed | aborted
    status: Mapped[str] = mapped_column(String(16), default="running")
    rework: Mapped[bool] = mapped_column(default=False)
    started_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    abort_reason: Mapped[str | None] = mapped_column(String(500))
    buyoff_signature_id: Mapped[int | None] = mapped_column(ForeignKey("signatures.id"))

    unit: Mapped[Unit] = relationship(back_populates="executions", foreign_keys=[unit_id])
    step: Mapped[RoutingStep] = relationship()
    station: Mapped[Station] = relationship()
    machine: Mapped[Machine | None] = relationship()
    run: Mapped[MachineRun | None] = relationship(back_populates="executions")
    started_by: Mapped[User] = relationship(foreign_keys=[started_by_id])
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id])
    events: Mapped[list[StepEvent]] = relationship(back_populates="execution", order_by="StepEvent.id")
    measurements: Mapped[list[Measurement]] = relationship(back_populates="execution", order_by="Measurement.id")


class StepEvent(Base):
    """What happened to an execution and who did it: start, pause, resume, handover, complete, abort."""

    __tablename__ = "step_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    execution_id: Mapped[int] = mapped_column(ForeignKey("step_executions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str | None] = mapped_column(String(500))

    execution: Mapped[StepExecution] = relationship(back_populates="events")
    user: Mapped[User] = relationship()


class Measurement(Base):
    """A value as entered (`value_text` keeps "1.10"), with the limits in force when it was judged."""

    __tablename__ = "measurements"
    id: Mapped[int] = mapped_column(primary_key=True)
    execution_id: Mapped[int] = mapped_column(ForeignKey("step_executions.id"), index=True)
    characteristic_id: Mapped[int] = mapped_column(ForeignKey("characteristics.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    value_text: Mapped[str] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Float)  # for charts and SPC; the text is the record
    unit: Mapped[str | None] = mapped_column(String(32))
    nominal: Mapped[str | None] = mapped_column(String(32))
    lower: Mapped[str | None] = mapped_column(String(32))
    upper: Mapped[str | None] = mapped_column(String(32))
    passed: Mapped[bool]
    source: Mapped[str] = mapped_column(String(16), default="manual")  # manual | machine
    # Where a machine value came from: `captured_aggregate` of `captured_samples` good samples of the tag
    # in [captured_from, captured_to] (mes.machine_capture).
    captured_tag_id: Mapped[int | None] = mapped_column(ForeignKey("tags.id"))
    captured_aggregate: Mapped[str | None] = mapped_column(String(8))
    captured_samples: Mapped[int | None]
    captured_from: Mapped[datetime | None]
    captured_to: Mapped[datetime | None]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    instrument_id: Mapped[int | None] = mapped_column(ForeignKey("instruments.id"), index=True)
    deviation_id: Mapped[int | None] = mapped_column(ForeignKey("deviations.id"))
    # A wrong entry is never overwritten: it is voided (reason, signature) and the right one recorded beside it.
    voided_at: Mapped[datetime | None]
    void_reason: Mapped[str | None] = mapped_column(String(500))
    void_signature_id: Mapped[int | None] = mapped_column(ForeignKey("signatures.id"))
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("measurements.id"))

    execution: Mapped[StepExecution] = relationship(back_populates="measurements")
    characteristic: Mapped[Characteristic] = relationship()
    captured_tag: Mapped[Tag | None] = relationship()


class Nonconformance(Base):
    """An NCR on a unit (opened by hand or by a failed step) or on a received lot or serial."""

    __tablename__ = "nonconformances"
    __table_args__ = (CheckConstraint("(unit_id IS NULL) <> (received_item_id IS NULL)",
                                      name="unit_or_received_item"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    received_item_id: Mapped[int | None] = mapped_column(ForeignKey("received_items.id"), index=True)
    execution_id: Mapped[int | None] = mapped_column(ForeignKey("step_executions.id"))
    step_code: Mapped[str | None] = mapped_column(String(32))
    defect_code: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(2000))
    failing_values: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)  # open | awaiting_mrb | closed
    opened_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]

    unit: Mapped[Unit | None] = relationship()
    received_item: Mapped[ReceivedItem | None] = relationship()
    execution: Mapped[StepExecution | None] = relationship()
    opened_by: Mapped[User] = relationship()


class IdempotencyRecord(Base):
    """The first answer to a POST carrying an Idempotency-Key, stored in the same transaction as its effect."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("user_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
