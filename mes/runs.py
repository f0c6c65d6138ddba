"""Machine runs: one step for several units together in one machine (chambers, racks), each in a position."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mes import audit
from mes.errors import Conflict, Invalid, NotFound
from mes.execution import (
    Completion,
    begin_execution,
    check_machine_free,
    check_workable,
    event_time,
    finish_execution,
    last_event_at,
    resolve_station,
    routing_step,
)
from mes.models import Machine
from mes.models.production import MachineRun, StepExecution
from mes.qualifications import check_qualified
from mes.units import lock_unit


@dataclass(frozen=True)
class Load:
    serial: str
    position: int


def start_run(session: Session, user_id: int, step_code: str, machine_code: str, loads: list[Load],
              at: datetime | None = None) -> MachineRun:
    """Start `step_code` for every loaded unit at once on one machine; all start or none does."""
    at = event_time(at)
    machine = session.scalars(select(Machine).filter_by(code=machine_code, active=True)).one_or_none()
    if machine is None or machine.station is None:
        raise Invalid(f"no machine {machine_code!r} at a station", "machine")
    if not loads:
        raise Invalid("load at least one unit", "units")
    if len(loads) > machine.positions:
        raise Invalid(f"{machine.code} holds {machine.positions} units, not {len(loads)}", "units")
    serials = [load.serial for load in loads]
    positions = [load.position for load in loads]
    if len(set(serials)) != len(serials):
        raise Invalid("a serial is loaded twice", "units")
    if len(set(positions)) != len(positions) or not all(1 <= p <= machine.positions for p in positions):
        raise Invalid(f"positions are distinct, from 1 to {machine.positions}", "units")
    check_machine_free(session, machine)
    run = MachineRun(machine_id=machine.id, station_id=machine.station_id, step_code=step_code,
                     started_by_id=user_id, started_at=at)
    session.add(run)
    session.flush()
    audit.record(session, user_id, "run.start", "machine_run", run.id, at=at, new={
        "machine": machine.code, "step": step_code, "units": {load.serial: load.position for load in loads}})
    for i, load in enumerate(loads):
        unit = lock_unit(session, load.serial)
        step = routing_step(session, unit, step_code)
        if not step.machine_run:
            raise Invalid(f"step {step_code} is not run in a machine for several units", "step")
        if machine.station_id not in {s.id for s in step.stations}:
            raise Invalid(f"{machine.code} stands at {machine.station.code}, where {step_code} is not done", "machine")
        try:
            check_workable(session, unit, step)
            event_time(at, last_event_at(session, unit))
        except (Conflict, Invalid) as exc:
            raise type(exc)(exc.message, f"units[{i}].serial") from None
        check_qualified(session, user_id, step, at)
        station = resolve_station(session, step, machine.station.code)
        begin_execution(session, unit, step, station, machine, user_id, at, run_id=run.id, position=load.position)
    return run


def get_run(session: Session, run_id: int) -> MachineRun:
    run = session.scalars(
        select(MachineRun).where(MachineRun.id == run_id).with_for_update()
        .options(selectinload(MachineRun.executions).selectinload(StepExecution.unit))
    ).one_or_none()
    if run is None:
        raise NotFound(f"no machine run {run_id}", "run")
    return run


def complete_run(session: Session, user_id: int, run_id: int, values: dict[str, dict[str, object]],
                 at: datetime | None = None, instruments: dict[str, str] | None = None) -> list[Completion]:
    """Complete a run with each unit's measurements (by serial); each unit passes or fails on its own."""
    run = get_run(session, run_id)
    at = event_time(at, run.started_at)
    if run.status != "running":
        raise Conflict(f"run {run_id} is {run.status}", "run")
    if not isinstance(values, dict):
        raise Invalid("measurements are an object of serial: {name: value}", "measurements")
    running = [e for e in run.executions if e.status == "running"]
    serials = {e.unit.serial for e in running}
    if unknown := sorted(set(values) - serials):
        raise Invalid(f"not running in this run: {', '.join(unknown)}", f"measurements.{unknown[0]}")
    if missing := sorted(serials - set(values)):
        raise Invalid(f"missing measurements for {', '.join(missing)}", f"measurements.{missing[0]}")
    results = []
    for execution in running:
        lock_unit(session, execution.unit.serial)
        serial = execution.unit.serial
        results.append(finish_execution(session, execution, user_id, values[serial], at,
                                        field=f"measurements.{serial}", instruments=instruments))
    run.status = "complete"
    run.ended_at = at
    audit.record(session, user_id, "run.complete", "machine_run", run.id, at=at,
                 new={"results": {r.execution.unit.serial: r.execution.status for r in results}})
    return results
