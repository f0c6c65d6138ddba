"""Request and response bodies of the material and traceability routes."""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from mes.api.quality_schemas import Secret, SignatureOut
from mes.api.schemas import Code, Input

# A lot number or serial appears in URLs, so it may not hold a slash or control characters.
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^/\x00-\x1f\x7f]+$")]


class ReceiptIn(Input):
    """A lot-tracked part arrives as `lot` + `quantity`; a serialised part as its `serials`."""

    part_number: Code
    supplier: str = Field(min_length=1, max_length=200)
    coc_reference: str = Field(min_length=1, max_length=200, description="certificate of conformity reference")
    lot: Identifier | None = None
    quantity: int | None = Field(default=None, ge=1, le=10_000_000)
    serials: list[Identifier] | None = Field(default=None, min_length=1, max_length=500)
    expiry: date | None = None

    @model_validator(mode="after")
    def _lot_or_serials(self) -> ReceiptIn:
        if (self.lot is None) == (self.serials is None):
            raise ValueError("give a lot (with its quantity) or the serials received, not both")
        if self.lot is not None and self.quantity is None:
            raise ValueError("give the quantity of the lot")
        return self


class MaterialOut(BaseModel):
    part_number: str
    identifier: str
    tracking: str
    receipt: str
    supplier: str
    coc_reference: str
    expiry: date | None
    quantity: int
    remaining: int
    status: str
    on_hold: bool
    received_at: datetime
    decision: SignatureOut | None
    decision_note: str | None


class ReceiptOut(BaseModel):
    receipt: str
    items: list[MaterialOut]


class MaterialQuery(Input):
    part_number: str | None = Field(default=None, max_length=64)
    status: str | None = Field(default=None, max_length=16)
    supplier: str | None = Field(default=None, max_length=200)
    page: int = Field(default=1, ge=1, le=1_000_000)
    per_page: int = Field(default=50, ge=1, le=200)


class MaterialPage(BaseModel):
    items: list[MaterialOut]
    page: int
    per_page: int
    total: int


class DecisionIn(Input):
    note: str = Field(default="", max_length=1000)
    pin: str = Secret


class RejectIn(Input):
    note: str = Field(min_length=1, max_length=1000)
    pin: str = Secret


class ConsumeIn(Input):
    component: Identifier = Field(description="the component's serial, or the lot or serial received")
    part_number: Code | None = Field(default=None, description="where the lot number alone is ambiguous")
    quantity: int = Field(default=1, ge=1, le=10_000)


class ConsumptionOut(BaseModel):
    serial: str
    step: str
    part_number: str
    component: str
    quantity: int
    consumed_at: datetime
    still_needed: list[str]  # what the step's bill of material still needs, e.g. "1 × BRG-7002-P"


class RemovalIn(Input):
    reason: str = Field(min_length=1, max_length=900)  # the hold on a removed unit quotes it


class TraceQuery(Input):
    part_number: str | None = Field(default=None, max_length=64)


class ContainmentIn(Input):
    serial_or_lot: Identifier
    part_number: Code | None = None
    reason: str = Field(min_length=1, max_length=900)  # each unit's hold quotes it
    pin: str = Secret


class ContainmentOut(BaseModel):
    number: str
    subject: str
    reason: str
    placed_at: datetime
    signature: SignatureOut
    units: list[str]
    satellites: list[str]
    material: list[str]
    holds_standing: int


class SatelliteIn(Input):
    build: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[^/\x00-\x1f\x7f]+$")]
    programme: str = Field(min_length=1, max_length=100)
    need_date: date


class PositionOut(BaseModel):
    part_number: str
    unit_type: str
    line: int
    position: int
    serial: str | None
    allocated_at: datetime | None


class SatelliteOut(BaseModel):
    build: str
    programme: str
    need_date: date
    filled: int
    missing: int
    containments: list[str]
    positions: list[PositionOut]


class SatelliteSummary(BaseModel):
    build: str
    programme: str
    need_date: date
    filled: int
    positions: int


class SatelliteList(BaseModel):
    items: list[SatelliteSummary]


class AllocationIn(Input):
    serial: Code
    position: int | None = Field(default=None, ge=1, le=100)


class AllocationOut(BaseModel):
    build: str
    serial: str
    part_number: str
    position: int
    allocated_at: datetime
    removed_at: datetime | None
    removal_reason: str | None


class DeallocationIn(Input):
    serial: Code
    reason: str = Field(min_length=1, max_length=1000)
    pin: str = Secret
