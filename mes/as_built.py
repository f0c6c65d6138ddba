"""The as-built record: everything done to a unit, or to every unit in a satellite, in one document.

The same record is served as JSON (the API) and as a printable page (the web), so the two cannot differ.
Units are loaded in batches (one query per kind of record), so a satellite's record costs a few queries.
"""
from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from mes.containment import flags_on
from mes.errors import NotFound
from mes.genealogy import ComponentNode, components_of
from mes.models import (
    Allocation,
    Consumption,
    Deviation,
    Instrument,
    NcrDisposition,
    RoutingRevision,
    Satellite,
    Signature,
    StepEvent,
    StepExecution,
    Unit,
    utcnow,
)
from mes.models.production import Nonconformance
from mes.satellites import get_satellite, positions


class SignatureRecord(BaseModel):
    printed_name: str
    meaning: str
    at: datetime
    content_hash: str


class MeasurementRecord(BaseModel):
    name: str
    value: str
    unit: str | None
    nominal: str | None
    lower: str | None  # the limits in force when it was judged
    upper: str | None
    passed: bool
    source: str
    instrument: str | None
    deviation: str | None
    voided: bool
    void_reason: str | None


class EventRecord(BaseModel):
    kind: str
    by: str
    at: datetime
    note: str | None


class ExecutionRecord(BaseModel):
    step: str
    name: str
    sequence: int
    status: str
    rework: bool
    station: str
    machine: str | None
    run: int | None
    started_at: datetime
    ended_at: datetime | None
    people: list[str]  # everyone who worked on it, in order
    events: list[EventRecord]
    measurements: list[MeasurementRecord]
    signoff_required: bool  # an inspection buy-off is due on this step
    buyoff: SignatureRecord | None


class NcrRecord(BaseModel):
    number: str
    step: str | None
    defect_code: str
    description: str
    status: str
    opened_at: datetime
    closed_at: datetime | None
    decision: str | None
    rework_step: str | None
    note: str | None
    signature: SignatureRecord | None
    mrb_signature: SignatureRecord | None


class DeviationRecord(BaseModel):
    number: str
    step: str
    characteristic: str
    lower: str | None
    upper: str | None
    valid_from: datetime
    valid_until: datetime
    reason: str
    open: bool
    signature: SignatureRecord


class UnitAsBuilt(BaseModel):
    serial: str
    part_number: str
    name: str
    work_order: str
    routing_revision: int
    status: str
    first_pass: bool
    on_hold: bool
    created_at: datetime
    acceptance: SignatureRecord | None
    built_into: str | None
    satellite: str | None
    executions: list[ExecutionRecord]
    ncrs: list[NcrRecord]
    deviations: list[DeviationRecord]
    components: list[ComponentNode]


class PositionRecord(BaseModel):
    part_number: str
    name: str
    line: int
    position: int
    serial: str | None


class SatelliteAsBuilt(BaseModel):
    build: str
    programme: str
    need_date: date
    positions: list[PositionRecord]
    filled: int
    missing: int
    containments: list[str]  # containments that still hold a unit in it
    open_deviations: list[DeviationRecord]
    units: list[UnitAsBuilt]  # every unit in it, sub-assemblies included


def _signature(s: Signature | None) -> SignatureRecord | None:
    if s is None:
        return None
    return SignatureRecord(printed_name=s.printed_name, meaning=s.meaning, at=s.at, content_hash=s.content_hash)


def _load_units(session: Session, unit_ids: list[int]) -> list[Unit]:
    return list(session.scalars(select(Unit).where(Unit.id.in_(unit_ids)).options(
        selectinload(Unit.work_order), selectinload(Unit.unit_type),
        selectinload(Unit.routing_revision).selectinload(RoutingRevision.steps),
        selectinload(Unit.executions).options(
            selectinload(StepExecution.station), selectinload(StepExecution.machine),
            selectinload(StepExecution.measurements),
            selectinload(StepExecution.events).selectinload(StepEvent.user)),
    )))


