"""Nonconformances in the demo history: dispositions by quality, MRB approval, NCRs and holds raised by hand.

Event handlers of `mes.demo_history.Simulation`. A failed step's NCR waits a few hours to a couple of
days (one in five waits for a failure investigation of up to two weeks) for the quality engineer on duty,
who mostly sends the unit back for rework (to the failed step or one before it), sometimes signs a repair
or use-as-is (which the other engineer then approves in MRB), and now and then scraps it; a unit's third
nonconformance scraps it. Units arriving at a station are now
and then found damaged, dirty or with a documentation error (an NCR), or held for a question on their
material (a hold released later). What is still open when the window ends stays open.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mes import quality
from mes.demo_gates import grant_deviation
from mes.demo_inspection import accept_later
from mes.demo_people import minutes, other_inspector
from mes.models.production import Nonconformance, Unit

if TYPE_CHECKING:
    from mes.demo_history import Job, Simulation

# One deck of decisions per 40 failed steps; the first cards show each decision once, so even a short
# history has them all.
DECK = ("rework",) * 31 + ("repair",) * 4 + ("use_as_is",) * 4 + ("scrap",)
FIRST_CARDS = ("rework", "repair", "use_as_is", "scrap")
MAX_NCRS = 3  # MRB scraps a unit at its third nonconformance
EARLIER = 0.25  # share of reworks that go back before the failed step (the cause lies upstream)
DISPOSITION_HOURS = (7.0, 0.8, 2.0, 52.0)  # log-normal median, sigma, clipped to [2 h, 52 h]
INVESTIGATED = (0.2, 3.0, 12.0)  # the share that needs a failure investigation first, taking 3 to 12 days
INCIDENT_RATE = 0.004  # hand-raised NCRs and holds per unit arriving at a station
INCIDENTS = ("HOLD", "DMG", "FOD", "HOLD", "WKM", "DOC")  # taken in turn
NOTES = {
    "repair": ("Replace the failed part per MRB repair sketch; repeat the step.",
               "Rework the joint per repair procedure RP-07, then re-test the step in full."),
    "use_as_is": ("Engineering analysis shows the value within the design margin; no effect on form, fit or"
                  " function.", "Compared with the qualification unit: within its margins; accepted as is."),
}
INCIDENT_TEXT = {
    "DMG": "Connector J2 shell dented on arrival at the station; transport case latch found open.",
    "FOD": "Loose particle found inside the housing at incoming check; origin unknown.",
    "WKM": "Cable tie cut flush missing on harness bundle; lacing not to workmanship standard.",
    "DOC": "Traveller shows torque value without the operator stamp; record incomplete.",
}
EARLIEST = datetime.min.replace(tzinfo=UTC)
HOLD_REASONS = ("Supplier alert on the connector lot fitted to this unit; hold pending lot review.",
                "Customer query on the build configuration; hold until answered.")


@dataclass
class Desk:
    """The quality office's running state: the decision deck, the next deviation, incidents owed."""

    rng: random.Random
    deck: list[str] = field(default_factory=list)
    dealt: int = 0
    deviations: int = 0
    next_deviation_at: datetime = EARLIEST  # the first slight failure gets one
    incident_owed: float = 0.0
    incident_due: float = 0.1
    incidents: int = 0

    def decision(self) -> str:
        if not self.deck:
            rest = list(DECK)
            if self.dealt == 0:
                for card in FIRST_CARDS:
                    rest.remove(card)
            self.deck = self.rng.sample(rest, len(rest))
            if self.dealt == 0:
                self.deck += self.rng.sample(FIRST_CARDS, len(FIRST_CARDS))
        self.dealt += 1
        return self.deck.pop()


@dataclass(frozen=True)
class NcrCase:
    """An NCR as the simulation follows it: its number, its step's position, its failing values."""

    number: str
    index: int | None
    failing: list[dict[str, Any]]
    defect: str


def failed(sim: Simulation, at: datetime, job: Job, ncr: Nonconformance) -> None:
    """A step failed and its NCR holds the unit: quality looks at it later."""
    job.ncrs += 1
    later(sim, at, job, NcrCase(ncr.number, job.index, list(ncr.failing_values or []), ncr.defect_code))


def later(sim: Simulation, at: datetime, job: Job, case: NcrCase) -> None:
    """The engineer on duty a few hours to a couple of days later dispositions it (some wait longer)."""
    median, sigma, low, high = DISPOSITION_HOURS
    hours = min(max(sim.rng.lognormvariate(math.log(median), sigma), low), high)
    share, shortest, longest = INVESTIGATED
    if sim.rng.random() < share:
        hours = 24 * sim.rng.uniform(shortest, longest)
    found = sim.people.on_duty(at + minutes(60 * hours))
    if found is not None:
        sim.schedule(found[0], dispose, job, case, found[1])


def dispose(sim: Simulation, at: datetime, job: Job, case: NcrCase, inspector: str) -> None:
    """Sign the disposition; repair and use-as-is then go to the other engineer for MRB approval."""
    decision, target, note = choose(sim, at, job, case, inspector)
    ncr = sim.call(quality.disposition, sim.users[inspector], case.number, decision, sim.people.pin(inspector),
                   rework_step=target, note=note, at=at)
    if ncr is None:
        return
    sim.report.dispositions += 1
    if decision in quality.NEEDS_MRB:
        found = sim.people.on_duty(at + minutes(sim.rng.uniform(30, 360)), other_inspector(inspector))
        if found is not None:
            sim.schedule(found[0], approve, job, case, found[1])
        return
    carry_on(sim, at, job, ncr.unit)


