"""Building components into units: what a step's bill of material names, and nothing else, consumed once.

A component is a received lot or serial (released, unexpired, not under an NCR) or another unit
(accepted, not held, not allocated to a satellite, not already built into something).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from mes import audit
from mes.clock import event_time
from mes.errors import Conflict, Invalid, NotFound
from mes.models import BomItem, Consumption, Hold, Part, ReceivedItem, StepExecution, Unit
from mes.plant_time import plant_date
from mes.units import check_free_to_install, current_execution, lock_unit


def installed(session: Session, unit_id: int, bom_item_id: int) -> int:
    """How many of a BOM item the unit holds now (removed components no longer count)."""
    return session.scalar(select(func.coalesce(func.sum(Consumption.quantity), 0)).where(
        Consumption.unit_id == unit_id, Consumption.bom_item_id == bom_item_id,
        Consumption.removed_at.is_(None))) or 0


def bom_items(session: Session, step_id: int) -> list[BomItem]:
    """The bill of material of a routing step, with the parts and unit types it names."""
    return list(session.scalars(select(BomItem).filter_by(step_id=step_id).order_by(BomItem.sequence).options(
        selectinload(BomItem.part), selectinload(BomItem.unit_type))))


def shortfall(session: Session, execution: StepExecution) -> list[str]:
    """What the step's BOM still needs in this unit, e.g. ["1 × BRG-7002-P"]; empty when it is complete."""
    missing = []
    for item in bom_items(session, execution.step_id):
        if (have := installed(session, execution.unit_id, item.id)) < item.quantity:
            missing.append(f"{item.quantity - have} × {item.part_number}")
    return missing


def check_complete(session: Session, execution: StepExecution) -> None:
    """Refuse to complete a step whose bill of material is not all consumed."""
    if missing := shortfall(session, execution):
        raise Conflict(f"step {execution.step_code} of {execution.unit.serial} still needs {', '.join(missing)}; "
                       "scan the components first", "consumptions")


def _bom(session: Session, execution: StepExecution) -> list[BomItem]:
    items = bom_items(session, execution.step_id)
    if not items:
        raise Invalid(f"step {execution.step_code} consumes nothing", "step")
    return items


def _check_material(session: Session, item: ReceivedItem, quantity: int, at: datetime) -> None:
    name = f"{item.part.part_number} {item.identifier}"
    if item.status != "released":
        raise Conflict(f"{name} is {'in quarantine' if item.status == 'quarantine' else item.status}; "
                       "only released material can be used", "component")
    if item.on_hold:
        raise Conflict(f"{name} has an open NCR", "component")
    if item.expiry is not None and item.expiry < plant_date(session, at):
        raise Conflict(f"{name} expired on {item.expiry.isoformat()}", "component")
    if item.remaining < quantity:
        if item.part.tracking == "serial":
            raise Conflict(f"{name} is already consumed", "component")
        raise Conflict(f"lot {name} has {item.remaining} left, not {quantity}", "quantity")


def _match_material(session: Session, bom: list[BomItem], identifier: str, part_number: str | None,
                    ) -> tuple[BomItem, ReceivedItem]:
    query = select(ReceivedItem).join(Part).where(ReceivedItem.identifier == identifier)
    if part_number:
        query = query.where(Part.part_number == part_number)
    found = list(session.scalars(query.options(selectinload(ReceivedItem.part))))
    if not found:
        raise NotFound(f"no unit, lot or serial {identifier!r}" + (f" of {part_number}" if part_number else ""),
                       "component")
    named = {b.part_id: b for b in bom if b.part_id is not None}
    fits = [f for f in found if f.part_id in named]
    if not fits:
        parts = ", ".join(sorted(f.part.part_number for f in found))
        raise Invalid(f"the bill of material of this step does not name {parts}", "component")
    if len(fits) > 1:
        raise Invalid(f"{identifier!r} is a lot of several parts ({', '.join(f.part.part_number for f in fits)}); "
                      "give part_number", "part_number")
    # populate_existing: the row was read above; the locked read must replace it, not reuse the stale copy.
    item = session.scalars(select(ReceivedItem).where(ReceivedItem.id == fits[0].id).with_for_update()
                           .execution_options(populate_existing=True)).one()
    return named[item.part_id], item


