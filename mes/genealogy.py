"""Genealogy and trace: what is built into a unit or satellite (down), and where a lot or serial went (up).

Both walk the consumption records one level at a time with one query per level, so a satellite's
full tree or a widely used lot's trace costs a handful of queries, not one per component.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from mes.errors import Invalid, NotFound
from mes.models import Allocation, Consumption, ReceivedItem, Satellite, Unit, UnitType

MAX_DEPTH = 20  # far beyond any real product tree; stops a corrupt record from looping


class ComponentNode(BaseModel):
    """One component built into a unit, with what is built into it in turn."""

    kind: Literal["unit", "lot", "serial"]
    part_number: str
    name: str
    identifier: str  # the unit's serial, or the received lot number or serial
    quantity: int
    step: str  # the step that consumed it
    consumed_at: datetime
    consumed_by: str
    status: str
    supplier: str | None = None
    receipt: str | None = None
    coc_reference: str | None = None
    components: list[ComponentNode] = []


class Genealogy(BaseModel):
    serial: str
    part_number: str
    status: str
    components: list[ComponentNode]


class TraceSubject(BaseModel):
    kind: Literal["unit", "lot", "serial"]
    part_number: str
    identifier: str
    status: str


class TracedUnit(BaseModel):
    """A unit that contains the traced item, `level` steps up the tree (1: built in directly)."""

    serial: str
    part_number: str
    status: str
    on_hold: bool
    level: int
    contains: str  # the component through which it contains the traced item
    step: str
    satellite: str | None


class TracedSatellite(BaseModel):
    build: str
    programme: str
    need_date: date
    serials: list[str]  # the allocated units that carry the traced item


class Trace(BaseModel):
    subject: TraceSubject
    units: list[TracedUnit]
    satellites: list[TracedSatellite]


def _node(c: Consumption) -> ComponentNode:
    who = c.consumed_by.display_name
    if c.component_unit is not None:
        u = c.component_unit
        return ComponentNode(kind="unit", part_number=u.unit_type.part_number, name=u.unit_type.name,
                             identifier=u.serial, quantity=c.quantity, step=c.step_code, consumed_at=c.consumed_at,
                             consumed_by=who, status=u.status)
    item = c.received_item
    assert item is not None
    return ComponentNode(kind=item.part.tracking, part_number=item.part.part_number, name=item.part.name,  # type: ignore[arg-type]
                         identifier=item.identifier, quantity=c.quantity, step=c.step_code,
                         consumed_at=c.consumed_at, consumed_by=who, status=item.status, supplier=item.supplier,
                         receipt=item.receipt, coc_reference=item.coc_reference)


def components_of(session: Session, unit_ids: list[int]) -> dict[int, list[ComponentNode]]:
    """The full component tree under each of `unit_ids`, keyed by unit id."""
    trees: dict[int, list[ComponentNode]] = {uid: [] for uid in unit_ids}
    frontier, seen = list(unit_ids), set(unit_ids)
    nodes_of: dict[int, list[ComponentNode]] = dict(trees)
    for _ in range(MAX_DEPTH):
        if not frontier:
            break
        rows = session.scalars(
            select(Consumption).where(Consumption.unit_id.in_(frontier), Consumption.removed_at.is_(None))
            # selectinload: by-id lookups stay cheap as the received-items and units tables grow.
            .options(selectinload(Consumption.consumed_by),
                     selectinload(Consumption.received_item).selectinload(ReceivedItem.part),
                     selectinload(Consumption.component_unit).selectinload(Unit.unit_type))
            .order_by(Consumption.id)).all()
        frontier = []
        for c in rows:
            node = _node(c)
            nodes_of[c.unit_id].append(node)
            if c.component_unit_id is not None and c.component_unit_id not in seen:
                seen.add(c.component_unit_id)
                nodes_of[c.component_unit_id] = node.components
                frontier.append(c.component_unit_id)
    return trees


def genealogy(session: Session, serial: str) -> Genealogy:
    """Everything built into a unit, recursively, with lots, suppliers and the consuming step."""
    unit = session.scalars(select(Unit).filter_by(serial=serial).options(joinedload(Unit.unit_type))).one_or_none()
    if unit is None:
        raise NotFound(f"no unit with serial {serial!r}", "serial")
    return Genealogy(serial=unit.serial, part_number=unit.unit_type.part_number, status=unit.status,
                     components=components_of(session, [unit.id])[unit.id])


@dataclass(frozen=True)
class _Resolved:
    subject: TraceSubject
    unit_id: int | None = None
    item_id: int | None = None


def resolve(session: Session, identifier: str, part_number: str | None) -> _Resolved:
    """What `identifier` names: a unit serial or a received lot or serial; 422 listing candidates if ambiguous."""
    candidates: list[_Resolved] = []
    unit = session.scalars(select(Unit).filter_by(serial=identifier).options(joinedload(Unit.unit_type))).one_or_none()
    if unit is not None:
        candidates.append(_Resolved(TraceSubject(kind="unit", part_number=unit.unit_type.part_number,
                                                 identifier=unit.serial, status=unit.status), unit_id=unit.id))
    for item in session.scalars(select(ReceivedItem).filter_by(identifier=identifier)
                                .options(joinedload(ReceivedItem.part))):
        candidates.append(_Resolved(TraceSubject(kind=item.part.tracking,  # type: ignore[arg-type]
                                                 part_number=item.part.part_number, identifier=item.identifier,
                                                 status=item.status), item_id=item.id))
    if part_number:
        candidates = [c for c in candidates if c.subject.part_number == part_number]
    if not candidates:
        raise NotFound(f"no unit, lot or serial {identifier!r}" + (f" of {part_number}" if part_number else ""),
                       "serial_or_lot")
    if len(candidates) > 1:
        listing = ", ".join(sorted(c.subject.part_number for c in candidates))
        raise Invalid(f"{identifier!r} names several items ({listing}); add ?part_number= to choose", "part_number")
    return candidates[0]


def trace(session: Session, identifier: str, part_number: str | None = None) -> Trace:
    """Every unit and satellite that contains `identifier`, up the tree."""
    start = resolve(session, identifier, part_number)
    found: dict[int, TracedUnit] = {}
    parent_of: dict[int, int] = {}  # a unit is built into one parent at a time, so each chain up is a line
    condition = (Consumption.component_unit_id == start.unit_id if start.unit_id is not None
                 else Consumption.received_item_id == start.item_id)
    for level in range(1, MAX_DEPTH + 1):
        rows = session.execute(
            select(Consumption.unit_id, Consumption.step_code, Consumption.component_unit_id, Unit.serial,
                   UnitType.part_number, Unit.status, Unit.on_hold)
            .join(Unit, Unit.id == Consumption.unit_id).join(UnitType, UnitType.id == Unit.unit_type_id)
            .where(condition, Consumption.removed_at.is_(None)).order_by(Unit.serial)).all()
        rows = [r for r in rows if r.unit_id not in found and r.unit_id != start.unit_id]
        for r in rows:
            via = found[r.component_unit_id].serial if r.component_unit_id in found else start.subject.identifier
            if r.component_unit_id is not None:
                parent_of[r.component_unit_id] = r.unit_id
            found[r.unit_id] = TracedUnit(serial=r.serial, part_number=r.part_number, status=r.status,
                                          on_hold=r.on_hold, level=level, contains=via, step=r.step_code,
                                          satellite=None)
        if not rows:
            break
        condition = Consumption.component_unit_id.in_([r.unit_id for r in rows])
    chain_tops = {uid: _top(uid, parent_of) for uid in [*found, *([start.unit_id] if start.unit_id else [])]}
    allocations = _allocations(session, sorted(set(chain_tops.values())))
    carriers: dict[str, list[str]] = {}
    for uid, top in chain_tops.items():
        if (allocation := allocations.get(top)) is not None:
            if uid in found:
                found[uid].satellite = allocation.build
            if uid == top:
                carriers.setdefault(allocation.build, []).append(allocation.serial)
    satellites = {a.build: a for a in allocations.values()}
    return Trace(subject=start.subject, units=sorted(found.values(), key=lambda u: (u.level, u.serial)),
                 satellites=[TracedSatellite(build=b, programme=satellites[b].programme,
                                             need_date=satellites[b].need_date, serials=sorted(serials))
                             for b, serials in sorted(carriers.items())])


def _top(unit_id: int, parent_of: dict[int, int]) -> int:
    while unit_id in parent_of:
        unit_id = parent_of[unit_id]
    return unit_id


def _allocations(session: Session, unit_ids: list[int]) -> dict[int, Any]:
    """The standing satellite allocation of each of the units that has one (plain rows: a wide trace
    would otherwise build a thousand ORM objects)."""
    if not unit_ids:
        return {}
    rows = session.execute(
        select(Allocation.unit_id, Unit.serial, Satellite.build, Satellite.programme, Satellite.need_date)
        .join(Unit, Unit.id == Allocation.unit_id).join(Satellite, Satellite.id == Allocation.satellite_id)
        .where(Allocation.unit_id.in_(unit_ids), Allocation.removed_at.is_(None)))
    return {r.unit_id: r for r in rows}
