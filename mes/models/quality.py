"""Quality records: signatures, holds, NCR dispositions and photos, deviations, qualifications, instruments."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mes.models.base import Base, utcnow
from mes.models.users import User


class Signature(Base):
    """An electronic signature: who (printed name), when, what it means, bound to the hash of what was signed."""

    __tablename__ = "signatures"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    printed_name: Mapped[str] = mapped_column(String(200))
    meaning: Mapped[str] = mapped_column(String(32))  # performed | inspected | approved | mrb_disposition
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()


class Hold(Base):
    """A hold put on a unit by hand (NCRs hold a unit by themselves while open)."""

    __tablename__ = "holds"
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    reason: Mapped[str] = mapped_column(String(1000))
    placed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    released_at: Mapped[datetime | None]
    release_reason: Mapped[str | None] = mapped_column(String(1000))
    containment_id: Mapped[int | None] = mapped_column(ForeignKey("containments.id"), index=True)


class NcrDisposition(Base):
    """The material review decision on an NCR, signed by quality; repair and use-as-is need a second (MRB) signer."""

    __tablename__ = "ncr_dispositions"
    id: Mapped[int] = mapped_column(primary_key=True)
    ncr_id: Mapped[int] = mapped_column(ForeignKey("nonconformances.id"), unique=True)
    decision: Mapped[str] = mapped_column(String(32))  # rework | repair | use_as_is | return_to_supplier | scrap
    rework_step_code: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(String(2000))
    signature_id: Mapped[int] = mapped_column(ForeignKey("signatures.id"))
    mrb_signature_id: Mapped[int | None] = mapped_column(ForeignKey("signatures.id"))

    signature: Mapped[Signature] = relationship(foreign_keys=[signature_id])
    mrb_signature: Mapped[Signature | None] = relationship(foreign_keys=[mrb_signature_id])


class NcrPhoto(Base):
    __tablename__ = "ncr_photos"
    id: Mapped[int] = mapped_column(primary_key=True)
    ncr_id: Mapped[int] = mapped_column(ForeignKey("nonconformances.id"), index=True)
    content_type: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Deviation(Base):
    """A pre-approved, time-boxed permission to accept one characteristic outside its limits."""

    __tablename__ = "deviations"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    step_code: Mapped[str] = mapped_column(String(32), index=True)
    characteristic: Mapped[str] = mapped_column(String(64))
    lower: Mapped[str | None] = mapped_column(String(32))  # the limits allowed under the deviation
    upper: Mapped[str | None] = mapped_column(String(32))
    serials: Mapped[list[str]] = mapped_column(JSON, default=list)
    work_order_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"))
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(2000))
    signature_id: Mapped[int] = mapped_column(ForeignKey("signatures.id"))

    signature: Mapped[Signature] = relationship()


class UserQualification(Base):
    __tablename__ = "user_qualifications"
    __table_args__ = (UniqueConstraint("user_id", "qualification_code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    qualification_code: Mapped[str] = mapped_column(String(32))
    valid_until: Mapped[date]
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Instrument(Base):
    """A gauge, torque tool or meter; measuring with it past its calibration due date is refused."""

    __tablename__ = "instruments"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(64))
    calibration_due: Mapped[date]
    active: Mapped[bool] = mapped_column(default=True)


class Calibration(Base):
    __tablename__ = "calibrations"
    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id"), index=True)
    calibrated_at: Mapped[datetime]
    due: Mapped[date]
    passed: Mapped[bool]
    note: Mapped[str] = mapped_column(String(1000), default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