def _records(session: Session, units: list[Unit], now: datetime,
             trees: dict[int, list[ComponentNode]] | None = None) -> list[UnitAsBuilt]:
    """The as-built record of each unit, loading each kind of record once for all of them."""
    ids = [u.id for u in units]
    executions = [e for u in units for e in u.executions]
    measurements = [m for e in executions for m in e.measurements]
    ncrs = list(session.scalars(select(Nonconformance).where(Nonconformance.unit_id.in_(ids))
                                .order_by(Nonconformance.opened_at)))
    dispositions = {d.ncr_id: d for d in session.scalars(
        select(NcrDisposition).where(NcrDisposition.ncr_id.in_([n.id for n in ncrs])))}
    used = {m.deviation_id for m in measurements if m.deviation_id}
    serials, orders = {u.serial for u in units}, {u.work_order_id for u in units}
    # Serial lists are JSON, so those deviations are matched here rather than in SQL; there are few.
    candidates = session.scalars(select(Deviation).where(or_(
        Deviation.id.in_(used), Deviation.work_order_id.in_(orders), Deviation.work_order_id.is_(None)))
        .order_by(Deviation.valid_from))
    deviations = [d for d in candidates if d.id in used or d.work_order_id in orders or set(d.serials) & serials]
    signature_ids = ({e.buyoff_signature_id for e in executions} | {u.acceptance_signature_id for u in units}
                     | {d.signature_id for d in deviations} | {d.signature_id for d in dispositions.values()}
                     | {d.mrb_signature_id for d in dispositions.values()}) - {None}
    signatures = {s.id: s for s in session.scalars(select(Signature).where(Signature.id.in_(signature_ids)))}
    instruments = dict(session.execute(select(Instrument.id, Instrument.code).where(
        Instrument.id.in_({m.instrument_id for m in measurements} - {None}))).all())
    deviation_numbers = {d.id: d.number for d in deviations}
    components = trees if trees is not None else components_of(session, ids)
    parents = dict(session.execute(select(Consumption.component_unit_id, Unit.serial)
                                   .join(Unit, Unit.id == Consumption.unit_id)
                                   .where(Consumption.component_unit_id.in_(ids), Consumption.removed_at.is_(None)))
                   .all())
    carriers = dict(session.execute(select(Allocation.unit_id, Satellite.build).join(Satellite)
                                    .where(Allocation.unit_id.in_(ids), Allocation.removed_at.is_(None))).all())
    out = []
    for u in units:
        names = {s.sequence: s.name for s in u.routing_revision.steps}
        signoffs = {s.sequence for s in u.routing_revision.steps if s.signoff}
        sequences = {s.code: s.sequence for s in u.routing_revision.steps}
        mine = [d for d in deviations if d.id in {m.deviation_id for e in u.executions for m in e.measurements}
                or d.work_order_id == u.work_order_id or u.serial in d.serials]
        out.append(UnitAsBuilt(
            serial=u.serial, part_number=u.unit_type.part_number, name=u.unit_type.name,
            work_order=u.work_order.number, routing_revision=u.routing_revision.revision, status=u.status,
            first_pass=u.first_pass, on_hold=u.on_hold, created_at=u.created_at,
            acceptance=_signature(signatures.get(u.acceptance_signature_id)),  # type: ignore[arg-type]
            built_into=parents.get(u.id), satellite=carriers.get(u.id),
            executions=[_execution(e, names, signoffs, sequences, signatures, instruments, deviation_numbers)
                        for e in u.executions],
            ncrs=[_ncr(n, dispositions.get(n.id), signatures) for n in ncrs if n.unit_id == u.id],
            deviations=[_deviation(d, signatures, now) for d in mine],
            components=components[u.id],
        ))
    return out


