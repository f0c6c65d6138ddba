"""Months of demo production history, seeded through the services so every rule and record applies.

A small discrete-event simulation walks released units through their routings: manual steps start only
within the shifts of their station's calendar (and are handed over at a shift end when they run on),
by operators qualified for them; chamber steps run several units at once around the clock; values come
from `mes.demo_values`. Quality buys off signed-off steps, dispositions NCRs and accepts finished units
(`mes.demo_inspection`, `mes.demo_quality`); instruments and deviations are in `mes.demo_gates`. Purchased
material is delivered, inspected and released, kitted and scanned into units at their consuming steps
(`mes.demo_materials`); accepted units are allocated to satellites (`mes.demo_satellites`). Every
change goes through the service functions with `at=` set to its simulated time, one transaction per
simulated day, in time order across all lines (so WO and NCR numbers rise with time).
"""
from __future__ import annotations

import heapq
import itertools
import logging
import random
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mes import workorders
from mes.demo_capture import keep_with_units
from mes.demo_floor import dispatch_manual, dispatch_run, minutes
from mes.demo_gates import Gear, Waiver, register_instruments
from mes.demo_inspection import accept_later, buy_off_later
from mes.demo_materials import Stores, plan_goods_in, plan_material_ncr
from mes.demo_people import EVERYONE, SUPERVISOR, Roster, grant_qualifications
from mes.demo_plan import LinePlan, PlantPlan, read_plant
from mes.demo_quality import Desk, failed, incident_at_arrival
from mes.demo_satellites import Kitting, plan_kitting
from mes.demo_values import StepValues
from mes.errors import MesError
from mes.execution import Completion
from mes.models import Plant, User
from mes.models.production import WorkOrder

log = logging.getLogger(__name__)

RELEASE_WEEKDAYS = (0, 3)  # work is released on Monday and Thursday mornings
RAMP_DAYS, RAMP_FROM = 28, 0.3  # the first four weeks ramp up from 30 % of the full rate
DUE_WEEKS = 8


@dataclass(eq=False)
class Job:
    """A released unit in the simulation: its line, the routing step it is due for, and since when."""

    serial: str
    line: LinePlan
    ready_at: datetime
    order: str  # the work order number (a deviation may cover it)
    index: int = 0
    ncrs: int = 0  # nonconformances so far: the third scraps the unit
    fitted: set[str] = field(default_factory=set)  # steps whose bill of material is built in


@dataclass
class SeedReport:
    """What the simulation did (the database holds the records; see `mes.demo_summary`)."""

    work_orders: int = 0
    units: int = 0
    steps_started: int = 0
    steps_completed: int = 0
    failures: int = 0
    runs: int = 0
    handovers: int = 0
    buy_offs: int = 0
    ready: int = 0
    accepted: int = 0
    dispositions: int = 0
    mrb_approvals: int = 0
    scrapped: int = 0
    manual_ncrs: int = 0
    holds: int = 0
    holds_released: int = 0
    deviations: int = 0
    calibrations: int = 0
    expired_qualifications: int = 0
    receipts: int = 0
    lots_received: int = 0
    serials_received: int = 0
    released: int = 0
    rejected: int = 0
    material_ncrs: int = 0
    returned: int = 0
    consumptions: int = 0
    kit_waits: int = 0
    satellites: int = 0
    allocations: int = 0
    refused: int = 0

    def summary(self) -> str:
        return ", ".join(f"{f.name.replace('_', ' ')} {getattr(self, f.name)}" for f in fields(self))


def has_history(session: Session) -> bool:
    """True once any work order exists: the demo never seeds over real or earlier history."""
    return session.scalar(select(WorkOrder.id).limit(1)) is not None


def history_window(session: Session, days: int, end: datetime | None = None) -> tuple[datetime, datetime]:
    """The simulated window: from the plant's local midnight `days` before `end` (default now) to `end`."""
    end = (end or datetime.now(UTC)).replace(microsecond=0)
    zone = ZoneInfo(session.scalars(select(Plant.timezone)).one())
    first = end.astimezone(zone).date() - timedelta(days=days)
    return datetime.combine(first, clock(), tzinfo=zone).astimezone(UTC), end


