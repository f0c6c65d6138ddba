"""Releasing work: a work order for N units of a type, each with a new serial, on the current routing."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from mes import audit
from mes.clock import event_time
from mes.errors import Conflict, Invalid, NotFound
from mes.models import Line, RoutingRevision, UnitType
from mes.models.production import Unit, WorkOrder
from mes.serials import document_number, unit_serials

MAX_QUANTITY = 500


def find_unit_type(session: Session, name: str) -> UnitType:
    """A unit type by part number, serial prefix or line code (RWA-100, RWA)."""
    unit_type = session.scalars(
        select(UnitType).join(Line).where(Line.active)
        .where((UnitType.part_number == name) | (UnitType.serial_prefix == name) | (Line.code == name))
    ).first()
    if unit_type is None:
        raise NotFound(f"no unit type {name!r} on an active line", "unit_type")
    return unit_type


def current_revision(session: Session, unit_type: UnitType) -> RoutingRevision:
    revision = session.scalars(
        select(RoutingRevision).filter_by(unit_type_id=unit_type.id).order_by(RoutingRevision.revision.desc())
    ).first()
    if revision is None:
        raise Conflict(f"{unit_type.part_number} has no routing; load the plant", "unit_type")
    return revision


def release_work_order(session: Session, user_id: int, unit_type: str, quantity: int, due: date,
                       priority: int = 3, at: datetime | None = None) -> WorkOrder:
    """Release a work order: serials are generated now, and the units keep today's routing revision."""
    at = event_time(at)
    if due < at.date():
        raise Invalid("the due date is in the past", "due")
    if not 1 <= quantity <= MAX_QUANTITY:
        raise Invalid(f"quantity is 1 to {MAX_QUANTITY}", "quantity")
    if not 1 <= priority <= 5:
        raise Invalid("priority is 1 (most urgent) to 5", "priority")
    kind = find_unit_type(session, unit_type)
    revision = current_revision(session, kind)
    order = WorkOrder(number=document_number(session, "WO", at), unit_type_id=kind.id,
                      routing_revision_id=revision.id, quantity=quantity, due=due, priority=priority,
                      released_by_id=user_id, released_at=at)
    order.units = [Unit(serial=serial, unit_type_id=kind.id, routing_revision_id=revision.id, created_at=at)
                   for serial in unit_serials(session, kind.serial_prefix, at, quantity)]
    session.add(order)
    session.flush()
    audit.record(session, user_id, "workorder.release", "work_order", order.number, at=at, new={
        "unit_type": kind.part_number, "routing_revision": revision.revision, "quantity": quantity,
        "due": due.isoformat(), "priority": priority, "serials": [u.serial for u in order.units]})
    return order


def list_work_orders(session: Session, page: int, per_page: int) -> tuple[list[WorkOrder], int]:
    """One page of work orders, most recently released first, and the total count."""
    total = session.scalar(select(func.count()).select_from(WorkOrder)) or 0
    rows = session.scalars(
        select(WorkOrder).options(selectinload(WorkOrder.unit_type), selectinload(WorkOrder.units))
        .order_by(WorkOrder.released_at.desc(), WorkOrder.id.desc()).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return list(rows), total
