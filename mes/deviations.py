"""Deviations (waivers): a signed, time-boxed permission to accept one characteristic outside its limits."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from mes import audit, signatures
from mes.errors import Invalid
from mes.measurements import parse_decimal
from mes.models import Characteristic, Deviation, RoutingStep, utcnow
from mes.models.production import Unit, WorkOrder
from mes.serials import document_number


def _limit(value: str | None, field: str) -> Decimal | None:
    return None if value is None else parse_decimal(value, field)


def deviation_content(d: Deviation) -> dict[str, object]:
    return {"number": d.number, "step": d.step_code, "characteristic": d.characteristic, "lower": d.lower,
            "upper": d.upper, "serials": d.serials, "work_order_id": d.work_order_id, "valid_from": d.valid_from,
            "valid_until": d.valid_until, "reason": d.reason}


def create_deviation(session: Session, user_id: int, secret: str | None, step_code: str, characteristic: str,
                     lower: str | None, upper: str | None, valid_until: datetime, reason: str, *,
                     serials: list[str] | None = None, work_order: str | None = None,
                     valid_from: datetime | None = None) -> Deviation:
    """Approve, with a quality signature, wider limits for one characteristic on named serials or a work order."""
    valid_from = valid_from or utcnow()
    if not reason.strip():
        raise Invalid("say why the deviation is granted", "reason")
    if valid_until <= valid_from:
        raise Invalid("a deviation ends after it starts", "valid_until")
    if bool(serials) == bool(work_order):
        raise Invalid("name the serials or the work order the deviation covers (one of them)", "serials")
    low, high = _limit(lower, "lower"), _limit(upper, "upper")
    if low is None and high is None:
        raise Invalid("give the limits allowed under the deviation", "lower")
    if low is not None and high is not None and low > high:
        raise Invalid("the lower limit is above the upper", "lower")
    if session.scalar(select(Characteristic.id).join(RoutingStep).where(
            RoutingStep.code == step_code, Characteristic.name == characteristic)) is None:
        raise Invalid(f"step {step_code} measures no {characteristic!r}", "characteristic")
    order_id = None
    if work_order:
        order_id = session.scalar(select(WorkOrder.id).filter_by(number=work_order))
        if order_id is None:
            raise Invalid(f"no work order {work_order!r}", "work_order")
    elif missing := sorted(set(serials or []) - set(session.scalars(select(Unit.serial)
                                                                   .where(Unit.serial.in_(serials or []))))):
        raise Invalid(f"no unit(s) {', '.join(missing)}", "serials")
    deviation = Deviation(number=document_number(session, "DEV", valid_from), step_code=step_code,
                          characteristic=characteristic, lower=lower, upper=upper, serials=sorted(serials or []),
                          work_order_id=order_id, valid_from=valid_from, valid_until=valid_until,
                          reason=reason.strip(), signature_id=0)
    signature = signatures.sign(session, user_id, secret, "approved", "deviation", deviation.number,
                                deviation_content(deviation), valid_from)
    deviation.signature_id = signature.id
    session.add(deviation)
    session.flush()
    audit.record(session, user_id, "deviation.approve", "deviation", deviation.number, at=valid_from,
                 new={k: str(v) for k, v in deviation_content(deviation).items()})
    return deviation


def covering_deviation(session: Session, unit: Unit, step_code: str, characteristic: str, value: Decimal,
                       at: datetime) -> Deviation | None:
    """An approved deviation in force at `at` that covers this unit, characteristic and value."""
    candidates = session.scalars(select(Deviation).where(
        Deviation.step_code == step_code, Deviation.characteristic == characteristic,
        Deviation.valid_from <= at, Deviation.valid_until >= at)).all()
    for d in candidates:
        covers_unit = unit.serial in d.serials or d.work_order_id == unit.work_order_id
        low, high = _limit(d.lower, "lower"), _limit(d.upper, "upper")
        if covers_unit and (low is None or value >= low) and (high is None or value <= high):
            return d
    return None


def list_deviations(session: Session) -> list[Deviation]:
    return list(session.scalars(select(Deviation).order_by(Deviation.id.desc())))
