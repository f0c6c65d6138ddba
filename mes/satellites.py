"""Satellites and their positions: accepted units are allocated to them; a deallocation is signed.

A satellite's positions are the active unit types times their quantity per satellite (30 by default).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from mes import audit, signatures
from mes.clock import event_time
from mes.errors import Conflict, Invalid, NotFound
from mes.models import Allocation, Line, Satellite, Unit, UnitType
from mes.units import check_free_to_install, lock_unit


@dataclass(frozen=True)
class Position:
    part_number: str
    unit_type: str
    line: int
    position: int
    serial: str | None
    allocated_at: datetime | None


def create_satellite(session: Session, user_id: int, build: str, programme: str, need_date: date,
                     at: datetime | None = None) -> Satellite:
    """Open a satellite build with its integration need-date."""
    at = event_time(at)
    build, programme = build.strip(), programme.strip()
    if not build or len(build) > 32:
        raise Invalid("give the build number (at most 32 characters)", "build")
    if not programme:
        raise Invalid("name the programme", "programme")
    if session.scalar(select(Satellite.id).filter_by(build=build)) is not None:
        raise Conflict(f"satellite {build} already exists", "build")
    satellite = Satellite(build=build, programme=programme, need_date=need_date, created_by_id=user_id,
                          created_at=at)
    session.add(satellite)
    session.flush()
    audit.record(session, user_id, "satellite.create", "satellite", build, at=at,
                 new={"programme": programme, "need_date": need_date.isoformat()})
    return satellite


def get_satellite(session: Session, build: str, *, lock: bool = False) -> Satellite:
    query = select(Satellite).filter_by(build=build)
    satellite = session.scalars(query.with_for_update() if lock else query).one_or_none()
    if satellite is None:
        raise NotFound(f"no satellite {build!r}", "build")
    return satellite


def list_satellites(session: Session) -> list[tuple[Satellite, int]]:
    """Every satellite by need-date, with how many positions are filled."""
    filled = (select(Allocation.satellite_id, func.count().label("n")).where(Allocation.removed_at.is_(None))
              .group_by(Allocation.satellite_id).subquery())
    rows = session.execute(select(Satellite, func.coalesce(filled.c.n, 0))
                           .outerjoin(filled, filled.c.satellite_id == Satellite.id)
                           .order_by(Satellite.need_date, Satellite.build)).all()
    return [(s, n) for s, n in rows]


def unit_types(session: Session) -> list[UnitType]:
    """The unit types a satellite carries, in line order."""
    return list(session.scalars(select(UnitType).join(Line).where(Line.active.is_(True)).order_by(Line.number)
                                .options(joinedload(UnitType.line))))


def positions(session: Session, satellite: Satellite) -> list[Position]:
    """Every position of the satellite, filled (with the serial) or missing."""
    standing = {(a.unit_type_id, a.position): a for a in session.scalars(
        select(Allocation).filter_by(satellite_id=satellite.id, removed_at=None).options(joinedload(Allocation.unit)))}
    out = []
    for t in unit_types(session):
        for n in range(1, t.qty_per_satellite + 1):
            a = standing.get((t.id, n))
            out.append(Position(t.part_number, t.name, t.line.number, n, a.unit.serial if a else None,
                                a.allocated_at if a else None))
    return out


def allocate(session: Session, user_id: int, build: str, serial: str, position: int | None = None,
             at: datetime | None = None) -> Allocation:
    """Put an accepted unit, free of NCRs and holds and not built into anything, into a satellite position."""
    at = event_time(at)
    satellite = get_satellite(session, build, lock=True)
    unit = lock_unit(session, serial)
    check_free_to_install(session, unit, "serial", f"satellite {build}")
    unit_type = unit.unit_type
    taken = set(session.scalars(select(Allocation.position).filter_by(
        satellite_id=satellite.id, unit_type_id=unit_type.id, removed_at=None)))
    if position is None:
        free = [n for n in range(1, unit_type.qty_per_satellite + 1) if n not in taken]
        if not free:
            raise Conflict(f"satellite {build} has all {unit_type.qty_per_satellite} {unit_type.part_number} "
                           "positions filled", "serial")
        position = free[0]
    elif not 1 <= position <= unit_type.qty_per_satellite:
        raise Invalid(f"a satellite carries {unit_type.qty_per_satellite} × {unit_type.part_number}: "
                      f"positions 1 to {unit_type.qty_per_satellite}", "position")
    elif position in taken:
        raise Conflict(f"{unit_type.part_number} position {position} of {build} is filled", "position")
    allocation = Allocation(satellite_id=satellite.id, unit_id=unit.id, unit_type_id=unit_type.id, position=position,
                            allocated_by_id=user_id, allocated_at=at)
    session.add(allocation)
    session.flush()
    audit.record(session, user_id, "satellite.allocate", "satellite", build, at=at,
                 new={"serial": serial, "part_number": unit_type.part_number, "position": position})
    return allocation


def deallocate(session: Session, user_id: int, build: str, serial: str, reason: str, secret: str | None,
               at: datetime | None = None) -> Allocation:
    """Take a unit out of a satellite: signed, with the reason; the allocation record stays."""
    at = event_time(at)
    if not reason.strip():
        raise Invalid("say why the unit is taken out", "reason")
    satellite = get_satellite(session, build, lock=True)
    allocation = session.scalars(select(Allocation).join(Unit, Unit.id == Allocation.unit_id).where(
        Allocation.satellite_id == satellite.id, Unit.serial == serial, Allocation.removed_at.is_(None))
        .with_for_update(of=Allocation)).one_or_none()
    if allocation is None:
        raise NotFound(f"{serial} is not allocated to satellite {build}", "serial")
    signature = signatures.sign(session, user_id, secret, "deallocation", "satellite", build, {
        "satellite": build, "serial": serial, "position": allocation.position, "reason": reason.strip()}, at)
    allocation.removed_at, allocation.removed_by_id = at, user_id
    allocation.removal_reason, allocation.removal_signature_id = reason.strip(), signature.id
    audit.record(session, user_id, "satellite.deallocate", "satellite", build, at=at, reason=reason.strip(),
                 new={"serial": serial, "position": allocation.position, "signature": signature.id})
    session.flush()
    return allocation
