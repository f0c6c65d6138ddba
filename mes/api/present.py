"""ORM records → API response bodies."""
from __future__ import annotations

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
        characteristics=[s.CharacteristicOut(name=c.name, kind=c.kind, unit=c.unit, nominal=c.nominal,
                                             lower=c.lower, upper=c.upper) for c in step.characteristics],
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
    )


def measurement(m: Measurement) -> s.MeasurementOut:
    return s.MeasurementOut(name=m.name, value=m.value_text, unit=m.unit, nominal=m.nominal, lower=m.lower,
                            upper=m.upper, passed=m.passed, source=m.source, voided=m.voided_at is not None)


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