def _execution(e: StepExecution, names: dict[int, str], signoffs: set[int], sequences: dict[str, int],
               signatures: dict[int, Signature], instruments: dict[int, str], deviations: dict[int, str],
               ) -> ExecutionRecord:
    sequence = sequences.get(e.step_code, 0)
    people: list[str] = []
    for ev in e.events:
        if ev.user.display_name not in people:
            people.append(ev.user.display_name)
    return ExecutionRecord(
        step=e.step_code, name=names.get(sequence, e.step_code), sequence=sequence, status=e.status, rework=e.rework,
        station=e.station.code, machine=e.machine.code if e.machine else None, run=e.run_id,
        started_at=e.started_at, ended_at=e.ended_at, people=people,
        events=[EventRecord(kind=ev.kind, by=ev.user.display_name, at=ev.at, note=ev.note) for ev in e.events],
        measurements=[MeasurementRecord(
            name=m.name, value=m.value_text, unit=m.unit, nominal=m.nominal, lower=m.lower, upper=m.upper,
            passed=m.passed, source=m.source, instrument=instruments.get(m.instrument_id),  # type: ignore[arg-type]
            deviation=deviations.get(m.deviation_id), voided=m.voided_at is not None,  # type: ignore[arg-type]
            void_reason=m.void_reason) for m in e.measurements],
        signoff_required=sequence in signoffs,
        buyoff=_signature(signatures.get(e.buyoff_signature_id)),  # type: ignore[arg-type]
    )


def _ncr(n: Nonconformance, d: NcrDisposition | None, signatures: dict[int, Signature]) -> NcrRecord:
    return NcrRecord(number=n.number, step=n.step_code, defect_code=n.defect_code, description=n.description,
                     status=n.status, opened_at=n.opened_at, closed_at=n.closed_at,
                     decision=d.decision if d else None, rework_step=d.rework_step_code if d else None,
                     note=d.note if d else None, signature=_signature(signatures.get(d.signature_id)) if d else None,
                     mrb_signature=_signature(signatures.get(d.mrb_signature_id)) if d and d.mrb_signature_id else None)


def _deviation(d: Deviation, signatures: dict[int, Signature], now: datetime) -> DeviationRecord:
    return DeviationRecord(number=d.number, step=d.step_code, characteristic=d.characteristic, lower=d.lower,
                           upper=d.upper, valid_from=d.valid_from, valid_until=d.valid_until, reason=d.reason,
                           open=d.valid_until > now, signature=_signature(signatures[d.signature_id]))  # type: ignore[arg-type]


def _subtrees(nodes: list[ComponentNode]) -> dict[str, list[ComponentNode]]:
    """The built units inside these trees, each with its own components (already loaded)."""
    found: dict[str, list[ComponentNode]] = {}
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if node.kind == "unit":
            found[node.identifier] = node.components
        stack.extend(node.components)
    return found


def unit_as_built(session: Session, serial: str) -> UnitAsBuilt:
    """The as-built record of one unit."""
    unit_id = session.scalar(select(Unit.id).filter_by(serial=serial))
    if unit_id is None:
        raise NotFound(f"no unit with serial {serial!r}", "serial")
    return _records(session, _load_units(session, [unit_id]), utcnow())[0]


def satellite_as_built(session: Session, build: str) -> SatelliteAsBuilt:
    """The as-built record of a satellite: its positions, and every unit in it with its own record."""
    satellite = get_satellite(session, build)
    slots = positions(session, satellite)
    top = [p.serial for p in slots if p.serial]
    top_ids = list(session.scalars(select(Unit.id).where(Unit.serial.in_(top))))
    top_trees = components_of(session, top_ids)
    subtrees = _subtrees([n for nodes in top_trees.values() for n in nodes])
    nested = list(subtrees)
    ids_of = dict(session.execute(select(Unit.serial, Unit.id).where(Unit.serial.in_(nested))).all())
    nested_ids = [ids_of[s] for s in nested]
    trees = {**top_trees, **{ids_of[s]: nodes for s, nodes in subtrees.items()}}
    now = utcnow()
    order = {s: i for i, s in enumerate(top + nested)}
    units = sorted(_records(session, _load_units(session, top_ids + nested_ids), now, trees),
                   key=lambda r: order[r.serial])
    seen: set[str] = set()
    open_deviations = []
    for u in units:
        for d in u.deviations:
            if d.open and d.number not in seen:
                seen.add(d.number)
                open_deviations.append(d)
    return SatelliteAsBuilt(
        build=satellite.build, programme=satellite.programme, need_date=satellite.need_date,
        positions=[PositionRecord(part_number=p.part_number, name=p.unit_type, line=p.line, position=p.position,
                                  serial=p.serial) for p in slots],
        filled=len(top), missing=len(slots) - len(top),
        containments=[c.number for c in flags_on(session, satellite)],
        open_deviations=open_deviations, units=units)