def seed_history(sessions: sessionmaker[Session], days: int, seed: int = 1,
                 progress: Callable[[str], None] | None = None, end: datetime | None = None) -> SeedReport:
    """Simulate `days` of production up to `end` (default now) through the services; same seed, same history."""
    with sessions() as session:
        start, end = history_window(session, days, end)
        zone = ZoneInfo(session.scalars(select(Plant.timezone)).one())
        first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
        plan = read_plant(session, first - timedelta(days=1), last + timedelta(days=14))
        users = {name: user_id for name, user_id in session.execute(select(User.name, User.id))}
    if missing := sorted(set(EVERYONE) - users.keys()):
        raise LookupError(f"the demo users {', '.join(missing)} do not exist; create them first")
    simulation = Simulation(plan, users, start, end, random.Random(seed))
    with sessions.begin() as session:  # what people hold and which instruments exist, before any work
        simulation.report.expired_qualifications = grant_qualifications(session, simulation.people, last)
        register_instruments(session, simulation, first, last)
    simulation.run(sessions, progress)
    keep_with_units(sessions)
    return simulation.report


class Simulation:
    """Events in time order; each handler makes its service call at the event's time."""

    def __init__(self, plan: PlantPlan, users: dict[str, int], start: datetime, end: datetime,
                 rng: random.Random) -> None:
        self.plan, self.users, self.start, self.end, self.rng = plan, users, start, end, rng
        self.events: list[tuple[datetime, int, Callable[..., None], tuple[Any, ...]]] = []
        self.order = itertools.count()
        self.queues: dict[str, deque[Job]] = {s.code: deque() for line in plan.lines for s in line.steps}
        self.values = {s.code: StepValues(list(s.specs), rng) for line in plan.lines for s in line.steps}
        self.busy: dict[str, int] = defaultdict(int)  # resource -> units in work (benches) or runs (machines)
        self.owed: dict[str, float] = defaultdict(float)  # units due for release, carried between releases
        self.released_at: dict[str, datetime] = {}
        self.wakes: set[tuple[str, datetime]] = set()
        shift_calendars = plan.shift_calendars()
        self.reference = shift_calendars[0] if shift_calendars else None  # whose shifts say who is on duty
        self.people = Roster(users, plan.zone, self.reference, rng)
        self.desk = Desk(rng)
        self.gear = Gear()
        self.stores = Stores(plan, rng)
        self.kitting = Kitting()
        self.waivers: list[Waiver] = []
        self.session: Session | None = None
        self.report = SeedReport()

    # --- the event loop -------------------------------------------------------------------------

    def schedule(self, at: datetime, handler: Callable[..., None], *args: Any) -> None:
        """Call `handler(simulation, at, *args)` at `at`; nothing happens at or after the end (now)."""
        if at < self.end:
            heapq.heappush(self.events, (at, next(self.order), handler, args))

    def run(self, sessions: sessionmaker[Session], progress: Callable[[str], None] | None) -> None:
        """Play the events, one transaction per simulated day, reporting each simulated week."""
        self.plan_releases_and_shifts()
        began = time.monotonic()
        day, number, total = self.start, 0, -(-(self.end - self.start) // timedelta(days=1))
        while day < self.end:
            until = min(day + timedelta(days=1), self.end)
            with sessions.begin() as session:
                self.session = session
                while self.events and self.events[0][0] < until:
                    at, _, handler, args = heapq.heappop(self.events)
                    handler(self, at, *args)
            self.session = None
            day, number = until, number + 1
            if progress and (number % 7 == 0 or day >= self.end):
                r = self.report
                progress(f"  {day.astimezone(self.plan.zone).date()}  day {number}/{total}: {r.units} units released,"
                         f" {r.steps_completed} steps done, {r.runs} machine runs, {r.failures} failed,"
                         f" {r.dispositions} dispositions, {r.accepted} accepted, {r.consumptions} components"
                         f" scanned, {r.allocations} allocated"
                         f"  ({time.monotonic() - began:.0f} s)")
        log.info("demo history: %s", self.report.summary())

    def call(self, service: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call a service in a savepoint; a refusal is logged and counted, and the caller drops the unit."""
        assert self.session is not None
        try:
            with self.session.begin_nested():
                return service(self.session, *args, **kwargs)
        except MesError as exc:
            self.report.refused += 1
            log.warning("demo history: %s refused at %s: %s", service.__name__, args, exc.message)
            return None

    def plan_releases_and_shifts(self) -> None:
        """Wake the floor at every shift start; release work on Monday and Thursday mornings."""
        for calendar in self.plan.shift_calendars():
            for shift in calendar.shifts:
                if shift.start >= self.start:
                    self.schedule(shift.start, Simulation.wake_all)
        day, last = self.start.astimezone(self.plan.zone).date(), self.end.astimezone(self.plan.zone).date()
        while day <= last:
            opening = self.opening(day)
            if opening is not None and day.weekday() in RELEASE_WEEKDAYS:
                for line in self.plan.lines:
                    self.schedule(opening + minutes(self.rng.uniform(20, 120)), Simulation.release, line)
            day += timedelta(days=1)
        plan_goods_in(self)
        plan_kitting(self)
        plan_material_ncr(self, self.start, first=True)

    def opening(self, day: date) -> datetime | None:
        """When the day's first shift starts; None on a day off (that release waits for the next one)."""
        midnight = datetime.combine(day, clock(), tzinfo=self.plan.zone).astimezone(UTC)
        if self.reference is None:
            return midnight + timedelta(hours=9)
        shift = self.reference.next_shift(midnight)
        return shift.start if shift is not None and shift.start < midnight + timedelta(days=1) else None

    # --- releasing work --------------------------------------------------------------------------

    def release(self, at: datetime, line: LinePlan) -> None:
        """Release the units the plan owes since the last release (fewer in the ramp-up weeks)."""
        since = self.released_at.get(line.code, self.start)
        ramp = min(1.0, RAMP_FROM + (1 - RAMP_FROM) * (at - self.start) / timedelta(days=RAMP_DAYS))
        self.owed[line.code] += line.starts_per_day * (at - since) / timedelta(days=1) * ramp
        quantity = min(int(self.owed[line.code] + self.rng.uniform(-0.3, 0.7)), workorders.MAX_QUANTITY)
        if quantity < 1:
            return
        self.released_at[line.code] = at
        self.owed[line.code] -= quantity
        due = at.astimezone(self.plan.zone).date() + timedelta(weeks=DUE_WEEKS)
        order = self.call(workorders.release_work_order, self.users[SUPERVISOR], line.part_number, quantity, due,
                          self.rng.choice((2, 3, 3, 3, 4)), at=at)
        if order is None:
            return
        self.report.work_orders += 1
        self.report.units += quantity
        for unit in order.units:
            job = Job(unit.serial, line, at + minutes(self.rng.uniform(30, 240)), order.number)  # kitting first
            self.schedule(job.ready_at, Simulation.arrive, job)

    def arrive(self, at: datetime, job: Job) -> None:
        """The unit reaches the station of its next step; now and then it is found wanting on arrival."""
        if not incident_at_arrival(self, at, job):
            self.enqueue(at, job)

    def enqueue(self, at: datetime, job: Job) -> None:
        self.queues[job.line.steps[job.index].code].append(job)
        self.dispatch(at, job.line)

    def carry(self, at: datetime, job: Job, low: float, high: float) -> None:
        """Carry the unit to the station of step `job.index`, arriving `low` to `high` minutes from `at`."""
        job.ready_at = at + minutes(self.rng.uniform(low, high))
        self.schedule(job.ready_at, Simulation.arrive, job)

    def wake_all(self, at: datetime) -> None:
        for line in self.plan.lines:
            self.dispatch(at, line)

    def dispatch(self, at: datetime, line: LinePlan) -> None:
        """Start what can start now, downstream steps first (finishing beats starting)."""
        for step in reversed(line.steps):
            if self.queues[step.code]:
                (dispatch_manual if not step.machine_run else dispatch_run)(self, at, step)

    def advance(self, at: datetime, job: Job, completion: Completion) -> None:
        """After a step: a failure goes to quality; a pass waits for its buy-off if it needs one, then moves on."""
        self.report.steps_completed += 1
        step = job.line.steps[job.index]
        if not completion.passed:
            self.report.failures += 1
            assert completion.ncr is not None
            failed(self, at, job, completion.ncr)
        elif step.signoff:
            buy_off_later(self, at, job, step.code)
        else:
            self.move_on(at, job)

    def move_on(self, at: datetime, job: Job) -> None:
        """To the next step's station, or, past the last step, on to acceptance."""
        job.index += 1
        if job.index == len(job.line.steps):
            accept_later(self, at, job)
        else:
            self.carry(at, job, 10, 90)