def consume(session: Session, user_id: int, serial: str, step_code: str, component: str,
            part_number: str | None = None, quantity: int = 1, at: datetime | None = None) -> Consumption:
    """Record a component built into the unit at its running step: a unit's serial, or a lot or serial received."""
    execution = current_execution(session, serial, step_code, ("running",))
    at = event_time(at, execution.events[-1].at if execution.events else execution.started_at)
    bom = _bom(session, execution)
    if quantity < 1:
        raise Invalid("the quantity is at least 1", "quantity")
    unit_types = {b.unit_type_id: b for b in bom if b.unit_type_id is not None}
    component_unit = session.scalars(select(Unit).filter_by(serial=component)).one_or_none()
    received = None
    if component_unit is not None and (part_number is None or part_number == component_unit.unit_type.part_number):
        if component_unit.unit_type_id not in unit_types:
            raise Invalid(f"the bill of material of this step does not name {component_unit.unit_type.part_number}",
                          "component")
        if component_unit.id == execution.unit_id:
            raise Invalid("a unit cannot be built into itself", "component")
        bom_item = unit_types[component_unit.unit_type_id]
        component_unit = lock_unit(session, component)
        check_free_to_install(session, component_unit, "component", f"{serial}")
    else:
        component_unit = None
        bom_item, received = _match_material(session, bom, component, part_number)
        _check_material(session, received, quantity, at)
    if (component_unit is not None or received.part.tracking == "serial") and quantity != 1:  # type: ignore[union-attr]
        raise Invalid("a serial is consumed one at a time (quantity 1)", "quantity")
    have = installed(session, execution.unit_id, bom_item.id)
    if have + quantity > bom_item.quantity:
        raise Conflict(f"the bill of material names {bom_item.quantity} × {bom_item.part_number}; "
                       f"{have} already built in", "quantity")
    if received is not None:
        received.remaining -= quantity
    consumption = Consumption(unit_id=execution.unit_id, execution_id=execution.id, bom_item_id=bom_item.id,
                              step_code=step_code, received_item_id=received.id if received else None,
                              component_unit_id=component_unit.id if component_unit else None, quantity=quantity,
                              consumed_by_id=user_id, consumed_at=at)
    session.add(consumption)
    session.flush()
    audit.record(session, user_id, "material.consume", "unit", serial, at=at, new={
        "step": step_code, "part_number": bom_item.part_number, "component": component, "quantity": quantity})
    return consumption


def remove_component(session: Session, user_id: int, serial: str, component: str, reason: str,
                     at: datetime | None = None) -> Consumption:
    """Take a component out of a unit (rework); the record stays, and a removed unit is held for review."""
    if not reason.strip() or len(reason) > 900:
        raise Invalid("say why the component is removed (at most 900 characters)", "reason")
    at = event_time(at)
    unit = lock_unit(session, serial)
    if unit.status == "accepted":
        raise Conflict(f"{serial} is accepted; raise an NCR before taking it apart", "serial")
    query = (select(Consumption).outerjoin(ReceivedItem, Consumption.received_item_id == ReceivedItem.id)
             .outerjoin(Unit, Consumption.component_unit_id == Unit.id)
             .where(Consumption.unit_id == unit.id, Consumption.removed_at.is_(None),
                    (ReceivedItem.identifier == component) | (Unit.serial == component)))
    found = list(session.scalars(query.with_for_update(of=Consumption)))
    if not found:
        raise NotFound(f"{component!r} is not built into {serial}", "component")
    consumption = found[0]
    consumption.removed_at, consumption.removed_by_id, consumption.removal_reason = at, user_id, reason.strip()
    if consumption.component_unit_id is not None:
        removed = lock_unit(session, component)
        session.add(Hold(unit_id=removed.id, reason=f"removed from {serial}: {reason.strip()}", placed_by_id=user_id,
                         placed_at=at))
        removed.on_hold = True
    audit.record(session, user_id, "material.remove", "unit", serial, at=at, reason=reason.strip(),
                 new={"step": consumption.step_code, "component": component, "quantity": consumption.quantity})
    session.flush()
    return consumption
