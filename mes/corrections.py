"""Correcting a wrong entry: never overwritten, but voided with a reason and a signature, the right value beside it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mes import audit, signatures
from mes.clock import event_time
from mes.deviations import covering_deviation
from mes.errors import Conflict, Invalid, NotFound
from mes.measurements import judge
from mes.models.production import Measurement, Nonconformance, StepExecution
from mes.quality import open_ncr_for_failed_step
from mes.signoff import latest_execution
from mes.units import lock_unit


@dataclass(frozen=True)
class Correction:
    voided: Measurement
    recorded: Measurement
    ncr: Nonconformance | None


def correct_measurement(session: Session, user_id: int, secret: str | None, serial: str, step_code: str,
                        name: str, value: object, reason: str, at: datetime | None = None) -> Correction:
    """Void a standing value of the unit's last execution of a step and record the right one, signed.

    Signed content cannot change: a bought-off step or an accepted unit is refused (raise an NCR instead),
    and so is a step the unit has already moved past. A correction that turns a pass into a failure fails
    the step, holds the unit and opens an NCR; one that turns a failure into a pass leaves the NCR for quality.
    """
    if not reason.strip():
        raise Invalid("say why the entry was wrong", "reason")
    unit = lock_unit(session, serial)
    execution = latest_execution(session, unit, step_code)
    if execution is None:
        raise NotFound(f"{serial} has no completed step {step_code}", "step")
    if execution.buyoff_signature_id is not None or unit.status == "accepted":
        raise Conflict(f"step {step_code} of {serial} is signed off; its record can no longer change", "step")
    if session.scalar(select(StepExecution.id).where(StepExecution.unit_id == unit.id,
                                                     StepExecution.id > execution.id)) is not None:
        raise Conflict(f"{serial} has moved past {step_code}; raise an NCR instead", "step")
    old = next((m for m in execution.measurements if m.name == name and m.voided_at is None), None)
    if old is None:
        raise NotFound(f"step {step_code} of {serial} has no value {name!r}", "name")
    at = event_time(at, max(old.recorded_at, execution.ended_at or old.recorded_at))
    judged = judge(old.characteristic, value, "value")
    deviation = None
    if not judged.passed and judged.number is not None:
        deviation = covering_deviation(session, unit, step_code, name, judged.number, at)
    signature = signatures.sign(session, user_id, secret, "performed", "measurement", old.id, {
        "execution": execution.id, "name": name, "old": old.value_text, "new": judged.text, "reason": reason}, at)
    old.voided_at, old.void_reason, old.void_signature_id = at, reason.strip(), signature.id
    new = Measurement(characteristic_id=old.characteristic_id, name=name, value_text=judged.text,
                      value=float(judged.number) if judged.number is not None else None, unit=old.unit,
                      nominal=old.nominal, lower=old.lower, upper=old.upper,
                      passed=judged.passed or deviation is not None, recorded_at=at, replaces_id=old.id,
                      instrument_id=old.instrument_id, deviation_id=deviation.id if deviation else None)
    execution.measurements.append(new)
    session.flush()
    audit.record(session, user_id, "measurement.correct", "unit", serial, at=at, reason=reason.strip(),
                 old={"step": step_code, "name": name, "value": old.value_text},
                 new={"step": step_code, "name": name, "value": new.value_text, "signature": signature.id})
    ncr = None
    standing = [m for m in execution.measurements if m.voided_at is None]
    if execution.status == "passed" and not all(m.passed for m in standing):
        execution.status = "failed"
        unit.status, unit.next_sequence, unit.first_pass = "in_work", execution.step.sequence, False
        failures = [{"name": m.name, "value": m.value_text, "unit": m.unit, "lower": m.lower, "upper": m.upper}
                    for m in standing if not m.passed]
        ncr = open_ncr_for_failed_step(session, execution, failures, user_id, at)
    session.flush()
    return Correction(old, new, ncr)
