"""Request and response bodies of the JSON API. The OpenAPI document is generated from these."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

# A measured value: a number (kept exactly as typed), a numeric string, or pass/fail.
MeasuredValue = Annotated[
    Decimal | bool | int | str,
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string", "maxLength": 64}, {"type": "boolean"}]}),
]
Code = Annotated[str, Field(min_length=1, max_length=64)]


class Input(BaseModel):
    """Request bodies: unknown fields are refused, so a typo is an error and not a silent no-op."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    error: str
    field: str | None = None


# --- plant --------------------------------------------------------------------------------------

class DatabaseHealth(BaseModel):
    ok: bool
    dialect: str | None = None
    error: str | None = None


class EndpointHealthOut(BaseModel):
    endpoint: str
    machines: list[str]
    connected: bool = Field(description="the adapter reports it connected, within the last 30 s")
    reported_at: datetime | None
    last_value_at: datetime | None
    spool_readings: int
    spool_fill: float = Field(description="0 to 1 of the adapter's spool capacity")
    clock_offset_s: float | None = Field(description="the PLC's clock minus the MES's")
    gaps_today: int
    problems: list[str]


class Health(BaseModel):
    status: Literal["ok", "degraded"] = Field(description="the app and its database")
    database: DatabaseHealth
    link: Literal["ok", "degraded"] = Field("ok", description="degraded while any endpoint has a problem")
    adapters: list[EndpointHealthOut] = Field(default_factory=list,
                                              description="the machine link, per OPC UA endpoint")


class UnitTypeOut(BaseModel):
    part_number: str
    name: str
    qty_per_satellite: int


class LineOut(BaseModel):
    number: int
    code: str
    name: str
    unit_type: UnitTypeOut


class LinesOut(BaseModel):
    lines: list[LineOut]


# --- work orders --------------------------------------------------------------------------------

class WorkOrderIn(Input):
    unit_type: Code = Field(description="part number, serial prefix or line code, e.g. RWA-100 or RWA")
    quantity: int = Field(ge=1, le=500)
    due: date
    priority: int = Field(default=3, ge=1, le=5, description="1 most urgent .. 5")


class WorkOrderOut(BaseModel):
    number: str
    unit_type: str
    routing_revision: int
    quantity: int
    due: date
    priority: int
    status: str
    released_at: datetime
    serials: list[str]


class PageQuery(Input):
    page: int = Field(default=1, ge=1, le=1_000_000)
    per_page: int = Field(default=50, ge=1, le=200)


class WorkOrderPage(BaseModel):
    items: list[WorkOrderOut]
    page: int
    per_page: int
    total: int


# --- units and steps ----------------------------------------------------------------------------

class SourceOut(BaseModel):
    tag: str
    aggregate: Literal["last", "min", "max", "mean"]


class CharacteristicOut(BaseModel):
    name: str
    kind: str
    unit: str | None
    nominal: str | None
    lower: str | None
    upper: str | None
    source: SourceOut | None = Field(default=None, description="read from this tag of the step's machine at "
                                     "completion; not entered by hand")


class StepOut(BaseModel):
    code: str
    name: str
    sequence: int
    stations: list[str]
    machine_run: bool
    signoff: bool
    qualifications: list[str]
    standard_minutes: int
    characteristics: list[CharacteristicOut]
    consumes: list[BomLineOut]  # what the step's bill of material names


class BomLineOut(BaseModel):
    part_number: str
    quantity: int


class EventOut(BaseModel):
    kind: str
    user: str
    at: datetime
    note: str | None


class CapturedOut(BaseModel):
    """Where a machine value came from: `aggregate` of `samples` good samples of the tag in the window."""

    machine: str
    tag: str
    aggregate: str
    samples: int
    window_start: datetime
    window_end: datetime


class MeasurementOut(BaseModel):
    name: str
    value: str
    unit: str | None
    nominal: str | None
    lower: str | None
    upper: str | None
    passed: bool
    source: Literal["manual", "machine"]
    captured: CapturedOut | None = None
    voided: bool = False


