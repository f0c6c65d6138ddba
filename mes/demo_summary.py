"""What the seeded demo history holds, counted from the database for the summary `mes demo` prints."""
from __future__ import annotations

from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from mes.models import (
    Allocation,
    Calibration,
    Consumption,
    Deviation,
    Hold,
    Instrument,
    Line,
    MachineRun,
    NcrDisposition,
    Part,
    ReceivedItem,
    Satellite,
    StepEvent,
    StepExecution,
    UnitType,
    UserQualification,
    utcnow,
)
from mes.models.production import Measurement, Nonconformance, Unit, WorkOrder
from mes.plant_time import plant_date

DISPOSITIONS = ("rework", "repair", "use_as_is", "scrap", "return_to_supplier")


def label(decision: str) -> str:
    return decision.replace("_", "-")


def _count(session: Session, *where: Any, model: Any = Unit) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def history_counts(session: Session) -> dict[str, int]:
    """Counts of the production records."""
    return {
        "work orders": _count(session, model=WorkOrder), "units released": _count(session),
        "step executions": _count(session, model=StepExecution), "measurements": _count(session, model=Measurement),
        "machine runs": _count(session, model=MachineRun),
        "hand-overs": _count(session, StepEvent.kind == "handover", model=StepEvent),
        "buy-offs": _count(session, StepExecution.buyoff_signature_id.is_not(None), model=StepExecution),
        "units ready for acceptance": _count(session, Unit.status == "ready"),
        "units accepted": _count(session, Unit.status == "accepted"),
        "units scrapped": _count(session, Unit.status == "scrapped"),
        "units on hold": _count(session, Unit.on_hold),
    }


def quality_counts(session: Session) -> dict[str, int]:
    """Counts of the quality records: NCRs by disposition and state, rework, deviations, gates."""
    decided: dict[str, int] = dict(session.execute(  # type: ignore[arg-type]
        select(NcrDisposition.decision, func.count()).group_by(NcrDisposition.decision)).all())
    counts = {"NCRs": _count(session, model=Nonconformance)}
    counts |= {f"NCRs {label(d)}": decided.get(d, 0) for d in DISPOSITIONS}
    counts |= {
        "NCRs open": _count(session, Nonconformance.status == "open", model=Nonconformance),
        "NCRs awaiting MRB": _count(session, Nonconformance.status == "awaiting_mrb", model=Nonconformance),
        "NCRs raised by hand": _count(session, Nonconformance.execution_id.is_(None),
                                      Nonconformance.unit_id.is_not(None), model=Nonconformance),
        "NCRs on material": _count(session, Nonconformance.received_item_id.is_not(None), model=Nonconformance),
        "reworked units": session.scalar(select(func.count(distinct(StepExecution.unit_id)))
                                         .where(StepExecution.rework)) or 0,
        "holds": _count(session, model=Hold), "holds released": _count(session, Hold.released_at.is_not(None),
                                                                      model=Hold),
        "deviations": _count(session, model=Deviation),
        "values passed under a deviation": _count(session, Measurement.deviation_id.is_not(None), model=Measurement),
        "instruments": _count(session, model=Instrument), "calibrations": _count(session, model=Calibration),
        "values with an instrument": _count(session, Measurement.instrument_id.is_not(None), model=Measurement),
        "expired qualifications": _count(session, UserQualification.valid_until < plant_date(session, utcnow()),
                                         model=UserQualification),
    }
    return counts


def material_counts(session: Session) -> dict[str, int]:
    """Counts of the material records: deliveries, inspection decisions, consumptions."""
    item = ReceivedItem
    return {
        "receipts": session.scalar(select(func.count(distinct(item.receipt)))) or 0,
        "lots": _count(session, Part.tracking == "lot", model=item.__table__.join(Part.__table__)),
        "serials": _count(session, Part.tracking == "serial", model=item.__table__.join(Part.__table__)),
        "released": _count(session, item.decision_signature_id.is_not(None), item.status != "rejected", model=item),
        "rejected": _count(session, item.status == "rejected", model=item),
        "returned": _count(session, item.status == "returned", model=item),
        "in quarantine": _count(session, item.status == "quarantine", model=item),
        "consumptions": _count(session, model=Consumption),
        "units built": session.scalar(select(func.count(distinct(Consumption.unit_id)))) or 0,
    }


def satellite_counts(session: Session) -> tuple[list[str], int, int, int]:
    """The programmes, how many satellites there are, how many are fully kitted, and positions filled."""
    positions = session.scalar(select(func.sum(UnitType.qty_per_satellite)).join(Line)
                               .where(Line.active.is_(True))) or 0
    filled = dict(session.execute(select(Allocation.satellite_id, func.count()).where(  # type: ignore[arg-type]
        Allocation.removed_at.is_(None)).group_by(Allocation.satellite_id)).all())
    built = session.execute(select(Satellite.id, Satellite.programme)).all()
    programmes = sorted({programme for _, programme in built})
    full = sum(positions > 0 and filled.get(sid, 0) >= positions for sid, _ in built)
    return programmes, len(built), full, sum(filled.values())


def summary_lines(session: Session) -> list[str]:
    """The lines `mes demo` prints after seeding."""
    history, q, m = history_counts(session), quality_counts(session), material_counts(session)
    programmes, satellites, full, filled = satellite_counts(session)
    by_decision = ", ".join(f"{label(d)} {q['NCRs ' + label(d)]}" for d in DISPOSITIONS)
    return [
        "  production: " + ", ".join(f"{n} {what}" for what, n in history.items()),
        f"  NCRs: {q['NCRs']} ({q['NCRs raised by hand']} raised by hand, {q['NCRs on material']} on received"
        f" material); dispositions: {by_decision};"
        f" {q['NCRs open']} still open, {q['NCRs awaiting MRB']} awaiting MRB",
        f"  {q['reworked units']} reworked units, {history['units accepted']} accepted units,"
        f" {q['holds']} holds ({q['holds released']} released)",
        f"  {q['deviations']} deviations ({q['values passed under a deviation']} values passed under one),"
        f" {q['instruments']} instruments ({q['calibrations']} calibrations, {q['values with an instrument']}"
        f" values measured with one), {q['expired qualifications']} expired qualifications",
        f"  material: {m['receipts']} receipts ({m['lots']} lots, {m['serials']} serials received):"
        f" {m['released']} released, {m['rejected']} rejected at receiving inspection, {m['returned']} returned to"
        f" supplier, {m['in quarantine']} in quarantine; {m['consumptions']} consumptions into {m['units built']}"
        f" units",
        f"  satellites: {satellites} builds ({', '.join(programmes) or 'no programme'}), {full} fully kitted,"
        f" {filled} positions filled",
    ]
