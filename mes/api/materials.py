"""Material routes: receiving into quarantine, release and rejection, consuming into units, removal."""
from __future__ import annotations

from mes import consumption, materials, scopes
from mes.api import material_schemas as m
from mes.api.operation import Call, operation
from mes.api.quality import signature_out
from mes.models import ReceivedItem, Signature

MATERIAL = "/materials/<part_number>/<lot>"


def material_out(call: Call, item: ReceivedItem) -> m.MaterialOut:
    decision = call.session.get(Signature, item.decision_signature_id) if item.decision_signature_id else None
    return m.MaterialOut(
        part_number=item.part.part_number, identifier=item.identifier, tracking=item.part.tracking,
        receipt=item.receipt, supplier=item.supplier, coc_reference=item.coc_reference, expiry=item.expiry,
        quantity=item.quantity, remaining=item.remaining, status=item.status, on_hold=item.on_hold,
        received_at=item.received_at, decision=signature_out(decision) if decision else None,
        decision_note=item.decision_note)


@operation("POST", "/receipts", summary="Receive a supplier lot, or serials, into quarantine", status=201,
           body=m.ReceiptIn, response=m.ReceiptOut, permission="material.receive")
def receive(call: Call) -> m.ReceiptOut:
    b = call.body
    items = materials.receive(call.session, call.user_id, b.part_number, b.supplier, b.coc_reference, lot=b.lot,
                              quantity=b.quantity, serials=b.serials, expiry=b.expiry)
    return m.ReceiptOut(receipt=items[0].receipt, items=[material_out(call, i) for i in items])


@operation("GET", "/materials", summary="Received lots and serials by part number, status or supplier, newest "
           "first (paginated)", query=m.MaterialQuery, response=m.MaterialPage, permission="read")
def list_materials(call: Call) -> m.MaterialPage:
    q = call.query
    rows, total = materials.list_items(call.session, part_number=q.part_number, status=q.status,
                                       supplier=q.supplier, page=q.page, per_page=q.per_page)
    return m.MaterialPage(items=[material_out(call, i) for i in rows], page=q.page, per_page=q.per_page,
                          total=total)


@operation("GET", MATERIAL, summary="One received lot or serial", response=m.MaterialOut, permission="read")
def get_material(call: Call, part_number: str, lot: str) -> m.MaterialOut:
    return material_out(call, materials.get_item(call.session, part_number, lot))


@operation("POST", f"{MATERIAL}/release", summary="Release quarantined material for use (quality signature)",
           body=m.DecisionIn, response=m.MaterialOut, permission="lot.release")
def release_material(call: Call, part_number: str, lot: str) -> m.MaterialOut:
    b = call.body
    return material_out(call, materials.release(call.session, call.user_id, part_number, lot, b.pin, b.note))


@operation("POST", f"{MATERIAL}/reject", summary="Reject quarantined material at receiving inspection (signed)",
           body=m.RejectIn, response=m.MaterialOut, permission="lot.release")
def reject_material(call: Call, part_number: str, lot: str) -> m.MaterialOut:
    b = call.body
    return material_out(call, materials.reject(call.session, call.user_id, part_number, lot, b.pin, b.note))


@operation("POST", "/units/<serial>/steps/<step>/consumptions", summary="Build a component into the unit at its "
           "running step: a unit serial, or a lot or serial received, as the step's bill of material names",
           status=201, body=m.ConsumeIn, response=m.ConsumptionOut, permission="step.complete")
def consume(call: Call, serial: str, step: str) -> m.ConsumptionOut:
    b = call.body
    scopes.check_unit(call.session, call.caller, serial)
    c = consumption.consume(call.session, call.user_id, serial, step, b.component, b.part_number, b.quantity)
    return m.ConsumptionOut(serial=serial, step=step, part_number=c.bom_item.part_number, component=b.component,
                            quantity=c.quantity, consumed_at=c.consumed_at,
                            still_needed=consumption.shortfall(call.session, c.execution))


@operation("POST", "/units/<serial>/components/<component>/removal", summary="Take a component out of a unit "
           "(rework); the record stays and a removed unit is held", body=m.RemovalIn, response=m.ConsumptionOut,
           permission="component.remove")
def remove_component(call: Call, serial: str, component: str) -> m.ConsumptionOut:
    scopes.check_unit(call.session, call.caller, serial)
    c = consumption.remove_component(call.session, call.user_id, serial, component, call.body.reason)
    return m.ConsumptionOut(serial=serial, step=c.step_code, part_number=c.bom_item.part_number, component=component,
                            quantity=c.quantity, consumed_at=c.consumed_at,
                            still_needed=consumption.shortfall(call.session, c.execution))
