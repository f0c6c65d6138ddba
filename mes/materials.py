"""Received material: a supplier lot or serial arrives in quarantine; quality releases or rejects it, signed.

Only released, unexpired material with no open NCR can be consumed (mes/consumption.py checks that).
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from mes import audit, signatures
from mes.clock import event_time
from mes.errors import Conflict, Invalid, NotFound
from mes.models import Part, ReceivedItem
from mes.plant_time import plant_date
from mes.serials import document_number

MAX_SERIALS_PER_RECEIPT = 500
STATUSES = ("quarantine", "released", "rejected", "returned", "scrapped")


def get_part(session: Session, part_number: str) -> Part:
    part = session.scalars(select(Part).filter_by(part_number=part_number, active=True)).one_or_none()
    if part is None:
        raise Invalid(f"unknown part number {part_number!r}", "part_number")
    return part


def receive(session: Session, user_id: int, part_number: str, supplier: str, coc_reference: str, *,
            lot: str | None = None, quantity: int | None = None, serials: list[str] | None = None,
            expiry: date | None = None, at: datetime | None = None) -> list[ReceivedItem]:
    """Book an arrival into quarantine: one lot with its quantity, or one row per serial."""
    at = event_time(at)
    part = get_part(session, part_number)
    if not supplier.strip():
        raise Invalid("name the supplier", "supplier")
    if not coc_reference.strip():
        raise Invalid("give the certificate of conformity reference", "coc_reference")
    if expiry is not None and expiry < plant_date(session, at):
        raise Invalid(f"this material expired on {expiry.isoformat()}", "expiry")
    if part.tracking == "lot":
        if not lot or serials:
            raise Invalid(f"{part_number} is received by lot: give lot and quantity, not serials", "lot")
        if not quantity or quantity < 1:
            raise Invalid("give the quantity received (at least 1)", "quantity")
        identifiers = [(lot.strip(), quantity)]
    else:
        if not serials or lot:
            raise Invalid(f"{part_number} is serialised: give its serials, not a lot", "serials")
        if quantity is not None and quantity != len(serials):
            raise Invalid(f"{len(serials)} serials given for a quantity of {quantity}", "quantity")
        if len(serials) > MAX_SERIALS_PER_RECEIPT:
            raise Invalid(f"at most {MAX_SERIALS_PER_RECEIPT} serials per receipt", "serials")
        if len({s.strip() for s in serials}) != len(serials):
            raise Invalid("a serial is listed twice", "serials")
        identifiers = [(s.strip(), 1) for s in serials]
    taken = session.scalars(select(ReceivedItem.identifier).where(
        ReceivedItem.part_id == part.id, ReceivedItem.identifier.in_([i for i, _ in identifiers]))).all()
    if taken:
        raise Conflict(f"{part_number} {', '.join(sorted(taken))} was already received", "lot" if lot else "serials")
    receipt = document_number(session, "RCV", at)
    items = [ReceivedItem(receipt=receipt, part_id=part.id, identifier=ident, supplier=supplier.strip(),
                          coc_reference=coc_reference.strip(), expiry=expiry, quantity=qty, remaining=qty,
                          status="quarantine", received_by_id=user_id, received_at=at)
             for ident, qty in identifiers]
    session.add_all(items)
    session.flush()
    audit.record(session, user_id, "material.receive", "receipt", receipt, at=at, new={
        "part_number": part_number, "supplier": supplier.strip(), "coc_reference": coc_reference.strip(),
        "identifiers": [i for i, _ in identifiers], "quantity": sum(q for _, q in identifiers),
        "expiry": expiry.isoformat() if expiry else None})
    return items


def get_item(session: Session, part_number: str, identifier: str, *, lock: bool = False) -> ReceivedItem:
    """One received lot or serial by part number and identifier."""
    query = (select(ReceivedItem).join(Part).where(Part.part_number == part_number,
                                                    ReceivedItem.identifier == identifier)
             .options(selectinload(ReceivedItem.part)))
    if lock:
        query = query.with_for_update(of=ReceivedItem).execution_options(populate_existing=True)
    item = session.scalars(query).one_or_none()
    if item is None:
        raise NotFound(f"no received {part_number} {identifier!r}", "identifier")
    return item


def find_items(session: Session, identifier: str, part_number: str | None = None) -> list[ReceivedItem]:
    """Every received lot or serial with this identifier (of one part number, if given)."""
    query = (select(ReceivedItem).join(Part).where(ReceivedItem.identifier == identifier)
             .options(selectinload(ReceivedItem.part)).order_by(Part.part_number))
    if part_number:
        query = query.where(Part.part_number == part_number)
    return list(session.scalars(query))


def list_items(session: Session, *, part_number: str | None, status: str | None, supplier: str | None,
               page: int, per_page: int) -> tuple[list[ReceivedItem], int]:
    """Received lots and serials, newest first, one page at a time, with the total."""
    query = select(ReceivedItem).join(Part)
    if part_number:
        query = query.where(Part.part_number == part_number)
    if status:
        query = query.where(ReceivedItem.status == status)
    if supplier:
        query = query.where(ReceivedItem.supplier == supplier)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.options(selectinload(ReceivedItem.part))
                           .order_by(ReceivedItem.received_at.desc(), ReceivedItem.id.desc())
                           .offset((page - 1) * per_page).limit(per_page)).all()
    return list(rows), total


def item_content(item: ReceivedItem) -> dict[str, Any]:
    """What a release or rejection signs: the item as received."""
    return {"part_number": item.part.part_number, "identifier": item.identifier, "receipt": item.receipt,
            "supplier": item.supplier, "coc_reference": item.coc_reference, "quantity": item.quantity,
            "expiry": item.expiry.isoformat() if item.expiry else None}


def release(session: Session, user_id: int, part_number: str, identifier: str, secret: str | None,
            note: str = "", at: datetime | None = None) -> ReceivedItem:
    """Quality releases quarantined material for use (signed); expired or NCR-held material is refused."""
    at = event_time(at)
    item = get_item(session, part_number, identifier, lock=True)
    if item.status != "quarantine":
        raise Conflict(f"{part_number} {identifier} is {item.status}, not in quarantine", "identifier")
    if item.on_hold:
        raise Conflict(f"{part_number} {identifier} has an open NCR", "identifier")
    if item.expiry is not None and item.expiry < plant_date(session, at):
        raise Conflict(f"{part_number} {identifier} expired on {item.expiry.isoformat()}", "identifier")
    return _decide(session, user_id, item, "released", "approved", secret, note, at)


def reject(session: Session, user_id: int, part_number: str, identifier: str, secret: str | None,
           note: str, at: datetime | None = None) -> ReceivedItem:
    """Quality rejects quarantined material at receiving inspection (signed, with the reason)."""
    at = event_time(at)
    if not note.strip():
        raise Invalid("say why the material is rejected", "note")
    item = get_item(session, part_number, identifier, lock=True)
    if item.status != "quarantine":
        raise Conflict(f"{part_number} {identifier} is {item.status}, not in quarantine", "identifier")
    return _decide(session, user_id, item, "rejected", "rejected", secret, note, at)


def _decide(session: Session, user_id: int, item: ReceivedItem, status: str, meaning: str, secret: str | None,
            note: str, at: datetime) -> ReceivedItem:
    signature = signatures.sign(session, user_id, secret, meaning, "received_item", item.id,
                                {**item_content(item), "decision": status, "note": note.strip()}, at)
    old = item.status
    item.status, item.decision_signature_id, item.decision_note = status, signature.id, note.strip() or None
    audit.record(session, user_id, f"material.{'release' if status == 'released' else 'reject'}", "received_item",
                 f"{item.part.part_number} {item.identifier}", at=at, reason=note.strip() or None,
                 old={"status": old}, new={"status": status, "signature": signature.id})
    session.flush()
    return item


def quarantine(session: Session, user_id: int, item: ReceivedItem, reason: str, at: datetime) -> None:
    """Put released material back into quarantine (a containment); it needs a new release to be used."""
    if item.status != "released":
        return
    item.status = "quarantine"
    audit.record(session, user_id, "material.quarantine", "received_item",
                 f"{item.part.part_number} {item.identifier}", at=at, reason=reason,
                 old={"status": "released"}, new={"status": "quarantine"})
