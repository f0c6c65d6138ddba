"""Inspection in the demo history: buy-offs of signed-off steps, and final acceptance of finished units.

Event handlers of `mes.demo_history.Simulation`, like those of `mes.demo_floor`. A unit waits for its
buy-off until a quality engineer is on shift (a chamber run that ends at night is bought off the next
morning); a unit past its last step is accepted a day or two later, after its paperwork is reviewed.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from mes import signoff
from mes.demo_materials import wake_lines_using
from mes.demo_people import minutes

if TYPE_CHECKING:
    from mes.demo_history import Job, Simulation

BUYOFF_AFTER = (10, 75)  # minutes from the pass until the inspector is at the bench
ACCEPT_AFTER = (18, 44)  # hours from the last step until the data package is reviewed and signed


def buy_off_later(sim: Simulation, at: datetime, job: Job, step_code: str) -> None:
    """Call an inspector to buy off the step the unit just passed; the unit waits at the bench."""
    found = sim.people.on_duty(at + minutes(sim.rng.uniform(*BUYOFF_AFTER)))
    if found is not None:
        sim.schedule(found[0], buy_off, job, step_code, found[1])


def buy_off(sim: Simulation, at: datetime, job: Job, step_code: str, inspector: str) -> None:
    """Sign the buy-off (inspectors never work the steps, so they may), then let the unit move on."""
    signed = sim.call(signoff.buy_off, sim.users[inspector], job.serial, step_code, sim.people.pin(inspector),
                      at=at)
    if signed is not None:
        sim.report.buy_offs += 1
        sim.move_on(at, job)


def accept_later(sim: Simulation, at: datetime, job: Job) -> None:
    """Schedule final acceptance of a unit that is ready, when quality has reviewed its record."""
    sim.report.ready += 1
    found = sim.people.on_duty(at + minutes(60 * sim.rng.uniform(*ACCEPT_AFTER)))
    if found is not None:
        sim.schedule(found[0], accept, job, found[1])


def accept(sim: Simulation, at: datetime, job: Job, inspector: str) -> None:
    if sim.call(signoff.accept, sim.users[inspector], job.serial, sim.people.pin(inspector), at=at) is not None:
        sim.report.accepted += 1
        sim.stores.units[job.line.part_number].append(job.serial)  # in stores: for a satellite, or a spare
        wake_lines_using(sim, at, job.line.part_number)
