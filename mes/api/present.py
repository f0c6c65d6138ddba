"""ORM records → API response bodies."""
from __future__ import annotations

from sqlalchemy.orm import object_session

from mes import excursions as excursion_rules
from mes import machine_writes as writes
from mes.api import schemas as s
from mes.execution import Completion
from mes.models import RoutingStep
from mes.models.production import MachineRun, Measurement, StepExecution, WorkOrder
from mes.units import UnitRecord


def work_order(order: WorkOrder) -> s.WorkOrderOut:
    return s.WorkOrderOut(
        number=order.number, unit_type=order.unit_type.part_number, routing_revision=order.routing_revision.revision,
        quantity=order.quantity, due=order.due, priority=order.priority, status=order.status,
        released_at=order.released_at, serials=[u.serial for u in order.units],
    )


def step(step: RoutingStep) -> s.StepOut:
    return s.StepOut(
        code=step.code, name=step.name, sequence=step.sequence, stations=[st.code for st in step.stations],
        machine_run=step.machine_run, signoff=step.signoff, qualifications=step.qualifications,
        standard_minutes=step.standard_minutes,
        characteristics=[s.CharacteristicOut(
            name=c.name, kind=c.kind, unit=c.unit, nominal=c.nominal, lower=c.lower, upper=c.upper,
            source=s.SourceOut(tag=c.source_tag, aggregate=c.source_aggregate) if c.source_tag else None,  # type: ignore[arg-type]
        ) for c in step.characteristics],
        consumes=[s.BomLineOut(part_number=b.part_number, quantity=b.quantity) for b in step.bom],
    )


def execution(e: StepExecution) -> s.ExecutionOut:
    people = list(dict.fromkeys(ev.user.name for ev in e.events))
    return s.ExecutionOut(
        id=e.id, step=e.step_code, status=e.status, station=e.station.code,
        machine=e.machine.code if e.machine else None, run=e.run_id, position=e.position, rework=e.rework,
        started_at=e.started_at, ended_at=e.ended_at, people=people,
        events=[s.EventOut(kind=ev.kind, user=ev.user.name, at=ev.at, note=ev.note) for ev in e.events],
        measurements=[measurement(m) for m in e.measurements],
        excursions=excursions(e),
        machine_writes=machine_writes(e),
    )


def excursions(e: StepExecution) -> list[s.ExcursionOut]:
    """Tags out of limits while it ran: as recorded at completion, or so far for a running step."""
    session = object_session(e)
    if e.machine_id is None or session is None:
        return []
    return [s.ExcursionOut(machine=f.machine, tag=f.tag, unit=f.unit, side=f.side, limit=f.limit,  # type: ignore[arg-type]
                           first_at=f.first_at, last_at=f.last_at, extreme=f.extreme, samples=f.samples,
                           action=f.action, ncr=f.ncr) for f in excursion_rules.live(session, e)]


def machine_writes(e: StepExecution) -> list[s.MachineWriteOut]:
    """What the start asked the machine to load, and how it went; only a machine step can have any."""
    session = object_session(e)
    if e.machine_id is None or session is None:
        return []
    return [s.MachineWriteOut(machine=w.machine, tag=w.tag, meaning=w.meaning, value=w.value, status=w.status,
                              error=w.error, requested_at=w.requested_at, done_at=w.done_at)
            for w in writes.writes_of_execution(session, e)]


def measurement(m: Measurement) -> s.MeasurementOut:
    tag = m.captured_tag
    captured = None if tag is None else s.CapturedOut(
        machine=tag.machine.code, tag=tag.name, aggregate=m.captured_aggregate or "", samples=m.captured_samples or 0,
        window_start=m.captured_from, window_end=m.captured_to)  # type: ignore[arg-type]
    return s.MeasurementOut(name=m.name, value=m.value_text, unit=m.unit, nominal=m.nominal, lower=m.lower,
                            upper=m.upper, passed=m.passed, source=m.source, captured=captured,  # type: ignore[arg-type]
                            voided=m.voided_at is not None)


def unit(record: UnitRecord) -> s.UnitOut:
    u = record.unit
    current = next((e for e in u.executions if e.id == u.current_execution_id), None)
    return s.UnitOut(
        serial=u.serial, unit_type=u.unit_type.part_number, work_order=u.work_order.number, status=u.status,
        on_hold=u.on_hold, first_pass=u.first_pass, routing_revision=u.routing_revision.revision,
        current_step=current.step_code if current else None,
        next_step=step(record.next_step) if record.next_step else None,
        open_ncrs=[n.number for n in record.open_ncrs], executions=[execution(e) for e in u.executions],
    )


def completion(c: Completion) -> s.CompletionOut:
    return s.CompletionOut(result="passed" if c.passed else "failed", ncr=c.ncr.number if c.ncr else None,
                           execution=execution(c.execution))


def run(r: MachineRun) -> s.RunOut:
    return s.RunOut(
        id=r.id, machine=r.machine.code, station=r.station.code, step=r.step_code, status=r.status,
        started_at=r.started_at, ended_at=r.ended_at,
        units=[s.RunUnitOut(serial=e.unit.serial, position=e.position, status=e.status) for e in r.executions],
    )
