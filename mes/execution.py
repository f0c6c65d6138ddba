"""Walking units through their routings: start, pause, resume, hand over, abort and complete steps.

Every function takes the caller's session (one transaction per use case, opened by the caller),
the acting user's id, and optionally `at`, the time it happened (the demo seeds history with it).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from mes import audit, excursions, machine_capture, machine_writes
from mes.clock import event_time
from mes.consumption import check_complete
from mes.deviations import covering_deviation
from mes.errors import Conflict, Invalid, NotFound
from mes.instruments import usable_instrument
from mes.measurements import Judged, judge_all
from mes.models import Instrument, Machine, RoutingStep, Station
from mes.models.production import MachineRun, Measurement, Nonconformance, StepEvent, StepExecution, Unit
from mes.qualifications import check_qualified
from mes.quality import open_ncr_for_failed_step
from mes.signoff import awaiting_buyoff
from mes.units import current_execution, lock_unit

log = logging.getLogger(__name__)


class StepOutOfOrder(Conflict):
    """Only the next step of the unit's routing revision may start."""


class UnitNotWorkable(Conflict):
    """The unit is on hold, scrapped, accepted, waiting for acceptance or already in a step."""


@dataclass(frozen=True)
class Completion:
    execution: StepExecution
    passed: bool
    ncr: Nonconformance | None


def routing_step(session: Session, unit: Unit, step_code: str) -> RoutingStep:
    """The step `step_code` of the unit's own routing revision."""
    step = session.scalars(
        select(RoutingStep).filter_by(routing_revision_id=unit.routing_revision_id, code=step_code)
        .options(selectinload(RoutingStep.stations), selectinload(RoutingStep.characteristics))
    ).one_or_none()
    if step is None:
        raise NotFound(f"step {step_code!r} is not in the routing of {unit.serial}", "step")
    return step


def check_workable(session: Session, unit: Unit, step: RoutingStep) -> None:
    """Refuse, with the reason, a start the unit's state or routing position does not allow."""
    if unit.status == "scrapped":
        raise UnitNotWorkable(f"{unit.serial} is scrapped")
    if unit.status == "accepted":
        raise UnitNotWorkable(f"{unit.serial} is accepted; no further steps")
    if unit.status == "ready":
        raise UnitNotWorkable(f"{unit.serial} has passed its last step and awaits acceptance")
    if unit.on_hold:
        raise UnitNotWorkable(f"{unit.serial} is on hold")
    if unit.current_execution_id is not None:
        raise UnitNotWorkable(f"{unit.serial} is already in a step", "step")
    if step.sequence != unit.next_sequence:
        expected = next((s.code for s in unit.routing_revision.steps if s.sequence == unit.next_sequence), "?")
        raise StepOutOfOrder(f"{unit.serial} is due for step {expected}, not {step.code}", "step")
    if step.sequence > 1 and (pending := awaiting_buyoff(session, unit, step.sequence - 1)):
        raise UnitNotWorkable(f"step {pending} of {unit.serial} awaits its inspection buy-off", "step")


def resolve_station(session: Session, step: RoutingStep, station_code: str) -> Station:
    station = next((s for s in step.stations if s.code == station_code and s.active), None)
    if station is None:
        allowed = ", ".join(s.code for s in step.stations)
        raise Invalid(f"step {step.code} is done at {allowed}, not {station_code!r}", "station")
    return station


def resolve_machine(session: Session, station: Station, machine_code: str) -> Machine:
    machine = session.scalars(select(Machine).filter_by(code=machine_code, active=True)).one_or_none()
    if machine is None or machine.station_id != station.id:
        raise Invalid(f"no machine {machine_code!r} at station {station.code}", "machine")
    return machine


def last_event_at(session: Session, unit: Unit) -> datetime | None:
    """When the unit was last worked on (or released), so a new record cannot come before it."""
    last = session.scalar(select(func.max(StepExecution.ended_at)).where(StepExecution.unit_id == unit.id))
    return max(t for t in (last, unit.created_at) if t is not None)


