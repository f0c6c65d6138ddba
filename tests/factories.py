"""Factories that build production records through the service layer, as a real plant would."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mes import execution, signoff, workorders
from mes.auth import create_user
from mes.models import RoutingStep, User
from mes.models.production import Unit


def user_id(session: Session, name: str) -> int:
    return session.scalars(select(User.id).filter_by(name=name)).one()


def release(sessions: sessionmaker[Session], user: str, unit_type: str = "RWA", quantity: int = 1,
            at: datetime | None = None) -> list[str]:
    """Release a work order and return its serials."""
    with sessions.begin() as session:
        order = workorders.release_work_order(session, user_id(session, user), unit_type, quantity,
                                              date(2027, 1, 31), at=at)
        return [u.serial for u in order.units]


def good_values(step: RoutingStep) -> dict[str, object]:
    """A passing value for every characteristic of `step` (the nominal, else a limit)."""
    values: dict[str, object] = {}
    for c in step.characteristics:
        values[c.name] = "pass" if c.kind == "pass_fail" else (c.nominal or c.lower or c.upper)
    return values


def next_step(session: Session, serial: str) -> RoutingStep:
    unit = session.scalars(select(Unit).filter_by(serial=serial)).one()
    return next(s for s in unit.routing_revision.steps if s.sequence == unit.next_sequence)


INSPECTOR = "qe.inspector"  # buys off the steps `pass_steps` walks through (PIN 1234)


def pass_steps(sessions: sessionmaker[Session], user: str, serial: str, count: int) -> None:
    """Walk the unit through its next `count` steps, each passing at its first station, bought off where needed."""
    for _ in range(count):
        with sessions.begin() as session:
            uid = user_id(session, user)
            step = next_step(session, serial)
            execution.start_step(session, uid, serial, step.code, step.stations[0].code)
            execution.complete_step(session, uid, serial, step.code, good_values(step))
            if step.signoff:
                signoff.buy_off(session, inspector_id(session), serial, step.code, "1234")


def inspector_id(session: Session) -> int:
    """The quality inspector of the tests, created on first use."""
    found = session.scalars(select(User.id).filter_by(name=INSPECTOR)).one_or_none()
    if found is not None:
        return found
    return create_user(session, INSPECTOR, ["quality"], "correct-horse", pin="1234").id