def choose(sim: Simulation, at: datetime, job: Job, case: NcrCase, inspector: str
           ) -> tuple[str, str | None, str]:
    """The decision, the step a rework goes back to, and the note that justifies it."""
    steps = job.line.steps
    if job.ncrs >= MAX_NCRS:
        return "scrap", None, f"Third nonconformance on {job.serial}: not economical to rework further."
    if case.defect in INCIDENT_TEXT:
        return _manual_decision(job, case)
    assert case.index is not None
    granted = grant_deviation(sim, at, job, steps[case.index], case.failing, inspector)
    if granted is not None:
        number, by_order = granted
        if by_order:
            return "use_as_is", None, f"Accepted under deviation {number} for this work order."
        return "rework", steps[case.index].code, f"Re-test under deviation {number}."
    decision = sim.desk.decision()
    if decision == "rework":
        # Back to the step before when the cause lies there, unless that is a days-long chamber run.
        upstream = case.index > 0 and not steps[case.index - 1].machine_run and sim.rng.random() < EARLIER
        back = case.index - 1 if upstream else case.index
        return "rework", steps[back].code, f"Rework from {steps[back].code}: correct the cause, repeat the tests."
    if decision == "scrap":
        return "scrap", None, "Damage found on investigation is beyond repair."
    return decision, None, sim.rng.choice(NOTES[decision])


def _manual_decision(job: Job, case: NcrCase) -> tuple[str, str | None, str]:
    """Papers are corrected, damage repaired, debris and workmanship reworked at the step that left them."""
    if case.defect == "DOC":
        return "use_as_is", None, "Record completed from the torque tool log; the work itself conforms."
    if case.defect == "DMG":
        return "repair", None, "Replace the connector shell per repair sketch; repeat the last step's checks."
    target = job.line.steps[case.index if case.index is not None else job.index].code
    return "rework", target, f"Clean and correct, then repeat {target}."


def approve(sim: Simulation, at: datetime, job: Job, case: NcrCase, inspector: str) -> None:
    """The second quality signature; the decision then takes effect."""
    ncr = sim.call(quality.mrb_approve, sim.users[inspector], case.number, sim.people.pin(inspector),
                   note="MRB concurs.", at=at)
    if ncr is not None:
        sim.report.mrb_approvals += 1
        carry_on(sim, at, job, ncr.unit)


def carry_on(sim: Simulation, at: datetime, job: Job, unit: Unit) -> None:
    """After an NCR or hold is closed: the unit is scrapped, ready for acceptance, or goes to its next step."""
    if unit.status == "scrapped":
        sim.report.scrapped += 1
    elif unit.on_hold:
        return  # another NCR or hold still keeps it; closing that one moves it on
    elif unit.status == "ready":
        accept_later(sim, at, job)
    else:
        job.index = job.line.index_of(unit.next_sequence)
        sim.carry(at, job, 30, 240)  # the rework or repair instruction, parts, the walk to the station


# --- found by hand: NCRs and holds on units arriving at a station --------------------------------------

def incident_at_arrival(sim: Simulation, at: datetime, job: Job) -> bool:
    """Now and then a unit arriving is found wanting: it waits aside (True) until someone on shift deals with it."""
    desk = sim.desk
    desk.incident_owed += INCIDENT_RATE
    if desk.incident_owed < desk.incident_due:
        return False
    found = sim.people.on_duty(at + minutes(sim.rng.uniform(5, 40)))
    if found is None:
        return False
    desk.incident_owed -= 1
    # The first two (a hold, a damaged unit) come early, so even a short history shows both.
    desk.incident_due = sim.rng.uniform(0.3, 1.7) if desk.incidents else 0.1
    kind = INCIDENTS[desk.incidents % len(INCIDENTS)]
    desk.incidents += 1
    sim.schedule(found[0], raise_incident, job, kind, found[1])
    return True


def raise_incident(sim: Simulation, at: datetime, job: Job, kind: str, inspector: str) -> None:
    """Hold the unit (quality), or raise an NCR on it (the operator who found it) naming the step before."""
    if kind == "HOLD":
        if sim.call(quality.place_hold, sim.users[inspector], job.serial, sim.rng.choice(HOLD_REASONS), at=at):
            sim.report.holds += 1
            found = sim.people.on_duty(at + minutes(60 * sim.rng.uniform(4, 70)))
            if found is not None:
                sim.schedule(found[0], release_hold, job, found[1])
        else:
            sim.enqueue(at, job)
        return
    previous = job.index - 1 if job.index > 0 else None
    step = job.line.steps[previous].code if previous is not None else None
    ncr = sim.call(quality.open_ncr, sim.people.operator(None, at), job.serial, kind, INCIDENT_TEXT[kind],
                   step_code=step, at=at)
    if ncr is None:
        sim.enqueue(at, job)
        return
    sim.report.manual_ncrs += 1
    job.ncrs += 1
    later(sim, at, job, NcrCase(ncr.number, previous, [], kind))


def release_hold(sim: Simulation, at: datetime, job: Job, inspector: str) -> None:
    unit = sim.call(quality.release_holds, sim.users[inspector], job.serial,
                    "Reviewed: this unit is not affected; released to continue.", at=at)
    if unit is not None:
        sim.report.holds_released += 1
        carry_on(sim, at, job, unit)
