"""Instruments and deviations in the demo history: calibrated tools behind some values, and waivers.

Torque wrenches, RF power meters, gauges and balances are registered with calibration due dates inside
the window and recalibrated just before they fall due (one power meter fails its calibration and goes
out of use). A value just outside its limits may earn a signed deviation for its work order or serial;
while a deviation is in force, some covered units then measure inside its wider band and pass under it.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_UP, Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mes import deviations, instruments
from mes.demo_people import ADMIN
from mes.demo_plan import StepPlan
from mes.models import Instrument

if TYPE_CHECKING:
    from mes.demo_history import Job, Simulation

log = logging.getLogger(__name__)

# code, name, kind, calibration interval in days
INSTRUMENTS = (
    ("TW-101", "Torque wrench 0.5-5 N·m, click type", "torque", 182),
    ("TW-102", "Torque wrench 0.5-5 N·m, click type", "torque", 182),
    ("TS-103", "Torque screwdriver 0.1-1 N·m", "torque", 182),
    ("PM-201", "RF power meter with sensor, 10 MHz-18 GHz", "rf_power", 365),
    ("PM-202", "RF power meter with sensor, 10 MHz-18 GHz", "rf_power", 365),
    ("CG-301", "Coating thickness gauge, eddy current", "thickness", 365),
    ("DI-311", "Dial indicator 0.001 mm on magnetic stand", "dial", 365),
    ("BAL-401", "Precision balance 6.2 kg / 0.01 g", "mass", 365),
    ("BAL-402", "Precision balance 6.2 kg / 0.01 g", "mass", 365),
)
USES = {"retaining_nut_torque": "torque", "lens_retainer_torque": "torque", "heat_spreader_screw_torque": "torque",
        "output_power": "rf_power", "coating_thickness": "thickness", "gear_backlash": "dial", "mass": "mass"}
FAILS_CALIBRATION = "PM-202"  # reads high at its first calibration in the window: out of use from then on
CALIBRATED_AT = time(10, 0)  # the metrology lab collects instruments in the morning


@dataclass
class Gear:
    """The instruments as the simulation tracks them, so it only ever picks a usable one."""

    kinds: dict[str, str] = field(default_factory=dict)
    intervals: dict[str, int] = field(default_factory=dict)
    due: dict[str, date] = field(default_factory=dict)
    out_of_use: set[str] = field(default_factory=set)

    def for_step(self, step: StepPlan, today: date, rng: random.Random) -> dict[str, str] | None:
        """Which instrument measured each value it applies to: one in use and within its calibration."""
        chosen = {}
        for spec in step.specs:
            kind = USES.get(spec.name)
            usable = [c for c, k in self.kinds.items() if k == kind and c not in self.out_of_use
                      and self.due[c] >= today]
            if usable:
                chosen[spec.name] = rng.choice(usable)
        return chosen or None


def register_instruments(session: Session, sim: Simulation, first: date, last: date) -> None:
    """Add the instruments, each due for calibration somewhere in the window (the plant's own are left alone)."""
    span = max((last - first).days, 10)
    existing = set(session.scalars(select(Instrument.code)))
    for code, name, kind, interval in INSTRUMENTS:
        due = first + timedelta(days=sim.rng.randint(8, span))
        if code in existing:
            continue
        instruments.add_instrument(session, sim.users[ADMIN], code, name, kind, due)
        sim.gear.kinds[code], sim.gear.intervals[code], sim.gear.due[code] = kind, interval, due
        plan_calibration(sim, code)


def plan_calibration(sim: Simulation, code: str) -> None:
    """Send the instrument to the lab a few days before it falls due."""
    day = sim.gear.due[code] - timedelta(days=sim.rng.randint(1, 6))
    found = sim.people.on_duty(datetime.combine(day, CALIBRATED_AT, tzinfo=sim.plan.zone))
    if found is not None:
        sim.schedule(found[0], calibrate, code)


def calibrate(sim: Simulation, at: datetime, code: str) -> None:
    """Record the calibration; a pass sets the next due date, a fail takes the instrument out of use."""
    passed = code != FAILS_CALIBRATION
    due = at.astimezone(sim.plan.zone).date() + timedelta(days=sim.gear.intervals[code])
    note = (f"calibrated by the metrology lab, certificate CAL-{at:%y%m}-{sim.rng.randint(100, 999)}" if passed
            else "reads 0.6 dB high at 8 GHz: out of use; review values measured since its last calibration")
    if sim.call(instruments.calibrate, sim.users[ADMIN], code, due, passed, note, at=at) is None:
        return
    sim.report.calibrations += 1
    if passed:
        sim.gear.due[code] = due
        plan_calibration(sim, code)
    else:
        sim.gear.out_of_use.add(code)


# --- deviations ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Waiver:
    """A deviation in force as the simulation sees it: who it covers, and the band it allows."""

    step: str
    characteristic: str
    limit: Decimal  # the configured limit values fall outside of
    allowed: Decimal  # the limit allowed under the deviation
    serials: frozenset[str]
    order: str | None
    until: datetime
    share: float  # how often a covered unit measures in the band

    def covers(self, job: Job, step: str, at: datetime) -> bool:
        return step == self.step and at <= self.until and (job.serial in self.serials or job.order == self.order)


def draw_values(sim: Simulation, step: StepPlan, job: Job, at: datetime) -> dict[str, Any]:
    """The step's values; under a deviation that covers the unit, some fall in the deviation's band."""
    values = sim.values[step.code].draw(sim.rng)
    for waiver in sim.waivers:
        if waiver.covers(job, step.code, at) and sim.rng.random() < waiver.share:
            quantum = sim.values[step.code].models[waiver.characteristic].quantum
            value = waiver.limit + (waiver.allowed - waiver.limit) * Decimal(repr(sim.rng.uniform(0.2, 0.95)))
            value = value.quantize(quantum)
            if value != waiver.limit:  # just outside the limit, inside the deviation
                values[waiver.characteristic] = format(value, "f")
    return values


NOT_WAIVED = frozenset({"chamber_pressure", "shroud_temp_hot", "shroud_temp_cold", "grms", "run_in_hours",
                        "burn_in_hours"})  # test conditions: a test run out of its conditions is run again
SLIGHT = Decimal("0.2")  # just outside: beyond the limit by at most a fifth of the tolerance (or of the limit)
DEVIATION_GAP = (12, 30)  # days between deviations: a handful over months


def grant_deviation(sim: Simulation, at: datetime, job: Job, step: StepPlan, failing: list[dict[str, Any]],
                    inspector: str) -> tuple[str, bool] | None:
    """Now and then, a signed deviation for a value just outside its limits: (its number, for the order?).

    They alternate between the unit's work order (a lot-wide cause, six weeks) and the one serial (two weeks).
    """
    if at < sim.desk.next_deviation_at:
        return None
    band = next(filter(None, (_band(step, failure) for failure in failing)), None)
    if band is None:
        return None
    name, lower, upper, limit, allowed = band
    by_order = sim.desk.deviations % 2 == 0
    until = at + timedelta(weeks=6 if by_order else 2)
    covered = f"work order {job.order}" if by_order else job.serial
    reason = (f"{name} up to {format(allowed, 'f')} (limit {format(limit, 'f')}) for {covered}: within the design"
              f" margin per analysis AR-{at:%y}-{sim.rng.randint(10, 99)}, no effect on the mission")
    deviation = sim.call(deviations.create_deviation, sim.users[inspector], sim.people.pin(inspector), step.code,
                         name, lower, upper, until, reason, serials=None if by_order else [job.serial],
                         work_order=job.order if by_order else None, valid_from=at)
    if deviation is None:
        return None
    sim.desk.deviations += 1
    sim.desk.next_deviation_at = at + timedelta(days=sim.rng.uniform(*DEVIATION_GAP))
    sim.waivers.append(Waiver(step.code, name, limit, allowed, frozenset(() if by_order else (job.serial,)),
                              job.order if by_order else None, until, 0.5 if by_order else 1.0))
    sim.report.deviations += 1
    return deviation.number, by_order


def _band(step: StepPlan, failure: dict[str, Any]) -> tuple[str, str | None, str | None, Decimal, Decimal] | None:
    """The deviation a failed value could get: its name, the limits allowed, the limit and its new value."""
    spec = next((s for s in step.specs if s.name == failure["name"]), None)
    if spec is None or spec.kind == "pass_fail" or spec.name in NOT_WAIVED or failure.get("value") is None:
        return None
    value = Decimal(failure["value"])
    lower = Decimal(spec.lower) if spec.lower is not None else None
    upper = Decimal(spec.upper) if spec.upper is not None else None
    limit = upper if upper is not None and value > upper else lower
    if limit is None or (spec.nominal is not None and Decimal(spec.nominal) == limit):
        return None  # counts and "at least" values (cycles completed, errors) get no deviation
    scale = upper - lower if lower is not None and upper is not None else abs(limit)
    if not scale or abs(value - limit) > scale * SLIGHT:
        return None
    exponent = value.as_tuple().exponent
    quantum = Decimal(1).scaleb(exponent if isinstance(exponent, int) else 0)
    allowed = limit + ((value - limit) * 2).quantize(quantum, rounding=ROUND_UP)  # twice as far: some margin
    text = format(allowed, "f")
    low, high = (spec.lower, text) if allowed > limit else (text, spec.upper)
    return spec.name, low, high, limit, allowed
