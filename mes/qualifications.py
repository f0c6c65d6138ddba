"""Operator qualifications with expiry dates, and the gate that keeps unqualified people off a step."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mes import audit
from mes.auth import get_user
from mes.errors import Forbidden, Invalid
from mes.models import Qualification, RoutingStep, UserQualification, utcnow
from mes.plant_time import plant_date


def qualify(session: Session, actor_id: int | None, user_name: str, code: str, valid_until: date,
            at: datetime | None = None) -> UserQualification:
    """Record (or renew) a person's qualification until `valid_until`."""
    user = get_user(session, user_name)
    if session.scalar(select(Qualification.id).filter_by(code=code)) is None:
        raise Invalid(f"unknown qualification {code!r}", "qualification")
    held = session.scalars(select(UserQualification).filter_by(user_id=user.id, qualification_code=code)
                           ).one_or_none()
    old = {"valid_until": held.valid_until.isoformat()} if held else None
    if held is None:
        held = UserQualification(user_id=user.id, qualification_code=code, valid_until=valid_until,
                                 recorded_by_id=actor_id, recorded_at=at or utcnow())
        session.add(held)
    else:
        held.valid_until, held.recorded_by_id = valid_until, actor_id
    session.flush()
    audit.record(session, actor_id, "user.qualify", "user", user.name, old=old, at=at,
                 new={"qualification": code, "valid_until": valid_until.isoformat()})
    return held


def check_qualified(session: Session, user_id: int, step: RoutingStep, at: datetime) -> None:
    """Refuse a start by someone without a valid qualification the step requires, naming what is missing."""
    if not step.qualifications:
        return
    today = plant_date(session, at)
    held = dict(session.execute(select(UserQualification.qualification_code, UserQualification.valid_until)
                                .where(UserQualification.user_id == user_id)).all())
    missing = []
    for code in step.qualifications:
        if code not in held:
            missing.append(code)
        elif held[code] < today:
            missing.append(f"{code} (expired {held[code].isoformat()})")
    if missing:
        raise Forbidden(f"step {step.code} needs a valid qualification: {', '.join(missing)}")
