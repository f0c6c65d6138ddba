"""The loaded plant as the demo simulation sees it: lines, routing steps, where each step runs, and rates.

Read once from the database into plain objects, so the simulation can outlive its per-day sessions.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mes.demo_calendar import WorkCalendar
from mes.demo_values import Spec
from mes.models import BomItem, Calendar, Line, Machine, Plant, RoutingStep, Station
from mes.workorders import current_revision

log = logging.getLogger(__name__)

YIELD_COVER = 1.10  # planners start a little more than demand to cover yield loss
BOTTLENECK_LOAD = 0.92  # ... but not more than the slowest machine can take
STATION_HEADROOM = 1.4  # benches and people are sized a little above the planned load
MAX_LANES = 6


@dataclass(frozen=True)
class Place:
    """Where a step can run: a station, optionally a machine there, and the resource it occupies."""

    station: str
    machine: str | None
    calendar: WorkCalendar
    resource: str  # a machine code, or "station:<code>"
    capacity: int  # units at once: machine positions, or benches at the station


@dataclass(frozen=True)
class BomLine:
    """What a step consumes: a purchased part (tracked by "lot" or "serial") or a built unit type ("unit")."""

    part_number: str
    tracking: str  # lot | serial | unit
    quantity: int


@dataclass(frozen=True)
class StepPlan:
    code: str
    sequence: int
    standard_minutes: int
    machine_run: bool
    places: tuple[Place, ...]
    specs: tuple[Spec, ...]
    signoff: bool = False  # a quality inspector buys the step off before the unit moves on
    qualifications: tuple[str, ...] = ()  # what the operator must hold (valid) to start it
    bom: tuple[BomLine, ...] = ()  # what it builds in (scanned while it runs; completion needs all of it)
    captured: tuple[tuple[str, str, int], ...] = ()  # (characteristic, machine, tag id): values a machine reports


@dataclass(frozen=True)
class LinePlan:
    code: str
    part_number: str
    qty_per_satellite: int
    steps: tuple[StepPlan, ...]
    starts_per_day: float  # units released per calendar day at full rate

    def index_of(self, sequence: int) -> int:
        """Where the step with routing `sequence` is in `steps` (a disposition names the step to go back to)."""
        return next(i for i, s in enumerate(self.steps) if s.sequence == sequence)


@dataclass
class PlantPlan:
    zone: ZoneInfo
    calendars: dict[str, WorkCalendar]
    lines: list[LinePlan] = field(default_factory=list)

    def shift_calendars(self) -> list[WorkCalendar]:
        """The calendars with shifts that some step works to (their shift starts wake the floor up)."""
        used = {p.calendar.name for line in self.lines for s in line.steps for p in s.places}
        return [c for name, c in self.calendars.items() if name in used and not c.always]


def read_plant(session: Session, first: date, last: date) -> PlantPlan:
    """The active lines of the loaded plant, with calendars covering the local dates `first` to `last`."""
    plant = session.scalars(select(Plant)).one()
    zone = ZoneInfo(plant.timezone)
    calendars = {c.name: WorkCalendar(c, zone, first, last) for c in session.scalars(select(Calendar))}
    result = PlantPlan(zone, calendars)
    demand = plant.target_satellites_per_year * (1 + float(Decimal(plant.spares_allowance))) / 365
    lines = session.scalars(select(Line).where(Line.active).order_by(Line.number)
                            .options(selectinload(Line.machines), selectinload(Line.stations))).all()
    for line in lines:
        plan = _line_plan(session, line, calendars, demand * line.unit_type.qty_per_satellite)
        if plan is not None:
            result.lines.append(plan)
    return result


def _line_plan(session: Session, line: Line, calendars: dict[str, WorkCalendar], demand: float) -> LinePlan | None:
    revision = current_revision(session, line.unit_type)
    steps = session.scalars(
        select(RoutingStep).filter_by(routing_revision_id=revision.id).order_by(RoutingStep.sequence)
        .options(selectinload(RoutingStep.stations).selectinload(Station.calendar),
                 selectinload(RoutingStep.characteristics),
                 selectinload(RoutingStep.bom).selectinload(BomItem.part),
                 selectinload(RoutingStep.bom).selectinload(BomItem.unit_type))
    ).all()
    wanted = demand * YIELD_COVER
    plans = tuple(_step_plan(step, steps, line.machines, calendars, wanted) for step in steps)
    if any(not p.places for p in plans):
        log.warning("line %s: a step has nowhere to run; not seeded", line.code)
        return None
    capacity = min(_units_per_day(p) for p in plans)
    if capacity * BOTTLENECK_LOAD < wanted:
        log.info("line %s: demand %.2f/day exceeds bottleneck capacity %.2f/day", line.code, wanted, capacity)
    return LinePlan(line.code, line.unit_type.part_number, line.unit_type.qty_per_satellite, plans,
                    min(wanted, capacity * BOTTLENECK_LOAD))


def _step_plan(step: RoutingStep, steps: list[RoutingStep], machines: list[Machine],
               calendars: dict[str, WorkCalendar], demand: float) -> StepPlan:
    specs = tuple(Spec(c.name, c.kind, c.nominal, c.lower, c.upper) for c in step.characteristics)
    chosen = _machines_for(step, steps, machines)
    places: list[Place] = []
    for station in (s for s in step.stations if s.active):
        here = [m for m in chosen if m.station_id == station.id]
        if step.machine_run:
            places += [Place(station.code, m.code, calendars[m.calendar.name], m.code, m.positions) for m in here]
        elif here:
            m = here[0]
            places.append(Place(station.code, m.code, calendars[station.calendar.name], m.code, m.positions))
        else:
            calendar = calendars[station.calendar.name]
            load = demand * sum(s.standard_minutes for s in steps if station in s.stations)
            lanes = math.ceil(STATION_HEADROOM * load / max(calendar.minutes_per_day(), 1.0))
            places.append(Place(station.code, None, calendar, f"station:{station.code}", min(max(lanes, 1), MAX_LANES)))
    bom = tuple(BomLine(b.part_number, b.part.tracking if b.part is not None else "unit", b.quantity)
                for b in step.bom)
    captured = tuple((c.name, m.code, t.id) for c in step.characteristics if c.source_tag for m in chosen
                     for t in m.tags if t.name == c.source_tag)
    return StepPlan(step.code, step.sequence, step.standard_minutes, step.machine_run, tuple(places), specs,
                    step.signoff, tuple(step.qualifications or ()), bom, captured)


def _machines_for(step: RoutingStep, steps: list[RoutingStep], machines: list[Machine]) -> list[Machine]:
    """The machines a step uses: named after it (RWA-TC1 for RWA-TC), else those at its stations no other
    step is named for (RWA-RIR1 for RWA-RUNIN, OBC-XRY1 for OBC-XRAY)."""
    stations = {s.id for s in step.stations}
    here = [m for m in machines if m.active and m.station_id in stations]
    own = [m for m in here if _named_for(m.code, step.code)]
    if own:
        return own
    return [m for m in here if not any(_named_for(m.code, s.code) for s in steps if s.code != step.code)]


def _named_for(machine_code: str, step_code: str) -> bool:
    """RWA-TC1 is named for step RWA-TC; GNSS-RFL1 (the reflow oven) is not named for step GNSS-RF."""
    return machine_code.startswith(step_code) and machine_code[len(step_code):].isdigit()


def _units_per_day(step: StepPlan) -> float:
    """What a step can pass per calendar day at standard time, summed over its places."""
    per_place = (p.capacity * (1440.0 if step.machine_run else p.calendar.minutes_per_day()) for p in step.places)
    return sum(per_place) / step.standard_minutes
