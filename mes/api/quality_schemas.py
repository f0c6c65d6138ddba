"""Request and response bodies of the quality routes: NCRs, MRB, deviations, holds, sign-offs, instruments."""
from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from mes.api.schemas import Code, Input

Secret = Field(min_length=1, max_length=256, description="the signer's PIN or password, entered now")


class SignIn(Input):
    pin: str = Secret


class SignatureOut(BaseModel):
    id: int
    printed_name: str
    meaning: str
    at: datetime
    content_hash: str


class NcrIn(Input):
    """An NCR on a unit (`serial`) or on received material (`part_number` and `lot`, a lot or a serial)."""

    serial: Code | None = None
    part_number: Code | None = None
    lot: Code | None = None
    defect_code: Code
    description: str = Field(min_length=1, max_length=2000)
    step: Code | None = None

    @model_validator(mode="after")
    def _one_subject(self) -> NcrIn:
        if self.serial is None and not (self.part_number and self.lot):
            raise ValueError("name the unit (serial) or the material (part_number and lot)")
        if self.serial is not None and (self.part_number or self.lot):
            raise ValueError("an NCR is on a unit or on material, not both")
        if self.step is not None and self.serial is None:
            raise ValueError("a step belongs to a unit's routing; material NCRs have none")
        return self


class DispositionIn(Input):
    decision: Literal["rework", "repair", "use_as_is", "return_to_supplier", "scrap"]
    rework_step: Code | None = None
    note: str = Field(default="", max_length=2000)
    pin: str = Secret


class MrbIn(Input):
    note: str = Field(default="", max_length=2000)
    pin: str = Secret


class DispositionOut(BaseModel):
    decision: str
    rework_step: str | None
    note: str
    signature: SignatureOut
    mrb_signature: SignatureOut | None


class NcrOut(BaseModel):
    number: str
    serial: str | None
    part_number: str | None
    lot: str | None
    step: str | None
    defect_code: str
    description: str
    failing_values: list[dict[str, str | None]]
    status: str
    opened_at: datetime
    closed_at: datetime | None
    photos: int
    disposition: DispositionOut | None


class NcrQuery(Input):
    status: Literal["open", "awaiting_mrb", "closed"] | None = None
    serial: str | None = Field(default=None, max_length=40)
    lot: str | None = Field(default=None, max_length=64)
    step: str | None = Field(default=None, max_length=32)
    defect_code: str | None = Field(default=None, max_length=32)
    page: int = Field(default=1, ge=1, le=1_000_000)
    per_page: int = Field(default=50, ge=1, le=200)


class NcrPage(BaseModel):
    items: list[NcrOut]
    page: int
    per_page: int
    total: int


class PhotoOut(BaseModel):
    id: int
    ncr: str
    content_type: str
    size: int


class ReasonIn(Input):
    reason: str = Field(min_length=1, max_length=1000)


class UnitStateOut(BaseModel):
    serial: str
    status: str
    on_hold: bool


class BuyoffOut(BaseModel):
    serial: str
    step: str
    execution: int
    signature: SignatureOut


class AcceptanceOut(BaseModel):
    serial: str
    status: str
    signature: SignatureOut


class DeviationIn(Input):
    step: Code
    characteristic: Code
    lower: str | None = Field(default=None, max_length=32)
    upper: str | None = Field(default=None, max_length=32)
    serials: list[Code] = Field(default_factory=list, max_length=500)
    work_order: Code | None = None
    valid_until: datetime
    reason: str = Field(min_length=1, max_length=2000)
    pin: str = Secret


class DeviationOut(BaseModel):
    number: str
    step: str
    characteristic: str
    lower: str | None
    upper: str | None
    serials: list[str]
    work_order_id: int | None
    valid_from: datetime
    valid_until: datetime
    reason: str
    signature: SignatureOut


class DeviationList(BaseModel):
    items: list[DeviationOut]


class QualificationIn(Input):
    qualification: Code
    valid_until: date


class QualificationOut(BaseModel):
    user: str
    qualification: str
    valid_until: date


class InstrumentIn(Input):
    code: Code
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=64)
    calibration_due: date


class CalibrationIn(Input):
    due: date
    passed: bool = True
    note: str = Field(default="", max_length=1000)


class InstrumentOut(BaseModel):
    code: str
    name: str
    kind: str
    calibration_due: date
    active: bool


class SinceQuery(Input):
    since: datetime | None = None


class InstrumentMeasurementOut(BaseModel):
    serial: str
    step: str
    execution: int
    name: str
    value: str
    unit: str | None
    passed: bool
    recorded_at: datetime


class InstrumentMeasurements(BaseModel):
    instrument: str
    items: list[InstrumentMeasurementOut]
