"""Values the demo's machines measure: reported as samples before the step completes, then kept with the units.

A characteristic read from a tag (mes.machine_capture) is not typed at completion: the demo has the machine
report the drawn value through `mes.telemetry.store`, as its adapter would, shortly before the completion,
which then reads it back. Once the history is seeded those samples are kept with the units' process records
(as retention keeps what fell inside a step) and leave the raw table, whose last day `mes.demo_telemetry`
then writes whole.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, delete, func, insert, or_, select
from sqlalchemy.orm import Session, sessionmaker

from mes import telemetry
from mes.models import ProcessSample, Sample, StepExecution, Tag
from mes.telemetry import Reading

if TYPE_CHECKING:
    from mes.demo_history import Simulation
    from mes.demo_plan import Place, StepPlan

BEFORE_COMPLETION = timedelta(seconds=20)  # the machine's result comes a little before the operator completes


def report_measured(sim: Simulation, step: StepPlan, place: Place, values: list[dict[str, object]],
                    at: datetime) -> None:
    """Have the machine report the step's captured values (drawn for its first unit) and take them out of
    what is typed; a run's units share what the one machine reported."""
    captured = [(name, tag_id) for name, machine, tag_id in step.captured if machine == place.machine]
    if not captured or not values:
        return
    assert sim.session is not None
    when = at - BEFORE_COMPLETION
    readings = [Reading(tag_id, when, float(str(values[0][name])), None, telemetry.GOOD, when)
                for name, tag_id in captured]
    telemetry.store(sim.session, readings, {})  # a process value: no states or counts to derive
    for typed in values:
        for name, _ in captured:
            typed.pop(name, None)


def keep_with_units(sessions: sessionmaker[Session]) -> int:
    """Copy the samples reported during the history into the process records of the steps they fell in, and
    take them out of the raw table; return how many were kept."""
    with sessions.begin() as session:
        inside = (select(StepExecution.id, Sample.tag_id, Sample.source_time, Sample.value, Sample.text,
                         Sample.status)
                  .join(Tag, Tag.id == Sample.tag_id)
                  .join(StepExecution, and_(StepExecution.machine_id == Tag.machine_id,
                                            Sample.source_time >= StepExecution.started_at,
                                            or_(StepExecution.ended_at.is_(None),
                                                Sample.source_time <= StepExecution.ended_at))))
        session.execute(insert(ProcessSample).from_select(
            ["execution_id", "tag_id", "source_time", "value", "text", "status"], inside))
        kept = session.scalar(select(func.count()).select_from(ProcessSample)) or 0
        session.execute(delete(Sample))
    return kept
