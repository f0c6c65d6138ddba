"""Nonconformances and material review: opening NCRs, signed dispositions, the MRB two-person rule, holds.

A unit is on hold while any NCR on it is open (or awaits MRB) or a hand-placed hold stands.
Rework sends it back to a named earlier step; repair (MRB) back to the failed step for re-test;
use-as-is (MRB) lets it go on past the failed step; scrap ends it, and its serial is never reused.
An NCR on a received lot or serial holds that material; it is returned to supplier, scrapped or used as is.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from mes import audit, signatures
from mes.clock import event_time
from mes.errors import Conflict, Forbidden, Invalid, NotFound
from mes.materials import get_item
from mes.models import DefectCode, Hold, NcrDisposition, ReceivedItem, RoutingStep
from mes.models.production import Nonconformance, StepExecution, Unit
from mes.serials import document_number
from mes.units import lock_unit

DEFECT_OUT_OF_TOLERANCE = "OOT"
DEFECT_FUNCTIONAL = "FUNC"
DECISIONS = ("rework", "repair", "use_as_is", "return_to_supplier", "scrap")
NEEDS_MRB = frozenset({"repair", "use_as_is"})
FOR_MATERIAL = ("return_to_supplier", "use_as_is", "scrap")
OPEN = ("open", "awaiting_mrb")


def refresh_hold(session: Session, unit: Unit) -> None:
    """Hold the unit while an NCR on it is open or a hold stands; release it when neither is left."""
    session.flush()
    open_ncrs = session.scalar(select(func.count()).select_from(Nonconformance)
                               .where(Nonconformance.unit_id == unit.id, Nonconformance.status.in_(OPEN)))
    holds = session.scalar(select(func.count()).select_from(Hold)
                           .where(Hold.unit_id == unit.id, Hold.released_at.is_(None)))
    unit.on_hold = bool(open_ncrs or holds)


def refresh_material_hold(session: Session, item: ReceivedItem) -> None:
    """Hold received material while an NCR on it is open."""
    session.flush()
    item.on_hold = bool(session.scalar(select(func.count()).select_from(Nonconformance).where(
        Nonconformance.received_item_id == item.id, Nonconformance.status.in_(OPEN))))


def subject(ncr: Nonconformance) -> str:
    """What the NCR is about, in words: a serial, or a part number and lot."""
    if ncr.unit is not None:
        return ncr.unit.serial
    item = ncr.received_item
    assert item is not None
    return f"{item.part.part_number} {item.identifier}"


def _new_ncr(session: Session, target: Unit | ReceivedItem, user_id: int, at: datetime, defect_code: str,
             description: str, step_code: str | None, execution_id: int | None,
             failures: list[dict[str, Any]]) -> Nonconformance:
    on_unit = isinstance(target, Unit)
    ncr = Nonconformance(number=document_number(session, "NCR", at), unit=target if on_unit else None,
                         received_item=None if on_unit else target, execution_id=execution_id,
                         step_code=step_code, defect_code=defect_code, description=description,
                         failing_values=failures, opened_by_id=user_id, opened_at=at)
    session.add(ncr)
    target.on_hold = True
    audit.record(session, user_id, "ncr.open", "ncr", ncr.number, at=at, new={
        "subject": subject(ncr), "step": step_code, "defect_code": defect_code, "description": description,
        "failing_values": failures})
    return ncr


def _check_defect(session: Session, defect_code: str, description: str) -> None:
    if session.scalar(select(DefectCode.id).filter_by(code=defect_code, active=True)) is None:
        raise Invalid(f"unknown defect code {defect_code!r}", "defect_code")
    if not description.strip():
        raise Invalid("describe the nonconformance", "description")


def open_ncr_for_failed_step(session: Session, execution: StepExecution, failures: list[dict[str, str | None]],
                             user_id: int, at: datetime) -> Nonconformance:
    """Open an NCR holding the failing step and values, and put the unit on hold while it is open."""
    variable = any(f["lower"] is not None or f["upper"] is not None for f in failures)
    listing = "; ".join(f"{f['name']} = {f['value']}{' ' + f['unit'] if f['unit'] else ''}"
                        f" (limits {f['lower'] or '-'} .. {f['upper'] or '-'})" for f in failures)
    return _new_ncr(session, execution.unit, user_id, at, DEFECT_OUT_OF_TOLERANCE if variable else DEFECT_FUNCTIONAL,
                    f"Step {execution.step_code} failed: {listing}", execution.step_code, execution.id, failures)


def open_ncr(session: Session, user_id: int, serial: str, defect_code: str, description: str,
             step_code: str | None = None, at: datetime | None = None) -> Nonconformance:
    """Raise an NCR by hand on a unit (damage, contamination ...); the unit is held until it is dispositioned."""
    at = event_time(at)
    unit = lock_unit(session, serial)
    if unit.status == "scrapped":
        raise Conflict(f"{serial} is scrapped", "serial")
    _check_defect(session, defect_code, description)
    if step_code is not None and session.scalar(select(RoutingStep.id).filter_by(
            routing_revision_id=unit.routing_revision_id, code=step_code)) is None:
        raise Invalid(f"step {step_code!r} is not in the routing of {serial}", "step")
    return _new_ncr(session, unit, user_id, at, defect_code, description.strip(), step_code, None, [])


def open_material_ncr(session: Session, user_id: int, part_number: str, identifier: str, defect_code: str,
                      description: str, at: datetime | None = None) -> Nonconformance:
    """Raise an NCR on a received lot or serial (wrong certificate, damage); it cannot be consumed until closed."""
    at = event_time(at)
    item = get_item(session, part_number, identifier, lock=True)
    if item.status in ("returned", "scrapped"):
        raise Conflict(f"{part_number} {identifier} is {item.status}", "identifier")
    _check_defect(session, defect_code, description)
    return _new_ncr(session, item, user_id, at, defect_code, description.strip(), None, None, [])


def get_ncr(session: Session, number: str, *, lock: bool = False) -> Nonconformance:
    query = select(Nonconformance).where(Nonconformance.number == number).options(
        selectinload(Nonconformance.unit), selectinload(Nonconformance.received_item).selectinload(ReceivedItem.part))
    if lock:
        query = query.with_for_update(of=Nonconformance).execution_options(populate_existing=True)
    ncr = session.scalars(query).one_or_none()
    if ncr is None:
        raise NotFound(f"no NCR {number!r}", "number")
    return ncr


def disposition_of(session: Session, ncr: Nonconformance) -> NcrDisposition | None:
    return session.scalars(select(NcrDisposition).filter_by(ncr_id=ncr.id)).one_or_none()


def list_ncrs(session: Session, *, status: str | None, serial: str | None, lot: str | None, step: str | None,
              defect_code: str | None, page: int, per_page: int) -> tuple[list[Nonconformance], int]:
    """NCRs matching the filters, newest first, one page at a time, with the total."""
    query = select(Nonconformance)
    if status:
        query = query.where(Nonconformance.status == status)
    if serial:
        query = query.join(Unit).where(Unit.serial == serial)
    if lot:
        query = query.join(ReceivedItem).where(ReceivedItem.identifier == lot)
    if step:
        query = query.where(Nonconformance.step_code == step)
    if defect_code:
        query = query.where(Nonconformance.defect_code == defect_code)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.options(selectinload(Nonconformance.unit),
                                         selectinload(Nonconformance.received_item).selectinload(ReceivedItem.part))
                           .order_by(Nonconformance.opened_at.desc(), Nonconformance.id.desc())
                           .offset((page - 1) * per_page).limit(per_page)).all()
    return list(rows), total


def disposition_content(ncr: Nonconformance, decision: str, rework_step: str | None, note: str) -> dict[str, Any]:
    """What a disposition signature (and its MRB approval) signs."""
    return {"ncr": ncr.number, "subject": subject(ncr), "step": ncr.step_code, "defect_code": ncr.defect_code,
            "description": ncr.description, "failing_values": ncr.failing_values, "decision": decision,
            "rework_step": rework_step, "note": note}


def _rework_target(session: Session, ncr: Nonconformance, step_code: str | None) -> RoutingStep:
    if not step_code:
        raise Invalid("name the step the unit goes back to", "rework_step")
    unit = ncr.unit
    step = session.scalars(select(RoutingStep).filter_by(routing_revision_id=unit.routing_revision_id,
                                                         code=step_code)).one_or_none()
    if step is None:
        raise Invalid(f"step {step_code!r} is not in the routing of {unit.serial}", "rework_step")
    limit = _failed_sequence(session, ncr) or unit.next_sequence
    if step.sequence > limit:
        raise Invalid(f"rework goes back to an earlier step, not forward to {step_code}", "rework_step")
    return step


def _failed_sequence(session: Session, ncr: Nonconformance) -> int | None:
    if ncr.step_code is None:
        return None
    return session.scalar(select(RoutingStep.sequence).filter_by(
        routing_revision_id=ncr.unit.routing_revision_id, code=ncr.step_code))


def disposition(session: Session, user_id: int, number: str, decision: str, secret: str | None,
                rework_step: str | None = None, note: str = "", at: datetime | None = None) -> Nonconformance:
    """Decide what happens to the nonconforming unit, signed; repair and use-as-is then wait for MRB approval."""
    at = event_time(at)
    ncr = get_ncr(session, number, lock=True)
    if ncr.status != "open":
        raise Conflict(f"{number} is {ncr.status.replace('_', ' ')}", "number")
    if decision not in DECISIONS:
        raise Invalid(f"the decision is one of {', '.join(DECISIONS)}", "decision")
    if ncr.unit is None and decision not in FOR_MATERIAL:
        raise Invalid(f"received material is {', '.join(d.replace('_', ' ') for d in FOR_MATERIAL)}; "
                      f"not {decision.replace('_', ' ')}", "decision")
    if ncr.unit is not None and decision == "return_to_supplier":
        raise Invalid("return to supplier is for purchased lots, not for a built unit", "decision")
    if ncr.unit is not None and decision != "scrap" and ncr.unit.current_execution_id is not None:
        raise Conflict(f"{ncr.unit.serial} is in a step; finish or abort it before the disposition", "number")
    if decision == "rework":
        _rework_target(session, ncr, rework_step)
    else:
        rework_step = None
    if decision in NEEDS_MRB and not note.strip():
        raise Invalid(f"{decision.replace('_', '-')} needs a documented justification", "note")
    signature = signatures.sign(session, user_id, secret, "mrb_disposition", "ncr", ncr.number,
                                disposition_content(ncr, decision, rework_step, note), at)
    session.add(NcrDisposition(ncr_id=ncr.id, decision=decision, rework_step_code=rework_step, note=note,
                               signature_id=signature.id))
    audit.record(session, user_id, "ncr.disposition", "ncr", ncr.number, at=at, old={"status": ncr.status},
                 new={"decision": decision, "rework_step": rework_step, "signature": signature.id}, reason=note)
    if decision in NEEDS_MRB:
        ncr.status = "awaiting_mrb"
    else:
        _apply(session, ncr, decision, rework_step, user_id, at)
    session.flush()
    return ncr


def mrb_approve(session: Session, user_id: int, number: str, secret: str | None, note: str = "",
                at: datetime | None = None) -> Nonconformance:
    """The second quality signature a repair or use-as-is needs, by someone other than the first signer."""
    at = event_time(at)
    ncr = get_ncr(session, number, lock=True)
    record = disposition_of(session, ncr)
    if ncr.status != "awaiting_mrb" or record is None:
        raise Conflict(f"{number} is not awaiting MRB approval", "number")
    if record.signature.user_id == user_id:
        raise Forbidden("MRB approval needs a second person, not the one who signed the disposition")
    content = disposition_content(ncr, record.decision, record.rework_step_code, record.note)
    signature = signatures.sign(session, user_id, secret, "approved", "ncr", ncr.number, content, at)
    record.mrb_signature_id = signature.id
    audit.record(session, user_id, "ncr.mrb_approve", "ncr", ncr.number, at=at, reason=note,
                 new={"decision": record.decision, "signature": signature.id})
    _apply(session, ncr, record.decision, record.rework_step_code, user_id, at)
    session.flush()
    return ncr


def _apply(session: Session, ncr: Nonconformance, decision: str, rework_step: str | None, user_id: int,
           at: datetime) -> None:
    if ncr.received_item is not None:
        _apply_to_material(session, ncr, decision, user_id, at)
        return
    unit = session.scalars(select(Unit).where(Unit.id == ncr.unit_id).with_for_update()).one()
    failed = _failed_sequence(session, ncr)
    unit.first_pass = False  # a unit with a nonconformance did not go through first time right
    if decision == "scrap":
        _stop_current_step(session, unit, at, f"scrapped under {ncr.number}")
        unit.status = "scrapped"
        _close_others(session, unit, ncr, user_id, at)
    elif decision == "rework":
        unit.next_sequence = _rework_target(session, ncr, rework_step).sequence
        unit.status = "in_work"
    elif decision == "repair" and failed is not None:
        unit.next_sequence = failed  # repaired, then tested again
    elif decision == "use_as_is" and failed is not None and unit.next_sequence == failed:
        last = session.scalar(select(func.max(RoutingStep.sequence))
                              .filter_by(routing_revision_id=unit.routing_revision_id))
        if failed == last:
            unit.status = "ready"
        else:
            unit.next_sequence = failed + 1
    ncr.status, ncr.closed_at = "closed", at
    audit.record(session, user_id, "ncr.close", "ncr", ncr.number, at=at, new={
        "decision": decision, "unit_status": unit.status, "next_sequence": unit.next_sequence})
    refresh_hold(session, unit)


def _apply_to_material(session: Session, ncr: Nonconformance, decision: str, user_id: int, at: datetime) -> None:
    item = session.scalars(select(ReceivedItem).where(ReceivedItem.id == ncr.received_item_id).with_for_update()).one()
    old = item.status
    if decision == "return_to_supplier":
        item.status = "returned"
    elif decision == "scrap":
        item.status = "scrapped"
    ncr.status, ncr.closed_at = "closed", at
    audit.record(session, user_id, "ncr.close", "ncr", ncr.number, at=at, old={"material_status": old},
                 new={"decision": decision, "material_status": item.status})
    refresh_material_hold(session, item)


def _close_others(session: Session, unit: Unit, scrapping: Nonconformance, user_id: int, at: datetime) -> None:
    """A scrapped unit's other NCRs have nothing left to decide: they close, pointing at the scrap."""
    others = session.scalars(select(Nonconformance).where(
        Nonconformance.unit_id == unit.id, Nonconformance.status.in_(OPEN), Nonconformance.id != scrapping.id))
    for other in others:
        other.status, other.closed_at = "closed", at
        audit.record(session, user_id, "ncr.close", "ncr", other.number, at=at,
                     reason=f"unit scrapped under {scrapping.number}", new={"decision": "superseded"})