def check_machine_free(session: Session, machine: Machine) -> None:
    """A machine holds at most `positions` units at once, and nothing beside a running run."""
    if (run := session.scalar(select(MachineRun.id).filter_by(machine_id=machine.id, status="running"))) is not None:
        raise Conflict(f"{machine.code} is already running run {run}", "machine")
    busy = session.scalar(select(func.count()).select_from(StepExecution)
                          .where(StepExecution.machine_id == machine.id,
                                 StepExecution.status.in_(("running", "paused"))))
    if busy and busy >= machine.positions:
        raise Conflict(f"{machine.code} is full ({busy} of {machine.positions} positions in use)", "machine")


def add_event(session: Session, execution: StepExecution, kind: str, user_id: int, at: datetime,
              note: str | None = None, details: dict[str, object] | None = None) -> None:
    """Record what happened to an execution, and the same in the audit trail."""
    execution.events.append(StepEvent(kind=kind, user_id=user_id, at=at, note=note))
    session.flush()  # so the event reads back with its user, like any stored one
    audit.record(session, user_id, f"step.{kind}", "unit", execution.unit.serial, reason=note, at=at,
                 new={"step": execution.step_code, "status": execution.status, **(details or {})})


def begin_execution(session: Session, unit: Unit, step: RoutingStep, station: Station, machine: Machine | None,
                    user_id: int, at: datetime, run_id: int | None = None, position: int | None = None,
                    ) -> StepExecution:
    execution = StepExecution(
        unit=unit, step_id=step.id, step_code=step.code, station_id=station.id,
        machine_id=machine.id if machine else None, run_id=run_id, position=position, status="running",
        rework=not unit.first_pass and any(e.step_code == step.code for e in unit.executions),
        started_by_id=user_id, started_at=at,
    )
    session.add(execution)
    session.flush()
    unit.current_execution_id = execution.id
    add_event(session, execution, "start", user_id, at, details={
        "station": station.code, "machine": machine.code if machine else None, "run": run_id, "position": position})
    machine_writes.request_for_start(session, execution, step, machine, user_id, at)
    return execution


def start_step(session: Session, user_id: int, serial: str, step_code: str, station_code: str,
               machine_code: str | None = None, at: datetime | None = None) -> StepExecution:
    """Start the unit's next step at a station that performs it, optionally on a named machine."""
    unit = lock_unit(session, serial)
    at = event_time(at, last_event_at(session, unit))
    step = routing_step(session, unit, step_code)
    check_workable(session, unit, step)
    check_qualified(session, user_id, step, at)
    station = resolve_station(session, step, station_code)
    machine = resolve_machine(session, station, machine_code) if machine_code else None
    if machine is not None:
        check_machine_free(session, machine)
    return begin_execution(session, unit, step, station, machine, user_id, at)


def pause_step(session: Session, user_id: int, serial: str, step_code: str, note: str | None = None,
               at: datetime | None = None) -> StepExecution:
    """Pause a running step (end of shift, waiting for parts); its clock stops until resumed."""
    execution = current_execution(session, serial, step_code, ("running",))
    at = event_time(at, execution.events[-1].at if execution.events else None)
    execution.status = "paused"
    add_event(session, execution, "pause", user_id, at, note)
    return execution


def resume_step(session: Session, user_id: int, serial: str, step_code: str, at: datetime | None = None,
                ) -> StepExecution:
    """Resume a paused step; by someone else it is recorded as a hand-over to them."""
    execution = current_execution(session, serial, step_code, ("paused",))
    last_actor = execution.events[-1].user_id if execution.events else execution.started_by_id
    execution.status = "running"
    kind = "resume" if last_actor == user_id else "handover"
    at = event_time(at, execution.events[-1].at if execution.events else None)
    add_event(session, execution, kind, user_id, at)
    return execution


def abort_step(session: Session, user_id: int, serial: str, step_code: str, reason: str,
               at: datetime | None = None) -> StepExecution:
    """Abort a running or paused step (a supervisor's call); the unit returns to the step's start."""
    if not reason or not reason.strip():
        raise Invalid("say why the step is aborted", "reason")
    execution = current_execution(session, serial, step_code, ("running", "paused"))
    at = event_time(at, execution.events[-1].at if execution.events else None)
    execution.status = "aborted"
    execution.abort_reason = reason.strip()
    execution.ended_at = at
    add_event(session, execution, "abort", user_id, at, reason.strip())
    execution.unit.current_execution_id = None
    return execution


