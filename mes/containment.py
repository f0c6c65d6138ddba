"""Containment: from a trace, hold every affected unit, quarantine the material and flag the satellites,
in one signed action with the reason.

Each unit gets its own hold, linked to the containment, released like any other hold once cleared.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mes import audit, signatures
from mes.clock import event_time
from mes.errors import Invalid, NotFound
from mes.genealogy import Trace, resolve, trace
from mes.materials import quarantine
from mes.models import Containment, ContainmentItem, Hold, ReceivedItem, Satellite
from mes.serials import document_number
from mes.units import lock_unit


def contain(session: Session, user_id: int, identifier: str, part_number: str | None, reason: str,
            secret: str | None, at: datetime | None = None) -> tuple[Containment, Trace]:
    """Trace `identifier` up the tree and hold everything it reaches; signed by the quality engineer."""
    at = event_time(at)
    if not reason.strip() or len(reason) > 900:
        raise Invalid("say why everything is held (at most 900 characters)", "reason")
    start = resolve(session, identifier, part_number)
    found = trace(session, identifier, start.subject.part_number)
    subject = f"{start.subject.kind} {start.subject.identifier} of {start.subject.part_number}"
    serials = ([identifier] if start.unit_id is not None else []) + [u.serial for u in found.units]
    builds = [s.build for s in found.satellites]
    number = document_number(session, "CNT", at)
    signature = signatures.sign(session, user_id, secret, "containment", "containment", number, {
        "containment": number, "subject": subject, "reason": reason.strip(), "units": serials,
        "satellites": builds}, at)
    containment = Containment(number=number, subject=subject, reason=reason.strip(), signature_id=signature.id,
                              placed_by_id=user_id, placed_at=at)
    session.add(containment)
    session.flush()
    hold_reason = f"containment {number}: {reason.strip()}"
    for serial in serials:
        unit = lock_unit(session, serial)
        containment.items.append(ContainmentItem(unit_id=unit.id))
        if unit.status == "scrapped":
            continue
        session.add(Hold(unit_id=unit.id, reason=hold_reason, placed_by_id=user_id, placed_at=at,
                         containment_id=containment.id))
        unit.on_hold = True
    if start.item_id is not None:
        item = session.scalars(select(ReceivedItem).where(ReceivedItem.id == start.item_id).with_for_update()
                               .options(selectinload(ReceivedItem.part))).one()
        containment.items.append(ContainmentItem(received_item_id=item.id))
        quarantine(session, user_id, item, hold_reason, at)
    for build in builds:
        containment.items.append(ContainmentItem(satellite_id=session.scalars(
            select(Satellite.id).filter_by(build=build)).one()))
    audit.record(session, user_id, "containment.place", "containment", number, at=at, reason=reason.strip(),
                 new={"subject": subject, "units": serials, "satellites": builds, "signature": signature.id})
    session.flush()
    return containment, found


def get_containment(session: Session, number: str) -> Containment:
    containment = session.scalars(select(Containment).filter_by(number=number).options(
        selectinload(Containment.items).selectinload(ContainmentItem.unit),
        selectinload(Containment.items).selectinload(ContainmentItem.satellite),
        selectinload(Containment.signature))).one_or_none()
    if containment is None:
        raise NotFound(f"no containment {number!r}", "number")
    return containment


def standing_holds(session: Session, containment: Containment) -> int:
    """How many of the containment's unit holds are not yet released."""
    return len(session.scalars(select(Hold.id).filter_by(containment_id=containment.id, released_at=None)).all())


def flags_on(session: Session, satellite: Satellite) -> list[Containment]:
    """Containments that reached the satellite and still hold a unit."""
    return list(session.scalars(
        select(Containment).join(ContainmentItem).where(ContainmentItem.satellite_id == satellite.id)
        .where(select(Hold.id).where(Hold.containment_id == Containment.id, Hold.released_at.is_(None)).exists())
        .order_by(Containment.placed_at)))


