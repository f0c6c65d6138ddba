"""Traceability routes: genealogy down, trace up, containment, satellites and allocations, as-built records."""
from __future__ import annotations

from mes import as_built, containment, genealogy, satellites
from mes.api import material_schemas as m
from mes.api.operation import Call, operation
from mes.api.quality import signature_out
from mes.models import Allocation, Containment


@operation("GET", "/units/<serial>/genealogy", summary="Everything built into a unit, recursively, with lots, "
           "suppliers and the consuming step", response=genealogy.Genealogy, permission="read")
def unit_genealogy(call: Call, serial: str) -> genealogy.Genealogy:
    return genealogy.genealogy(call.session, serial)


@operation("GET", "/trace/<serial_or_lot>", summary="Every unit and satellite that contains a serial or lot, up "
           "the tree (add ?part_number= where a lot number is ambiguous)", query=m.TraceQuery,
           response=genealogy.Trace, permission="read")
def trace(call: Call, serial_or_lot: str) -> genealogy.Trace:
    return genealogy.trace(call.session, serial_or_lot, call.query.part_number)


def containment_out(call: Call, c: Containment) -> m.ContainmentOut:
    return m.ContainmentOut(
        number=c.number, subject=c.subject, reason=c.reason, placed_at=c.placed_at,
        signature=signature_out(c.signature), units=[i.unit.serial for i in c.items if i.unit],
        satellites=[i.satellite.build for i in c.items if i.satellite],
        material=[c.subject for i in c.items if i.received_item_id],
        holds_standing=containment.standing_holds(call.session, c))


@operation("POST", "/containments", summary="Hold every unit a trace reaches, quarantine the material and flag "
           "the satellites, in one signed action", status=201, body=m.ContainmentIn, response=m.ContainmentOut,
           permission="containment")
def contain(call: Call) -> m.ContainmentOut:
    b = call.body
    placed, _ = containment.contain(call.session, call.user_id, b.serial_or_lot, b.part_number, b.reason, b.pin)
    return containment_out(call, containment.get_containment(call.session, placed.number))


@operation("GET", "/containments/<number>", summary="A containment: what it held and how many holds still stand",
           response=m.ContainmentOut, permission="read")
def get_containment(call: Call, number: str) -> m.ContainmentOut:
    return containment_out(call, containment.get_containment(call.session, number))


def satellite_out(call: Call, build: str) -> m.SatelliteOut:
    sat = satellites.get_satellite(call.session, build)
    slots = satellites.positions(call.session, sat)
    filled = sum(1 for p in slots if p.serial)
    return m.SatelliteOut(
        build=sat.build, programme=sat.programme, need_date=sat.need_date, filled=filled,
        missing=len(slots) - filled, containments=[c.number for c in containment.flags_on(call.session, sat)],
        positions=[m.PositionOut(part_number=p.part_number, unit_type=p.unit_type, line=p.line, position=p.position,
                                 serial=p.serial, allocated_at=p.allocated_at) for p in slots])


@operation("POST", "/satellites", summary="Open a satellite build with its integration need-date", status=201,
           body=m.SatelliteIn, response=m.SatelliteOut, permission="satellite.allocate")
def create_satellite(call: Call) -> m.SatelliteOut:
    b = call.body
    sat = satellites.create_satellite(call.session, call.user_id, b.build, b.programme, b.need_date)
    return satellite_out(call, sat.build)


@operation("GET", "/satellites", summary="Satellites by need-date, with how many positions are filled",
           response=m.SatelliteList, permission="read")
def list_satellites(call: Call) -> m.SatelliteList:
    total = sum(t.qty_per_satellite for t in satellites.unit_types(call.session))
    return m.SatelliteList(items=[
        m.SatelliteSummary(build=s.build, programme=s.programme, need_date=s.need_date, filled=n, positions=total)
        for s, n in satellites.list_satellites(call.session)])


@operation("GET", "/satellites/<build>", summary="A satellite's positions: which are filled, which are missing",
           response=m.SatelliteOut, permission="read")
def get_satellite(call: Call, build: str) -> m.SatelliteOut:
    return satellite_out(call, build)


def allocation_out(a: Allocation, build: str) -> m.AllocationOut:
    return m.AllocationOut(build=build, serial=a.unit.serial, part_number=a.unit_type.part_number,
                           position=a.position, allocated_at=a.allocated_at, removed_at=a.removed_at,
                           removal_reason=a.removal_reason)


@operation("POST", "/satellites/<build>/allocations", summary="Allocate an accepted unit to a satellite position",
           status=201, body=m.AllocationIn, response=m.AllocationOut, permission="satellite.allocate")
def allocate(call: Call, build: str) -> m.AllocationOut:
    b = call.body
    return allocation_out(satellites.allocate(call.session, call.user_id, build, b.serial, b.position), build)


@operation("POST", "/satellites/<build>/deallocations", summary="Take a unit out of a satellite (signed, with "
           "the reason)", body=m.DeallocationIn, response=m.AllocationOut, permission="satellite.allocate")
def deallocate(call: Call, build: str) -> m.AllocationOut:
    b = call.body
    return allocation_out(satellites.deallocate(call.session, call.user_id, build, b.serial, b.reason, b.pin), build)


@operation("GET", "/units/<serial>/as-built", summary="The as-built record of a unit", response=as_built.UnitAsBuilt,
           permission="read")
def unit_as_built(call: Call, serial: str) -> as_built.UnitAsBuilt:
    return as_built.unit_as_built(call.session, serial)


@operation("GET", "/satellites/<build>/as-built", summary="The as-built record of a satellite and every unit in it",
           response=as_built.SatelliteAsBuilt, permission="read")
def satellite_as_built(call: Call, build: str) -> as_built.SatelliteAsBuilt:
    return as_built.satellite_as_built(call.session, build)