def _stop_current_step(session: Session, unit: Unit, at: datetime, reason: str) -> None:
    if unit.current_execution_id is None:
        return
    execution = session.get(StepExecution, unit.current_execution_id)
    if execution is not None:
        execution.status, execution.ended_at, execution.abort_reason = "aborted", at, reason
    unit.current_execution_id = None


def place_hold(session: Session, user_id: int, serial: str, reason: str, at: datetime | None = None) -> Unit:
    """Hold a unit by hand (suspect material, a question from the customer ...)."""
    if not reason.strip():
        raise Invalid("say why the unit is held", "reason")
    at = event_time(at)
    unit = lock_unit(session, serial)
    if unit.status in ("scrapped",):
        raise Conflict(f"{serial} is scrapped", "serial")
    session.add(Hold(unit_id=unit.id, reason=reason.strip(), placed_by_id=user_id, placed_at=at))
    unit.on_hold = True
    audit.record(session, user_id, "unit.hold", "unit", serial, at=at, reason=reason.strip())
    return unit


def release_holds(session: Session, user_id: int, serial: str, reason: str, at: datetime | None = None) -> Unit:
    """Release the hand-placed holds on a unit; it stays held while an NCR on it is open."""
    if not reason.strip():
        raise Invalid("say why the hold is released", "reason")
    at = event_time(at)
    unit = lock_unit(session, serial)
    holds = session.scalars(select(Hold).where(Hold.unit_id == unit.id, Hold.released_at.is_(None))).all()
    if not holds:
        raise Conflict(f"{serial} has no hold to release", "serial")
    for hold in holds:
        hold.released_by_id, hold.released_at, hold.release_reason = user_id, at, reason.strip()
    audit.record(session, user_id, "unit.release", "unit", serial, at=at, reason=reason.strip())
    refresh_hold(session, unit)
    return unit
