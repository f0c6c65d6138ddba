"""Measuring instruments and their calibration: a value measured with an overdue instrument is refused."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mes import audit
from mes.errors import Conflict, Invalid, NotFound
from mes.models import Calibration, Instrument, utcnow
from mes.models.production import Measurement, StepExecution
from mes.plant_time import plant_date


def add_instrument(session: Session, actor_id: int | None, code: str, name: str, kind: str,
                   calibration_due: date, at: datetime | None = None) -> Instrument:
    if session.scalar(select(Instrument.id).filter_by(code=code)) is not None:
        raise Conflict(f"instrument {code!r} exists", "code")
    if not code.strip() or not name.strip():
        raise Invalid("an instrument needs a code and a name", "code")
    instrument = Instrument(code=code, name=name, kind=kind, calibration_due=calibration_due)
    session.add(instrument)
    session.flush()
    audit.record(session, actor_id, "instrument.add", "instrument", code, at=at,
                 new={"name": name, "kind": kind, "calibration_due": calibration_due.isoformat()})
    return instrument


def get_instrument(session: Session, code: str) -> Instrument:
    instrument = session.scalars(select(Instrument).filter_by(code=code)).one_or_none()
    if instrument is None:
        raise NotFound(f"no instrument {code!r}", "instrument")
    return instrument


def calibrate(session: Session, actor_id: int | None, code: str, due: date, passed: bool = True, note: str = "",
              at: datetime | None = None) -> Instrument:
    """Record a calibration; a passed one moves the due date, a failed one takes the instrument out of use."""
    at = at or utcnow()
    instrument = get_instrument(session, code)
    old_due = instrument.calibration_due
    session.add(Calibration(instrument_id=instrument.id, calibrated_at=at, due=due, passed=passed, note=note,
                            recorded_by_id=actor_id))
    if passed:
        if due <= plant_date(session, at):
            raise Invalid("the next due date must be in the future", "due")
        instrument.calibration_due = due
    else:
        instrument.active = False  # and recall: see measurements_by(instrument, since the last good calibration)
    audit.record(session, actor_id, "instrument.calibrate", "instrument", code, at=at, reason=note,
                 old={"calibration_due": old_due.isoformat()},
                 new={"calibration_due": instrument.calibration_due.isoformat(), "passed": passed})
    return instrument


def usable_instrument(session: Session, code: str, at: datetime, field: str) -> Instrument:
    """The instrument, if it may measure at `at`: in use and not past its calibration due date."""
    instrument = session.scalars(select(Instrument).filter_by(code=code)).one_or_none()
    if instrument is None:
        raise Invalid(f"no instrument {code!r}", field)
    if not instrument.active:
        raise Conflict(f"instrument {code} is out of use", field)
    if instrument.calibration_due < plant_date(session, at):
        raise Conflict(f"instrument {code} was due for calibration on {instrument.calibration_due.isoformat()}",
                       field)
    return instrument


def measurements_by(session: Session, code: str, since: datetime | None) -> list[Measurement]:
    """Everything an instrument measured since a time: what to recall after it fails calibration."""
    instrument = get_instrument(session, code)
    query = (select(Measurement).where(Measurement.instrument_id == instrument.id)
             .options(selectinload(Measurement.execution).selectinload(StepExecution.unit))
             .order_by(Measurement.recorded_at))
    if since is not None:
        query = query.where(Measurement.recorded_at >= since)
    return list(session.scalars(query))
