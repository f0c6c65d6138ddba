"""The shop floor of the demo simulation: manual steps on shift, chamber runs around the clock.

Each function is an event handler of `mes.demo_history.Simulation`: it makes one service call at the
event's time and schedules what follows (the pause at a shift end, the completion, the next step).
A step with a bill of material starts only with its kit picked from released stock; its components are
scanned in a few minutes after the start (`mes.demo_materials`).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from mes import execution, runs
from mes.demo_calendar import WorkCalendar
from mes.demo_capture import report_measured
from mes.demo_gates import draw_values
from mes.demo_materials import Pick, fit, scan_time, take
from mes.demo_plan import Place, StepPlan

if TYPE_CHECKING:
    from mes.demo_history import Job, Simulation

MIN_LEFT = timedelta(minutes=30)  # nobody starts a manual step in the last half hour of a shift
OVERTIME = timedelta(minutes=20)  # ... and rather than hand over 20 minutes of work, one finishes it
LONGEST_WAIT_TO_START = timedelta(hours=2)  # a step starts if half of it (or two hours) fits in the shift


def minutes(n: float) -> timedelta:
    return timedelta(seconds=round(n * 60))


def time_left(calendar: WorkCalendar, at: datetime) -> timedelta | None:
    """Working time left in the shift at `at`; None off shift or too near its end to start something."""
    if calendar.always:
        return timedelta(days=1)
    shift = calendar.shift_at(at)
    if shift is None or shift.end - at < MIN_LEFT:
        return None
    return shift.end - at


# --- manual steps: one unit at a bench (or a single machine) -----------------------------------------

def dispatch_manual(sim: Simulation, at: datetime, step: StepPlan) -> None:
    """Put waiting units on free benches of a station that is on shift."""
    queue = sim.queues[step.code]
    for place in step.places:
        left = time_left(place.calendar, at)
        if left is not None and left < min(minutes(step.standard_minutes / 2), LONGEST_WAIT_TO_START):
            continue  # not worth starting: most of it would be handed over to the next shift
        while queue and left is not None and sim.busy[place.resource] < place.capacity:
            taken = take(sim, step, at)
            if taken is None:
                return  # the kit is short: the step waits until material is released
            job, picks = taken
            sim.busy[place.resource] += 1
            walk = sim.rng.uniform(2, min(12, left / timedelta(minutes=1) - 20))  # fetch the unit, log in
            sim.schedule(at + minutes(walk), start_manual, job, step, place, picks)


def start_manual(sim: Simulation, at: datetime, job: Job, step: StepPlan, place: Place,
                 picks: list[Pick] | None = None) -> None:
    user = sim.people.operator(place.calendar, at, step.qualifications)
    if sim.call(execution.start_step, user, job.serial, step.code, place.station, place.machine, at=at) is None:
        if picks:
            sim.stores.put_back(picks)
        free(sim, at, job, place)
        return
    sim.report.steps_started += 1
    spread = min(max(sim.rng.lognormvariate(0.0, 0.18), 0.6), 2.0)
    duration = minutes(step.standard_minutes * spread)
    if picks:  # scan the kit into the unit first, then work
        scan = min(scan_time(sim), duration / 4)
        sim.schedule(at + scan, scan_kit, job, step, place, user, picks, duration - scan)
        return
    work(sim, at, job, step, place, user, duration)


def scan_kit(sim: Simulation, at: datetime, job: Job, step: StepPlan, place: Place, user: int, picks: list[Pick],
             remaining: timedelta) -> None:
    fit(sim, at, job, step, user, picks)  # a refused scan is counted; the completion will then be refused too
    work(sim, at, job, step, place, user, remaining)


def work(sim: Simulation, at: datetime, job: Job, step: StepPlan, place: Place, user: int,
         remaining: timedelta) -> None:
    """Work on from `at`: finish within the shift (or a little over), else pause at its end for a hand-over."""
    shift = None if place.calendar.always else place.calendar.shift_at(at)
    if shift is None or at + remaining <= shift.end + OVERTIME:
        sim.schedule(at + remaining, complete_manual, job, step, place, user)
        return
    pause_at = max(shift.end - minutes(sim.rng.uniform(0, 10)), at + minutes(1))
    sim.schedule(pause_at, pause, job, step, place, user, remaining - (pause_at - at))


def pause(sim: Simulation, at: datetime, job: Job, step: StepPlan, place: Place, user: int,
          remaining: timedelta) -> None:
    if sim.call(execution.pause_step, user, job.serial, step.code, note="end of shift, handed over", at=at) is None:
        free(sim, at, job, place)
        return
    following = place.calendar.next_shift(at)
    if following is not None:  # the unit stays on the bench, paused, until the next shift picks it up
        sim.schedule(following.start + minutes(sim.rng.uniform(3, 20)), resume, job, step, place, remaining)


def resume(sim: Simulation, at: datetime, job: Job, step: StepPlan, place: Place, remaining: timedelta) -> None:
    user = sim.people.operator(place.calendar, at, step.qualifications)
    if sim.call(execution.resume_step, user, job.serial, step.code, at=at) is None:
        free(sim, at, job, place)
        return
    sim.report.handovers += 1
    work(sim, at, job, step, place, user, remaining)


def complete_manual(sim: Simulation, at: datetime, job: Job, step: StepPlan, place: Place, user: int) -> None:
    values = draw_values(sim, step, job, at)
    report_measured(sim, step, place, [values], at)
    tools = sim.gear.for_step(step, at.astimezone(sim.plan.zone).date(), sim.rng)
    completion = sim.call(execution.complete_step, user, job.serial, step.code, values, at=at, instruments=tools)
    if completion is not None:
        sim.advance(at, job, completion)
    free(sim, at, job, place)


def free(sim: Simulation, at: datetime, job: Job, place: Place, units: int = 1) -> None:
    """Give the bench or machine back and let the line start what waits for it."""
    sim.busy[place.resource] -= units
    sim.dispatch(at, job.line)


# --- machine runs: several units in a chamber or rack ---------------------------------------------------

def dispatch_run(sim: Simulation, at: datetime, step: StepPlan) -> None:
    """Load a free machine when it can be filled, or when the first unit has waited long enough."""
    queue = sim.queues[step.code]
    patience = min(max(minutes(step.standard_minutes), timedelta(hours=8)), timedelta(hours=48))
    for place in step.places:
        if not queue:
            return
        if sim.busy[place.resource] or time_left(place.calendar, at) is None:
            continue
        waited, waiting = at - queue[0].ready_at, len(queue)
        if waiting >= place.capacity or (waiting >= 2 and waited >= patience) or waited >= 2 * patience:
            jobs = [queue.popleft() for _ in range(min(waiting, place.capacity))]
            sim.busy[place.resource] = 1
            sim.schedule(at + minutes(sim.rng.uniform(15, 45)), start_run, step, place, jobs)
        else:  # look again when patience runs out, even if nothing else happens
            wake = queue[0].ready_at + (patience if waiting >= 2 else 2 * patience)
            if (step.code, wake) not in sim.wakes:
                sim.wakes.add((step.code, wake))
                sim.schedule(wake, lambda s, when, line=queue[0].line: s.dispatch(when, line))


def start_run(sim: Simulation, at: datetime, step: StepPlan, place: Place, jobs: list[Job]) -> None:
    loads = [runs.Load(job.serial, position) for position, job in enumerate(jobs, start=1)]
    operator = sim.people.operator(place.calendar, at, step.qualifications)
    run = sim.call(runs.start_run, operator, step.code, place.machine, loads, at=at)
    if run is None:
        free(sim, at, jobs[0], place)
        return
    sim.report.runs += 1
    sim.report.steps_started += len(jobs)
    duration = minutes(step.standard_minutes * sim.rng.uniform(1.0, 1.06))  # programmed profiles barely vary
    sim.schedule(at + duration, complete_run, step, place, run.id, jobs)


def complete_run(sim: Simulation, at: datetime, step: StepPlan, place: Place, run_id: int, jobs: list[Job]) -> None:
    values = {job.serial: draw_values(sim, step, job, at) for job in jobs}
    report_measured(sim, step, place, list(values.values()), at)
    operator = sim.people.operator(place.calendar, at, step.qualifications)
    results = sim.call(runs.complete_run, operator, run_id, values, at=at)
    if results is not None:
        completions = {c.execution.unit.serial: c for c in results}
        for job in jobs:
            sim.advance(at, job, completions[job.serial])
    free(sim, at, jobs[0], place)
