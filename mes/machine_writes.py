"""Write-back to machines: a step start asks for the unit's serial and the step's recipe to be loaded.

Outbox: the web process never speaks OPC UA. A start adds `MachineWrite` rows (pending) in its own transaction;
the adapter serving the machine's endpoint writes them, reads them back, and marks each verified or failed
(line_adapters.writeback). Rules:
- the serial goes to a `loaded_serial` node only on a machine that holds one unit (positions == 1): on a
  multi-position machine one node cannot name every unit it holds, so none is written (logged);
- the recipe goes to a `recipe` node when the routing step names one; a run asks once, for its first unit;
- a start recorded more than `CLOCK_SKEW` ago is history (the demo, a late entry): it commands no machine.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from mes import audit
from mes.clock import CLOCK_SKEW
from mes.models import Machine, MachineState, MachineWrite, RoutingStep, Tag, utcnow
from mes.models.production import StepExecution, Unit

log = logging.getLogger(__name__)
# PackML states in which a machine holds no cycle, so loading a serial or a recipe cannot disturb one.
IDLE_STATES = frozenset({"Idle", "Stopped", "Complete"})
WRITTEN_MEANINGS = ("loaded_serial", "recipe")


@dataclass(frozen=True)
class WriteView:
    """One write as the operator sees it."""

    id: int
    machine: str
    tag: str
    meaning: str
    value: str
    status: str
    error: str | None
    requested_at: datetime
    done_at: datetime | None


@dataclass(frozen=True)
class PendingWrite:
    """A pending write with what the adapter needs to do it, and why it may not be done now."""

    id: int
    machine: str
    tag: str
    node: str
    data_type: str
    value: str
    requested_at: datetime
    obsolete: str | None  # give up at once: the step ended, or a newer request replaced this one
    blocked: str | None  # wait: the machine is not idle, or its state is unknown


def request_for_start(session: Session, execution: StepExecution, step: RoutingStep, machine: Machine | None,
                      user_id: int, at: datetime) -> list[MachineWrite]:
    """Ask for the writes a step start on `machine` calls for (see the module's rules); [] for none."""
    if machine is None or at < utcnow() - CLOCK_SKEW:
        return []
    tags = {t.meaning: t for t in machine.tags if t.active and t.meaning in WRITTEN_MEANINGS}
    wanted: list[tuple[Tag, str]] = []
    if (tag := tags.get("loaded_serial")) is not None:
        if machine.positions == 1:
            wanted.append((tag, execution.unit.serial))
        else:
            log.info("%s holds %d units: no serial written for %s", machine.code, machine.positions,
                     execution.unit.serial)
    if (tag := tags.get("recipe")) is not None and step.recipe and not _recipe_asked(session, tag, step.recipe):
        wanted.append((tag, step.recipe))
    requested = []
    for tag, value in wanted:
        write = MachineWrite(machine_id=machine.id, tag_id=tag.id, execution_id=execution.id, value=value,
                             requested_at=at)
        session.add(write)
        session.flush()
        audit.record(session, user_id, "machine.write_request", "unit", execution.unit.serial, at=at, new={
            "write": write.id, "machine": machine.code, "tag": tag.name, "value": value, "step": step.code})
        requested.append(write)
    return requested


def _recipe_asked(session: Session, tag: Tag, recipe: str) -> bool:
    """The same recipe is already on its way to this node (an earlier unit of the same run, or in parallel)."""
    return session.scalar(select(MachineWrite.id).where(
        MachineWrite.tag_id == tag.id, MachineWrite.value == recipe, MachineWrite.status == "pending")) is not None


def writes_of_execution(session: Session, execution: StepExecution) -> list[WriteView]:
    """The writes a start of this execution asked for; for a unit in a machine run, the run's too."""
    query = _views().join(StepExecution, StepExecution.id == MachineWrite.execution_id)
    if execution.run_id is not None:
        query = query.where(or_(MachineWrite.execution_id == execution.id, StepExecution.run_id == execution.run_id))
    else:
        query = query.where(MachineWrite.execution_id == execution.id)
    return [WriteView(*row) for row in session.execute(query.order_by(MachineWrite.id))]


def writes_of_unit(session: Session, serial: str) -> list[WriteView]:
    """Every write asked for by the unit's step starts, oldest first."""
    query = (_views().join(StepExecution, StepExecution.id == MachineWrite.execution_id)
             .join(Unit, Unit.id == StepExecution.unit_id).where(Unit.serial == serial))
    return [WriteView(*row) for row in session.execute(query.order_by(MachineWrite.id))]


def _views() -> Select[Any]:
    return (select(MachineWrite.id, Machine.code, Tag.name, Tag.meaning, MachineWrite.value, MachineWrite.status,
                   MachineWrite.error, MachineWrite.requested_at, MachineWrite.done_at)
            .join(Machine, Machine.id == MachineWrite.machine_id).join(Tag, Tag.id == MachineWrite.tag_id))


def pending_writes(session: Session, machine_codes: set[str]) -> list[PendingWrite]:
    """Pending writes to these machines, oldest first, each with whether it can be done now."""
    rows = session.execute(
        select(MachineWrite, Machine.code, Machine.id, Tag.name, Tag.node_id, Tag.data_type, StepExecution.status)
        .join(Machine, Machine.id == MachineWrite.machine_id).join(Tag, Tag.id == MachineWrite.tag_id)
        .outerjoin(StepExecution, StepExecution.id == MachineWrite.execution_id)
        .where(MachineWrite.status == "pending", Machine.code.in_(machine_codes))
        .order_by(MachineWrite.id)).all()
    newest = {row[0].tag_id: row[0].id for row in rows}
    states = _states(session, {row[2] for row in rows})
    found = []
    for write, code, machine_id, tag, node, data_type, step_status in rows:
        obsolete = None
        if step_status is not None and step_status not in ("running", "paused"):
            obsolete = f"the step ended ({step_status}) before the value could be written"
        elif newest[write.tag_id] != write.id:
            obsolete = f"replaced by a newer request (write {newest[write.tag_id]})"
        state = states.get(machine_id)
        blocked = None
        if state is None:
            blocked = f"the state of {code} is unknown (none received yet)"
        elif state not in IDLE_STATES:
            blocked = f"{code} is not idle (state {state})"
        found.append(PendingWrite(write.id, code, tag, node, data_type, write.value, write.requested_at,
                                  obsolete, blocked))
    return found


def _states(session: Session, machine_ids: set[int]) -> dict[int, str]:
    """Each machine's latest PackML state as the MES has stored it."""
    if not machine_ids:
        return {}
    rows = session.execute(select(MachineState.machine_id, MachineState.state)
                           .where(MachineState.machine_id.in_(machine_ids), MachineState.ended_at.is_(None))
                           .order_by(MachineState.started_at))
    return {machine_id: state for machine_id, state in rows}  # the latest open interval wins


def finish(session: Session, write_id: int, error: str | None, at: datetime | None = None) -> MachineWrite | None:
    """Mark a pending write verified (no `error`) or failed, with an audit row; None if no longer pending."""
    write = session.get(MachineWrite, write_id, with_for_update=True)
    if write is None or write.status != "pending":
        return None
    write.status, write.error, write.done_at = "failed" if error else "verified", error and error[:500], at or utcnow()
    machine, tag = session.get_one(Machine, write.machine_id), session.get_one(Tag, write.tag_id)
    execution = session.get(StepExecution, write.execution_id) if write.execution_id else None
    entity, key = ("unit", execution.unit.serial) if execution else ("machine", machine.code)
    audit.record(session, None, f"machine.write_{write.status}", entity, key, at=write.done_at, reason=write.error,
                 new={"write": write.id, "machine": machine.code, "tag": tag.name, "value": write.value})
    if error:
        log.warning("write %d of %r to %s.%s failed: %s", write.id, write.value, machine.code, tag.name, error)
    return write
