"""Factories that build production records through the service layer, as a real plant would."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mes import consumption, execution, materials, signoff, workorders
from mes.auth import create_user
from mes.models import BomItem, Part, ReceivedItem, RoutingStep, User
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
            fit_components(session, uid, serial, step)
            execution.complete_step(session, uid, serial, step.code, good_values(step))
            if step.signoff:
                signoff.buy_off(session, inspector_id(session), serial, step.code, "1234")


def inspector_id(session: Session) -> int:
    """The quality inspector of the tests, created on first use."""
    found = session.scalars(select(User.id).filter_by(name=INSPECTOR)).one_or_none()
    if found is not None:
        return found
    return create_user(session, INSPECTOR, ["quality"], "correct-horse", pin="1234").id


def stock(session: Session, part_number: str, quantity: int = 1, supplier: str = "Acme Space Parts") -> ReceivedItem:
    """Released material of `part_number` with at least `quantity` left: a lot of 1000, or a new serial."""
    part = session.scalars(select(Part).filter_by(part_number=part_number)).one()
    if part.tracking == "lot":
        found = session.scalars(select(ReceivedItem).filter_by(part_id=part.id, status="released", on_hold=False)
                                .where(ReceivedItem.remaining >= quantity)).first()
        if found is not None:
            return found
    count = session.query(ReceivedItem).filter_by(part_id=part.id).count() + 1
    identifier = f"{'L' if part.tracking == 'lot' else 'S'}{count:05d}-{part_number}"
    inspector = inspector_id(session)
    if part.tracking == "lot":
        materials.receive(session, inspector, part_number, supplier, f"COC-{identifier}", lot=identifier,
                          quantity=max(1000, quantity))
    else:
        materials.receive(session, inspector, part_number, supplier, f"COC-{identifier}", serials=[identifier])
    return materials.release(session, inspector, part_number, identifier, "1234")


def fit_components(session: Session, uid: int, serial: str, step: RoutingStep) -> None:
    """Consume the purchased parts the running step's bill of material names, from released stock."""
    for item in session.scalars(select(BomItem).filter_by(step_id=step.id)):
        if item.part is None:
            continue  # a built unit: the test builds, accepts and consumes it by hand
        have = consumption.installed(session, session.scalars(select(Unit.id).filter_by(serial=serial)).one(), item.id)
        for _ in range(item.quantity - have if item.part.tracking == "serial" else min(1, item.quantity - have)):
            quantity = 1 if item.part.tracking == "serial" else item.quantity - have
            found = stock(session, item.part.part_number, quantity)
            consumption.consume(session, uid, serial, step.code, found.identifier, item.part.part_number, quantity)


def fit(sessions: sessionmaker[Session], serial: str, user: str = INSPECTOR) -> None:
    """Scan, from released stock, what the bill of material of the unit's running step names."""
    with sessions.begin() as session:
        unit = session.scalars(select(Unit).filter_by(serial=serial)).one()
        assert unit.current_execution is not None, f"{serial} is not in a step"
        step = unit.current_execution.step
        fit_components(session, inspector_id(session) if user == INSPECTOR else user_id(session, user), serial, step)


def build_accepted(sessions: sessionmaker[Session], user: str, unit_type: str) -> str:
    """Release one unit, walk it through every step (components fitted, buy-offs signed) and accept it."""
    serial = release(sessions, user, unit_type, 1)[0]
    with sessions() as session:
        unit = session.scalars(select(Unit).filter_by(serial=serial)).one()
        steps = len(unit.routing_revision.steps)
    pass_steps(sessions, user, serial, steps)
    with sessions.begin() as session:
        signoff.accept(session, inspector_id(session), serial, "1234")
    return serial
