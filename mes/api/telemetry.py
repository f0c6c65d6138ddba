"""Telemetry routes: a tag's series downsampled in the database, a unit's process record at a step."""
from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field, model_validator

from mes import telemetry_queries
from mes.api.operation import Call, operation
from mes.api.schemas import Input
from mes.models import utcnow


class SeriesQuery(Input):
    tag: str = Field(min_length=1, max_length=64)
    from_: datetime | None = Field(default=None, alias="from", description="default: `to` minus 24 hours")
    to: datetime | None = Field(default=None, description="default: now")
    points: int = Field(default=500, ge=1, le=10_000)

    @model_validator(mode="after")
    def _aware(self) -> SeriesQuery:
        for name in ("from_", "to"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"give `{name.rstrip('_')}` with a time zone, e.g. 2026-11-24T08:00:00Z")
        return self


class PointOut(BaseModel):
    t: datetime
    min: float
    max: float
    avg: float
    count: int


class SeriesOut(BaseModel):
    machine: str
    tag: str
    unit: str | None
    source: str = Field(description="raw samples, or minute or hour rollups for older ranges")
    bucket_s: int
    points: list[PointOut]


class ProcessQuery(Input):
    step: str = Field(min_length=1, max_length=32)


class ProcessValueOut(BaseModel):
    tag: str
    unit: str | None
    t: datetime
    value: float | None
    text: str | None
    status: int


class ProcessRecordOut(BaseModel):
    serial: str
    step: str
    machine: str | None
    started_at: datetime
    ended_at: datetime | None
    values: list[ProcessValueOut]


@operation("GET", "/machines/<machine>/telemetry", summary="A tag's values over a time range, downsampled in the "
           "database to at most `points` buckets", query=SeriesQuery, response=SeriesOut, permission="read")
def machine_telemetry(call: Call, machine: str) -> SeriesOut:
    q = call.query
    to = q.to or utcnow()
    s = telemetry_queries.series(call.session, machine, q.tag, q.from_ or to - timedelta(hours=24), to, q.points)
    return SeriesOut(machine=s.machine, tag=s.tag, unit=s.unit, source=s.source, bucket_s=s.bucket_s, points=[
        PointOut(t=p.t, min=p.minimum, max=p.maximum, avg=p.mean, count=p.count) for p in s.points])


@operation("GET", "/units/<serial>/process-data", summary="What the machine recorded while the unit's latest "
           "execution of a step ran on it", query=ProcessQuery, response=ProcessRecordOut, permission="read")
def process_data(call: Call, serial: str) -> ProcessRecordOut:
    execution, values = telemetry_queries.process_record(call.session, serial, call.query.step)
    return ProcessRecordOut(serial=serial, step=execution.step_code,
                            machine=execution.machine.code if execution.machine else None,
                            started_at=execution.started_at, ended_at=execution.ended_at,
                            values=[ProcessValueOut(tag=v.tag, unit=v.unit, t=v.t, value=v.value, text=v.text,
                                                    status=v.status) for v in values])
