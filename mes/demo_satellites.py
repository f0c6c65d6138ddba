"""Satellites in the demo history: the CompSat-1 builds and the accepted units allocated to their positions.

On the first working morning the supervisor opens eight CompSat-1 builds, CS1-001 to CS1-008, with
integration need-dates spread over the coming year. Every working afternoon a kitting review (the
supervisor, or the quality engineer on duty) allocates accepted units, oldest first: the first three
builds, due within months, take every accepted unit of a type until their positions of that type are
filled; the later builds are kitted at the programme's contracted pace, about one satellite set in two months,
and each unit type keeps its own pace, so they stand partly kitted. Units not allocated stay in stores
(for other programmes and spares).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from mes import satellites
from mes.demo_people import SUPERVISOR, minutes

if TYPE_CHECKING:
    from mes.demo_history import Simulation

PROGRAMME = "CompSat-1"
BUILDS = 8
NEED_IN_DAYS = (24, 55, 90, 130, 170, 215, 270, 335)  # from the end of the history (today), per build
URGENT = 3  # the first builds take every accepted unit they need
SETS_PER_DAY = 1 / 60  # the later builds' contracted pace: about one satellite set in two months
PACE_SPREAD = (0.4, 1.8)  # each unit type's own pace around it
REVIEW_AFTER = (300, 420)  # minutes after the day's first shift starts


@dataclass
class Build:
    """A satellite as the kitting review sees it: its build number and free positions by part number."""

    build: str
    need_date: date
    free: dict[str, int]


@dataclass
class Kitting:
    """The builds, and each unit type's allowance for the later builds (grows with time)."""

    builds: list[Build] = field(default_factory=list)
    allowance: dict[str, float] = field(default_factory=dict)
    pace: dict[str, float] = field(default_factory=dict)  # units per day, by part number
    reviewed_at: datetime | None = None


def plan_kitting(sim: Simulation) -> None:
    """Open the builds on the first working morning; review the kitting every working afternoon."""
    day, last = sim.start.astimezone(sim.plan.zone).date(), sim.end.astimezone(sim.plan.zone).date()
    first = True
    while day <= last:
        opening = sim.opening(day)
        if opening is not None:
            if first:
                sim.schedule(opening + minutes(sim.rng.uniform(15, 40)), open_builds)
                first = False
            sim.schedule(opening + minutes(sim.rng.uniform(*REVIEW_AFTER)), review)
        day += timedelta(days=1)


def open_builds(sim: Simulation, at: datetime) -> None:
    today = sim.end.astimezone(sim.plan.zone).date()
    kitting = sim.kitting
    for n, days in enumerate(NEED_IN_DAYS[:BUILDS], start=1):
        build = f"CS1-{n:03d}"
        need = today + timedelta(days=days + sim.rng.randint(-4, 4))
        if sim.call(satellites.create_satellite, sim.users[SUPERVISOR], build, PROGRAMME, need, at=at) is None:
            continue
        sim.report.satellites += 1
        kitting.builds.append(Build(build, need, {line.part_number: line.qty_per_satellite
                                                  for line in sim.plan.lines}))
    for line in sim.plan.lines:
        kitting.pace[line.part_number] = line.qty_per_satellite * SETS_PER_DAY * sim.rng.uniform(*PACE_SPREAD)
        kitting.allowance[line.part_number] = 0.0


def review(sim: Simulation, at: datetime) -> None:
    """Allocate accepted units: every one the urgent builds need, then the later builds' allowance."""
    kitting = sim.kitting
    if not kitting.builds:
        return
    days = (at - kitting.reviewed_at) / timedelta(days=1) if kitting.reviewed_at else 0.0
    kitting.reviewed_at = at
    found = sim.people.on_duty(at)
    who = sim.rng.choice((SUPERVISOR, found[1])) if found is not None and found[0] == at else SUPERVISOR
    for part_number, pool in sim.stores.units.items():
        urgent_open = any(b.free.get(part_number) for b in kitting.builds[:URGENT])
        if not urgent_open and part_number in kitting.allowance:
            kitting.allowance[part_number] += kitting.pace[part_number] * days
        for build in kitting.builds:
            while pool and build.free.get(part_number):
                urgent = build in kitting.builds[:URGENT]
                if not urgent and kitting.allowance.get(part_number, 0.0) < 1:
                    break
                serial = pool.popleft()
                if sim.call(satellites.allocate, sim.users[who], build.build, serial, at=at) is None:
                    continue
                sim.report.allocations += 1
                build.free[part_number] -= 1
                if not urgent:
                    kitting.allowance[part_number] -= 1
        if not any(b.free.get(part_number) for b in kitting.builds):
            kitting.allowance[part_number] = 0.0
