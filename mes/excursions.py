"""Excursions: a tag with limits that leaves them while a unit's step runs on its machine.

At completion each limit-bearing tag of the execution's machine (unless configured `on_excursion = "ignore"`)
is checked over the step's window, from its start to its completion; each tag and side found out of limits
becomes an `Excursion` of the execution. A tag configured `on_excursion = "fail"` also fails the step, and
the NCR it opens lists the excursion. `live` finds the same for a step still running, for boards that show
them as they happen.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from mes import audit
from mes.machine_capture import window
from mes.models import Excursion, Tag, utcnow
from mes.models.production import Nonconformance, StepExecution


@dataclass(frozen=True)
class Found:
    """A tag past one limit during an execution, and what that does to the step (flag or fail)."""

    tag_id: int
    machine: str
    tag: str
    unit: str | None
    side: str  # high | low
    limit: str
    first_at: datetime
    last_at: datetime
    extreme: float
    samples: int
    action: str
    ncr: str | None = None


def detect(session: Session, execution: StepExecution, until: datetime) -> list[Found]:
    """Every tag of the execution's machine that was out of its limits between the step's start and `until`."""
    machine = execution.machine
    if machine is None:
        return []
    found = []
    for tag in machine.tags:
        if not tag.active or tag.on_excursion == "ignore" or (tag.low_limit is None and tag.high_limit is None):
            continue
        rows = window(tag.id, execution.id, execution.started_at, until)
        for side, limit in (("high", tag.high_limit), ("low", tag.low_limit)):
            if limit is None:
                continue
            out = rows.c.value > float(limit) if side == "high" else rows.c.value < float(limit)
            worst = func.max(rows.c.value) if side == "high" else func.min(rows.c.value)
            count, first, last, extreme = session.execute(select(
                func.count(), func.min(rows.c.source_time), func.max(rows.c.source_time), worst).where(out)).one()
            if count:
                found.append(Found(tag.id, machine.code, tag.name, tag.eng_unit, side, limit, first, last,
                                   float(extreme), int(count), tag.on_excursion))
    return found


def record(session: Session, execution: StepExecution, user_id: int, at: datetime) -> list[Found]:
    """Detect the execution's excursions at its completion and keep them with it, in the audit trail too."""
    found = detect(session, execution, at)
    session.add_all(Excursion(execution_id=execution.id, tag_id=f.tag_id, side=f.side, limit_value=f.limit,
                              first_at=f.first_at, last_at=f.last_at, extreme=f.extreme, samples=f.samples,
                              action=f.action, detected_at=at) for f in found)
    if found:
        audit.record(session, user_id, "step.excursion", "unit", execution.unit.serial, at=at, new={
            "step": execution.step_code, "excursions": [_summary(f) for f in found]})
    return found


def failing(found: Iterable[Found]) -> bool:
    return any(f.action == "fail" for f in found)


def as_failures(found: Iterable[Found]) -> list[dict[str, str | None]]:
    """The failing excursions as an NCR lists failing values (flat text: name, value, limits, and where and when)."""
    return [{"name": f"{f.machine}.{f.tag} excursion", "value": f"{f.extreme:g}", "unit": f.unit,
             "lower": f.limit if f.side == "low" else None, "upper": f.limit if f.side == "high" else None,
             "machine": f.machine, "tag": f.tag, "side": f.side, "limit": f.limit,
             "first_at": f.first_at.isoformat(), "last_at": f.last_at.isoformat(), "samples": str(f.samples)}
            for f in found if f.action == "fail"]


def attach(session: Session, execution: StepExecution, ncr: Nonconformance) -> None:
    """Attach the execution's excursions to the NCR its failure opened."""
    for row in session.scalars(select(Excursion).filter_by(execution_id=execution.id)):
        row.ncr = ncr


def live(session: Session, execution: StepExecution) -> list[Found]:
    """A running or paused step's excursions so far; a finished one's as recorded at its completion."""
    return for_executions(session, [execution]).get(execution.id, [])


def for_executions(session: Session, executions: Iterable[StepExecution]) -> dict[int, list[Found]]:
    """The excursions of each execution, by id: recorded ones for finished steps, found now for running ones."""
    executions = list(executions)
    result: dict[int, list[Found]] = {e.id: [] for e in executions}
    ended = [e.id for e in executions if e.ended_at is not None]
    if ended:
        rows = session.scalars(select(Excursion).where(Excursion.execution_id.in_(ended))
                               .options(selectinload(Excursion.tag).selectinload(Tag.machine),
                                        selectinload(Excursion.ncr)).order_by(Excursion.id))
        for r in rows:
            result[r.execution_id].append(Found(
                r.tag_id, r.tag.machine.code, r.tag.name, r.tag.eng_unit, r.side, r.limit_value, r.first_at,
                r.last_at, r.extreme, r.samples, r.action, r.ncr.number if r.ncr else None))
    now = utcnow()
    for e in executions:
        if e.ended_at is None:
            result[e.id] = detect(session, e, now)
    return result


def _summary(f: Found) -> dict[str, object]:
    return {"machine": f.machine, "tag": f.tag, "side": f.side, "limit": f.limit, "extreme": f.extreme,
            "first_at": f.first_at.isoformat(), "last_at": f.last_at.isoformat(), "samples": f.samples,
            "action": f.action}