class ExcursionOut(BaseModel):
    """A tag of the machine outside one of its limits while the step ran (so far, for a running step)."""

    machine: str
    tag: str
    unit: str | None
    side: Literal["high", "low"]
    limit: str
    first_at: datetime
    last_at: datetime
    extreme: float
    samples: int
    action: Literal["flag", "fail"]
    ncr: str | None


class MachineWriteOut(BaseModel):
    """A value the MES asked to load into a machine at the step's start: pending, verified or failed (why)."""

    machine: str
    tag: str
    meaning: str
    value: str
    status: Literal["pending", "verified", "failed"]
    error: str | None
    requested_at: datetime
    done_at: datetime | None


class ExecutionOut(BaseModel):
    id: int
    step: str
    status: str
    station: str
    machine: str | None
    run: int | None
    position: int | None
    rework: bool
    started_at: datetime
    ended_at: datetime | None
    people: list[str]
    events: list[EventOut]
    measurements: list[MeasurementOut]
    excursions: list[ExcursionOut] = []
    machine_writes: list[MachineWriteOut] = []


class UnitOut(BaseModel):
    serial: str
    unit_type: str
    work_order: str
    status: str
    on_hold: bool
    first_pass: bool
    routing_revision: int
    current_step: str | None
    next_step: StepOut | None
    open_ncrs: list[str]
    executions: list[ExecutionOut]


class StartIn(Input):
    station: Code
    machine: Code | None = None


class PauseIn(Input):
    note: str | None = Field(default=None, max_length=500)


class ResumeIn(Input):
    pass


class AbortIn(Input):
    reason: str = Field(min_length=1, max_length=500)


class CompleteIn(Input):
    measurements: dict[Annotated[str, Field(max_length=64)], MeasuredValue] = Field(
        default_factory=dict, description="a value per characteristic, except those the machine measures "
        "(`source` set): they are read from it")
    instruments: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(min_length=1, max_length=32)]] = (
        Field(default_factory=dict, description='instrument code per characteristic, or under "*" for all'))


class CorrectIn(Input):
    value: MeasuredValue
    reason: str = Field(min_length=1, max_length=500)
    pin: str = Field(min_length=1, max_length=256, description="the person's PIN or password, entered now")


class CorrectionOut(BaseModel):
    voided: MeasurementOut
    recorded: MeasurementOut
    ncr: str | None


class CompletionOut(BaseModel):
    result: Literal["passed", "failed"]
    ncr: str | None
    execution: ExecutionOut


# --- machine runs -------------------------------------------------------------------------------

class LoadIn(Input):
    serial: Code
    position: int = Field(ge=1, le=500)


class RunIn(Input):
    step: Code
    machine: Code
    units: list[LoadIn] = Field(min_length=1, max_length=500)


class RunUnitOut(BaseModel):
    serial: str
    position: int | None
    status: str


class RunOut(BaseModel):
    id: int
    machine: str
    station: str
    step: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    units: list[RunUnitOut]


class RunCompleteIn(Input):
    measurements: dict[Annotated[str, Field(max_length=64)], dict[Annotated[str, Field(max_length=64)], MeasuredValue]]
    instruments: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(min_length=1, max_length=32)]] = (
        Field(default_factory=dict, description='instrument code per characteristic, or under "*" for all'))


class RunResultOut(BaseModel):
    serial: str
    result: Literal["passed", "failed"]
    ncr: str | None


class RunCompletionOut(BaseModel):
    run: RunOut
    results: list[RunResultOut]


# --- browser sessions ---------------------------------------------------------------------------

class LoginIn(Input):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class SessionOut(BaseModel):
    user: str
    display_name: str
    roles: list[str]
    csrf_token: str = Field(description="send as X-CSRF-Token with every write made with the session cookie")


class LoggedOut(BaseModel):
    logged_out: bool
