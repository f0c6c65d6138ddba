"""Captured measurements: a characteristic the machine measures, read from its samples when the step completes.

The value is an aggregate (last, min, max or mean) of the good samples of the configured tag on the execution's
machine from the step's start to its completion, raw or already kept with the unit. Nobody types it; when the
machine sent nothing in that window the completion is refused, never given a made-up value.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Subquery, func, select, union
from sqlalchemy.orm import Session

from mes.errors import Conflict, Invalid
from mes.models import Characteristic, ProcessSample, Sample, StepExecution, Tag

GOOD_BELOW = 1 << 30  # OPC UA status codes under this have the top two bits 00: Good


class NoMachineData(Conflict):
    """The machine sent no good sample of a captured value during the step (yet: a spool may still be draining)."""


@dataclass(frozen=True)
class Captured:
    """A value read from the machine, and where from: `aggregate` of `samples` samples of `tag` in [start, end]."""

    tag: Tag
    aggregate: str
    text: str
    samples: int
    start: datetime
    end: datetime


def window(tag_id: int, execution_id: int, start: datetime, end: datetime) -> Subquery:
    """The tag's good samples in [start, end]: raw ones and those retention already kept with the execution."""
    raw = select(Sample.source_time, Sample.value).where(
        Sample.tag_id == tag_id, Sample.source_time >= start, Sample.source_time <= end,
        Sample.value.is_not(None), Sample.status < GOOD_BELOW)
    kept = select(ProcessSample.source_time, ProcessSample.value).where(
        ProcessSample.execution_id == execution_id, ProcessSample.tag_id == tag_id,
        ProcessSample.source_time >= start, ProcessSample.source_time <= end,
        ProcessSample.value.is_not(None), ProcessSample.status < GOOD_BELOW)
    return union(raw, kept).subquery()  # UNION, not UNION ALL: a sample both raw and kept counts once


def capture(session: Session, execution: StepExecution, values: dict[str, object], at: datetime,
            field: str = "measurements") -> tuple[dict[str, object], dict[str, Captured]]:
    """The typed values with the machine's added for each captured characteristic; typing one is refused."""
    wanted = [c for c in execution.step.characteristics if c.source_tag]
    if not wanted or not isinstance(values, dict):
        return values, {}  # judge_all says what is wrong with values that are not an object
    for c in wanted:
        if c.name in values:
            raise Invalid(f"{c.name} is read from the machine's {c.source_tag} tag; do not enter it",
                          f"{field}.{c.name}")
    found = {c.name: _read(session, execution, c, at, f"{field}.{c.name}") for c in wanted}
    return {**values, **{name: f.text for name, f in found.items()}}, found


def _read(session: Session, execution: StepExecution, c: Characteristic, at: datetime, field: str) -> Captured:
    machine = execution.machine
    if machine is None:
        raise Invalid(f"{c.name} is read from a machine's {c.source_tag} tag: start {execution.step_code} on the "
                      "machine", field)
    tag = session.scalars(select(Tag).filter_by(machine_id=machine.id, name=c.source_tag)).one_or_none()
    if tag is None:
        raise Invalid(f"{machine.code} has no tag {c.source_tag!r} to read {c.name} from", field)
    rows = window(tag.id, execution.id, execution.started_at, at)
    count, low, high, mean = session.execute(select(func.count(), func.min(rows.c.value), func.max(rows.c.value),
                                                    func.avg(rows.c.value))).one()
    if not count:
        start, end = (t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") for t in (execution.started_at, at))
        raise NoMachineData(f"{machine.code} sent no {tag.name} value between {start} and {end} UTC, so {c.name} "
                            "cannot be read; nothing is recorded", field)
    aggregate = c.source_aggregate or "last"
    if aggregate == "last":
        value = session.scalar(select(rows.c.value).order_by(rows.c.source_time.desc()).limit(1))
    else:
        value = {"min": low, "max": high, "mean": mean}[aggregate]
    return Captured(tag, aggregate, _text(float(value), tag.data_type, c), int(count), execution.started_at, at)


def _text(value: float, data_type: str, c: Characteristic) -> str:
    """The value at the tag's precision (a Float carries about 7 digits), with at least the places of the limits."""
    number = Decimal(f"{value:.{7 if data_type == 'Float' else 15}g}")
    exponents = [Decimal(t).as_tuple().exponent for t in (c.nominal, c.lower, c.upper) if t is not None]
    places = max([0, *(-e for e in exponents if isinstance(e, int))])
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -places:
        number = number.quantize(Decimal(1).scaleb(-places))
    return format(abs(number) if number == 0 else number, "f")


def provenance(captured: Captured | None) -> dict[str, Any]:
    """The Measurement fields saying where a machine value came from; nothing for a typed one."""
    if captured is None:
        return {}
    return {"source": "machine", "captured_tag_id": captured.tag.id, "captured_aggregate": captured.aggregate,
            "captured_samples": captured.samples, "captured_from": captured.start, "captured_to": captured.end}