def _instruments(session: Session, judged: list[Judged], instruments: dict[str, str] | None, at: datetime,
                 field: str) -> dict[str, Instrument]:
    """The instrument behind each value: `instruments` maps a characteristic (or "*" for all) to a code."""
    if not instruments:
        return {}
    if unknown := sorted(set(instruments) - {j.characteristic.name for j in judged} - {"*"}):
        raise Invalid(f"not measured at this step: {', '.join(unknown)}", f"instruments.{unknown[0]}")
    found: dict[str, Instrument] = {}
    for j in judged:
        code = instruments.get(j.characteristic.name) or instruments.get("*")
        if code and j.number is not None:
            found[j.characteristic.name] = usable_instrument(session, code, at, f"instruments.{j.characteristic.name}")
    return found


def finish_execution(session: Session, execution: StepExecution, user_id: int, values: dict[str, object],
                     at: datetime, field: str = "measurements", instruments: dict[str, str] | None = None,
                     ) -> Completion:
    """Record and judge the values; a failure holds the unit and opens an NCR, a pass moves it on.

    A value outside its limits still passes under a deviation in force for this unit and characteristic.
    Captured characteristics are read from the machine (mes.machine_capture); excursions are recorded, and
    fail the step where their tag says so (mes.excursions).
    """
    unit = execution.unit
    step = execution.step
    check_complete(session, execution)
    values, captured = machine_capture.capture(session, execution, values, at, field)
    judged = judge_all(step.characteristics, values, field)
    used = _instruments(session, judged, instruments, at, "instruments")
    for i, j in enumerate(judged):
        c = j.characteristic
        deviation = None
        if not j.passed and j.number is not None:
            deviation = covering_deviation(session, unit, step.code, c.name, j.number, at)
            if deviation is not None:
                judged[i] = j = replace(j, passed=True)
        execution.measurements.append(Measurement(
            characteristic_id=c.id, name=c.name, value_text=j.text,
            value=float(j.number) if j.number is not None else None, unit=c.unit, nominal=c.nominal,
            lower=c.lower, upper=c.upper, passed=j.passed, recorded_at=at,
            instrument_id=used[c.name].id if c.name in used else None,
            deviation_id=deviation.id if deviation else None, **machine_capture.provenance(captured.get(c.name)),
        ))
    found = excursions.record(session, execution, user_id, at)
    passed = all(j.passed for j in judged) and not excursions.failing(found)
    execution.status = "passed" if passed else "failed"
    execution.ended_at = at
    execution.completed_by_id = user_id
    add_event(session, execution, "complete", user_id, at, details={
        "result": execution.status, "measurements": {j.characteristic.name: j.text for j in judged}})
    unit.current_execution_id = None
    ncr = None
    if passed:
        last = max(s.sequence for s in unit.routing_revision.steps)
        if step.sequence == last:
            unit.status = "ready"
        else:
            unit.next_sequence = step.sequence + 1
    else:
        unit.first_pass = False
        ncr = open_ncr_for_failed_step(session, execution, [j.as_failure() for j in judged if not j.passed]
                                       + excursions.as_failures(found), user_id, at)
        excursions.attach(session, execution, ncr)
    session.flush()
    return Completion(execution, passed, ncr)


def complete_step(session: Session, user_id: int, serial: str, step_code: str, values: dict[str, object],
                  at: datetime | None = None, instruments: dict[str, str] | None = None) -> Completion:
    """Complete the unit's running step with its measurements (every characteristic, judged inclusively)."""
    execution = current_execution(session, serial, step_code, ("running",))
    if execution.run_id is not None:
        raise Conflict(f"{serial} runs {step_code} in machine run {execution.run_id}; complete the run", "step")
    at = event_time(at, execution.events[-1].at if execution.events else None)
    return finish_execution(session, execution, user_id, values, at, instruments=instruments)
