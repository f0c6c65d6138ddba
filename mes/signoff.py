"""Inspection buy-offs and final acceptance: quality signatures over the records they vouch for."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mes import audit, signatures
from mes.clock import event_time
from mes.errors import Conflict, Forbidden
from mes.models import RoutingStep
from mes.models.production import StepExecution, Unit
from mes.units import check_not_held, lock_unit


def execution_content(execution: StepExecution) -> dict[str, Any]:
    """What a buy-off signs: the execution and its standing measurements."""
    return {"execution": execution.id, "unit": execution.unit.serial, "step": execution.step_code,
            "status": execution.status, "started_at": execution.started_at, "ended_at": execution.ended_at,
            "measurements": sorted((m.name, m.value_text, m.passed) for m in execution.measurements
                                   if m.voided_at is None)}


def unit_content(session: Session, unit: Unit) -> dict[str, Any]:
    """What acceptance signs: the unit, its routing revision and every execution with its result."""
    executions = session.scalars(select(StepExecution).filter_by(unit_id=unit.id).order_by(StepExecution.id)).all()
    return {"unit": unit.serial, "unit_type_id": unit.unit_type_id, "routing_revision_id": unit.routing_revision_id,
            "executions": [(e.id, e.step_code, e.status, e.buyoff_signature_id) for e in executions]}


def latest_execution(session: Session, unit: Unit, step_code: str) -> StepExecution | None:
    return session.scalars(select(StepExecution).filter_by(unit_id=unit.id, step_code=step_code)
                           .where(StepExecution.status.in_(("passed", "failed")))
                           .order_by(StepExecution.id.desc())).first()


def awaiting_buyoff(session: Session, unit: Unit, sequence: int) -> str | None:
    """The code of the step at `sequence` if it needs a buy-off its passing execution has not had."""
    step = session.scalars(select(RoutingStep).filter_by(routing_revision_id=unit.routing_revision_id,
                                                         sequence=sequence)).one_or_none()
    if step is None or not step.signoff:
        return None
    last = latest_execution(session, unit, step.code)
    return step.code if last is not None and last.status == "passed" and last.buyoff_signature_id is None else None


def buy_off(session: Session, user_id: int, serial: str, step_code: str, secret: str | None,
            at: datetime | None = None) -> StepExecution:
    """Sign the inspection buy-off of a passed step; nobody buys off a step they worked on."""
    at = event_time(at)
    unit = lock_unit(session, serial)
    execution = latest_execution(session, unit, step_code)
    step = execution.step if execution else None
    if execution is None or step is None or not step.signoff:
        raise Conflict(f"{serial} has no completed step {step_code} that needs a buy-off", "step")
    if execution.status != "passed":
        raise Conflict(f"step {step_code} of {serial} failed; it cannot be bought off", "step")
    if execution.buyoff_signature_id is not None:
        raise Conflict(f"step {step_code} of {serial} is already bought off", "step")
    if user_id in {e.user_id for e in execution.events}:
        raise Forbidden("you worked on this step; someone else must buy it off")
    signature = signatures.sign(session, user_id, secret, "inspected", "step_execution", execution.id,
                                execution_content(execution), at)
    execution.buyoff_signature_id = signature.id
    audit.record(session, user_id, "step.buyoff", "unit", serial, at=at,
                 new={"step": step_code, "execution": execution.id, "signature": signature.id})
    session.flush()
    return execution


def accept(session: Session, user_id: int, serial: str, secret: str | None, at: datetime | None = None) -> Unit:
    """Final acceptance: a quality signature on a unit that passed its last step, with no open NCR."""
    at = event_time(at)
    unit = lock_unit(session, serial)
    if unit.status != "ready":
        raise Conflict(f"{serial} is {unit.status.replace('_', ' ')}; only a unit past its last step is accepted",
                       "serial")
    check_not_held(session, unit, "serial")
    last = session.scalars(select(RoutingStep.sequence).filter_by(routing_revision_id=unit.routing_revision_id)
                           .order_by(RoutingStep.sequence.desc())).first()
    if last is not None and (pending := awaiting_buyoff(session, unit, last)):
        raise Conflict(f"step {pending} of {serial} awaits its buy-off", "serial")
    signature = signatures.sign(session, user_id, secret, "approved", "unit", serial, unit_content(session, unit), at)
    unit.status, unit.acceptance_signature_id = "accepted", signature.id
    audit.record(session, user_id, "unit.accept", "unit", serial, at=at, old={"status": "ready"},
                 new={"status": "accepted", "signature": signature.id})
    session.flush()
    return unit
