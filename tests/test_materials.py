"""Received material and bills of material: quarantine, release, expiry, lot NCRs, consuming once."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from mes.models import Consumption, ReceivedItem
from tests.factories import fit, release, stock

BEARINGS = "BRG-7002-P"  # lot-tracked, one pair per wheel at RWA-ASM
MOTOR = "MOT-BLDC-RW40"  # serialised, one per wheel at RWA-ASM
NOT_IN_RWA_BOM = "CEL-18650-35"


@pytest.fixture
def people(auth_header):  # type: ignore[no-untyped-def]
    return {"op": auth_header("operator", name="op.a"), "sup": auth_header("supervisor", name="sup.a"),
            "qe": auth_header("quality", name="qe.a")}


@pytest.fixture
def serial(sessions, people, client) -> str:  # type: ignore[no-untyped-def]
    """A wheel in its assembly step, nothing scanned yet."""
    serial = release(sessions, "sup.a", "RWA", 1)[0]
    started = client.post(f"/api/v1/units/{serial}/steps/RWA-ASM/start", headers=people["op"],
                          json={"station": "RWA-CR1"})
    assert started.status_code == 200, started.json
    return serial


def receive(client, people, part=BEARINGS, **body):  # type: ignore[no-untyped-def]
    body = {"part_number": part, "supplier": "Schaeffler", "coc_reference": "COC-2291", **body}
    if "serials" not in body and "lot" not in body:
        body.update(lot="L-2291", quantity=50)
    return client.post("/api/v1/receipts", headers=people["sup"], json=body)


def release_lot(client, people, lot="L-2291", part=BEARINGS, pin="1234"):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/materials/{part}/{lot}/release", headers=people["qe"], json={"pin": pin})


def consume(client, people, serial, component, **extra):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/units/{serial}/steps/RWA-ASM/consumptions", headers=people["op"],
                       json={"component": component, **extra})


def test_received_lot_waits_in_quarantine_until_quality_signs_its_release(client, people, serial) -> None:
    received = receive(client, people)
    assert received.status_code == 201, received.json
    lot = received.json["items"][0]
    assert lot["status"] == "quarantine" and lot["remaining"] == 50 and received.json["receipt"].startswith("RCV-")
    refused = consume(client, people, serial, "L-2291")
    assert refused.status_code == 409 and "quarantine" in refused.json["error"]
    assert release_lot(client, people, pin="9999").json["field"] == "pin"
    released = release_lot(client, people)
    assert released.status_code == 200 and released.json["status"] == "released"
    assert released.json["decision"]["printed_name"] and released.json["decision"]["meaning"] == "approved"
    used = consume(client, people, serial, "L-2291")
    assert used.status_code == 201, used.json
    assert used.json["part_number"] == BEARINGS and used.json["still_needed"] != []
    assert client.get(f"/api/v1/materials/{BEARINGS}/L-2291", headers=people["op"]).json["remaining"] == 49


def test_rejected_material_can_never_be_used(client, people, serial) -> None:
    receive(client, people)
    without_reason = client.post(f"/api/v1/materials/{BEARINGS}/L-2291/reject", headers=people["qe"],
                                 json={"pin": "1234"})
    assert without_reason.status_code == 422 and without_reason.json["field"] == "note"
    rejected = client.post(f"/api/v1/materials/{BEARINGS}/L-2291/reject", headers=people["qe"],
                           json={"pin": "1234", "note": "certificate does not match the lot"})
    assert rejected.json["status"] == "rejected" and rejected.json["decision"]["meaning"] == "rejected"
    assert release_lot(client, people).status_code == 409
    assert "rejected" in consume(client, people, serial, "L-2291").json["error"]


def test_expired_material_is_refused_at_receiving_and_at_use(client, people, serial, sessions) -> None:
    past = receive(client, people, expiry=(date.today() - timedelta(days=2)).isoformat())
    assert past.status_code == 422 and past.json["field"] == "expiry"
    assert receive(client, people, expiry=(date.today() + timedelta(days=30)).isoformat()).status_code == 201
    assert release_lot(client, people).status_code == 200
    with sessions.begin() as session:  # the shelf life runs out while the lot sits on the shelf
        session.execute(update(ReceivedItem).values(expiry=date.today() - timedelta(days=2)))
    refused = consume(client, people, serial, "L-2291")
    assert refused.status_code == 409 and "expired" in refused.json["error"]


@pytest.mark.parametrize(("part", "body", "field"), [
    (BEARINGS, {"serials": ["B-1"]}, "lot"),
    (MOTOR, {"lot": "L-1", "quantity": 3}, "serials"),
    (MOTOR, {"serials": ["M-1", "M-1"]}, "serials"),
    ("NO-SUCH-PART", {"lot": "L-1", "quantity": 3}, "part_number"),
    (BEARINGS, {"lot": "L/1", "quantity": 3}, "lot"),
    (BEARINGS, {"lot": "L-1"}, None),
])
def test_receiving_checks_lots_against_serials_naming_the_field(client, people, plant, part, body, field) -> None:
    response = receive(client, people, part, **body)
    assert response.status_code == 422
    if field:
        assert response.json["field"] == field


def test_the_same_lot_is_not_received_twice(client, people, plant) -> None:
    assert receive(client, people).status_code == 201
    again = receive(client, people)
    assert again.status_code == 409 and "already received" in again.json["error"]


def test_ncr_on_a_lot_holds_it_until_it_goes_back_to_the_supplier(client, people, serial) -> None:
    receive(client, people)
    release_lot(client, people)
    raised = client.post("/api/v1/ncrs", headers=people["op"], json={
        "part_number": BEARINGS, "lot": "L-2291", "defect_code": "DMG", "description": "dented cage on 3 pairs"})
    assert raised.status_code == 201, raised.json
    ncr = raised.json
    assert ncr["serial"] is None and ncr["lot"] == "L-2291" and ncr["part_number"] == BEARINGS
    assert client.get(f"/api/v1/materials/{BEARINGS}/L-2291", headers=people["op"]).json["on_hold"] is True
    assert "open NCR" in consume(client, people, serial, "L-2291").json["error"]
    url = f"/api/v1/ncrs/{ncr['number']}/disposition"
    rework = client.post(url, headers=people["qe"], json={"decision": "rework", "pin": "1234"})
    assert rework.status_code == 422 and rework.json["field"] == "decision"
    returned = client.post(url, headers=people["qe"], json={"decision": "return_to_supplier", "pin": "1234",
                                                            "note": "supplier to replace"})
    assert returned.status_code == 200 and returned.json["status"] == "closed"
    lot = client.get(f"/api/v1/materials/{BEARINGS}/L-2291", headers=people["op"]).json
    assert lot["status"] == "returned" and lot["on_hold"] is False
    assert "returned" in consume(client, people, serial, "L-2291").json["error"]


def test_a_built_unit_cannot_be_returned_to_a_supplier(client, people, serial) -> None:
    raised = client.post("/api/v1/ncrs", headers=people["op"], json={
        "serial": serial, "defect_code": "DMG", "description": "scratched housing"}).json
    refused = client.post(f"/api/v1/ncrs/{raised['number']}/disposition", headers=people["qe"],
                          json={"decision": "return_to_supplier", "pin": "1234"})
    assert refused.status_code == 422 and refused.json["field"] == "decision"


def test_consuming_what_the_bill_of_material_does_not_name_is_refused(client, people, serial, sessions) -> None:
    with sessions.begin() as session:
        stock(session, NOT_IN_RWA_BOM)
        lot = stock(session, BEARINGS).identifier
    with sessions() as session:
        cells = session.scalars(select(ReceivedItem.identifier).where(ReceivedItem.identifier.contains("CEL-"))).one()
    refused = consume(client, people, serial, cells)
    assert refused.status_code == 422 and "does not name" in refused.json["error"]
    assert consume(client, people, serial, lot).status_code == 201
    too_many = consume(client, people, serial, lot)
    assert too_many.status_code == 409 and "already built in" in too_many.json["error"]
    unknown = consume(client, people, serial, "NOTHING-LIKE-THIS")
    assert unknown.status_code == 404 and unknown.json["field"] == "component"


def test_consuming_at_a_step_not_under_way_is_refused(client, people, sessions, plant) -> None:
    idle = release(sessions, "sup.a", "RWA", 1)[0]
    with sessions.begin() as session:
        lot = stock(session, BEARINGS).identifier
    refused = consume(client, people, idle, lot)
    assert refused.status_code == 409 and refused.json["field"] == "step"


def test_a_purchased_serial_is_consumed_once(client, people, serial, sessions) -> None:
    with sessions.begin() as session:
        motor = stock(session, MOTOR).identifier
    other = release(sessions, "sup.a", "RWA", 1)[0]
    client.post(f"/api/v1/units/{other}/steps/RWA-ASM/start", headers=people["op"], json={"station": "RWA-CR1"})
    assert consume(client, people, serial, motor).status_code == 201
    again = consume(client, people, other, motor)
    assert again.status_code == 409 and "already consumed" in again.json["error"]


def test_twenty_units_racing_for_one_serial_exactly_one_gets_it(app, client, people, sessions) -> None:
    serials = release(sessions, "sup.a", "RWA", 20)
    for s in serials:
        client.post(f"/api/v1/units/{s}/steps/RWA-ASM/start", headers=people["op"], json={"station": "RWA-CR1"})
    with sessions.begin() as session:
        motor = stock(session, MOTOR).identifier
    barrier = threading.Barrier(len(serials))

    def grab(s: str) -> int:
        local = app.test_client()
        barrier.wait()
        return local.post(f"/api/v1/units/{s}/steps/RWA-ASM/consumptions", headers=people["op"],
                          json={"component": motor}).status_code

    with ThreadPoolExecutor(len(serials)) as pool:
        statuses = list(pool.map(grab, serials))
    assert sorted(statuses) == [201] + [409] * 19
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Consumption)) == 1
        assert session.scalars(select(ReceivedItem.remaining).filter_by(identifier=motor)).one() == 0


def test_a_unit_with_its_bill_of_material_scanned_completes(client, people, serial, sessions) -> None:
    fit(sessions, serial)
    values = {"bearing_preload": "30.0", "retaining_nut_torque": "2.50", "visual_cleanliness": "pass"}
    done = client.post(f"/api/v1/units/{serial}/steps/RWA-ASM/complete", headers=people["op"],
                       json={"measurements": values})
    assert done.status_code == 200, done.json
