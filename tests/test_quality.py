"""Quality rules through the API: NCR dispositions and MRB, holds, buy-offs, acceptance, signatures."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from mes import signatures, signoff
from mes.models import Signature
from mes.models.production import StepExecution
from tests.factories import fit, pass_steps, release

ASM = {"bearing_preload": "30.0", "retaining_nut_torque": "2.50", "visual_cleanliness": "pass"}
BAD_ASM = {**ASM, "retaining_nut_torque": "2.70"}


@pytest.fixture
def people(auth_header):  # type: ignore[no-untyped-def]
    """Headers for an operator, a supervisor and two quality engineers (all PINs 1234)."""
    return {"op": auth_header("operator", name="op.a"), "sup": auth_header("supervisor", name="sup.a"),
            "qe": auth_header("quality", name="qe.a"), "qe2": auth_header("quality", name="qe.b")}


@pytest.fixture
def serial(sessions, people) -> str:  # type: ignore[no-untyped-def]
    return release(sessions, "sup.a", "RWA", 1)[0]


def step_url(serial: str, step: str, action: str) -> str:
    return f"/api/v1/units/{serial}/steps/{step}/{action}"


@pytest.fixture
def fail_assembly(client, people, sessions):  # type: ignore[no-untyped-def]
    """Start RWA-ASM, fit its components and fail it; returns the NCR number."""
    def fail(serial: str) -> str:
        client.post(step_url(serial, "RWA-ASM", "start"), headers=people["op"], json={"station": "RWA-CR1"})
        fit(sessions, serial)
        return client.post(step_url(serial, "RWA-ASM", "complete"), headers=people["op"],
                           json={"measurements": BAD_ASM}).json["ncr"]

    return fail


def unit(client, people, serial):  # type: ignore[no-untyped-def]
    return client.get(f"/api/v1/units/{serial}", headers=people["op"]).json


def dispose(client, headers, ncr, decision, **extra):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/ncrs/{ncr}/disposition", headers=headers,
                       json={"decision": decision, "pin": "1234", **extra})


def test_rework_sends_the_unit_back_to_the_named_step_and_it_is_no_longer_first_pass(client, people, serial,
                                                                                       fail_assembly, sessions) -> None:
    ncr = fail_assembly(serial)
    response = dispose(client, people["qe"], ncr, "rework", rework_step="RWA-ASM", note="re-torque the nut")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["status"] == "closed" and body["disposition"]["signature"]["meaning"] == "mrb_disposition"
    u = unit(client, people, serial)
    assert not u["on_hold"] and not u["first_pass"] and u["next_step"]["code"] == "RWA-ASM"
    client.post(step_url(serial, "RWA-ASM", "start"), headers=people["op"], json={"station": "RWA-CR1"})
    fit(sessions, serial)
    redo = client.post(step_url(serial, "RWA-ASM", "complete"), headers=people["op"], json={"measurements": ASM})
    assert redo.json["result"] == "passed" and redo.json["execution"]["rework"] is True


def test_a_wrong_pin_signs_nothing(client, people, serial, fail_assembly, sessions) -> None:
    ncr = fail_assembly(serial)
    with sessions() as session:
        signed = session.scalar(select(func.count()).select_from(Signature))  # the releases of the fitted stock
    response = client.post(f"/api/v1/ncrs/{ncr}/disposition", headers=people["qe"],
                           json={"decision": "scrap", "pin": "9999"})
    assert response.status_code == 422 and response.json["field"] == "pin"
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Signature)) == signed
    assert client.get(f"/api/v1/ncrs/{ncr}", headers=people["qe"]).json["status"] == "open"


def test_rework_goes_back_never_forward(client, people, serial, fail_assembly) -> None:
    ncr = fail_assembly(serial)
    response = dispose(client, people["qe"], ncr, "rework", rework_step="RWA-FT")
    assert response.status_code == 422 and response.json["field"] == "rework_step"


@pytest.mark.parametrize(("decision", "next_step"), [("use_as_is", "RWA-BAL"), ("repair", "RWA-ASM")])
def test_use_as_is_and_repair_need_a_second_quality_signature(client, people, serial, fail_assembly, decision,
                                                              next_step) -> None:
    ncr = fail_assembly(serial)
    assert dispose(client, people["qe"], ncr, decision).json["field"] == "note"
    first = dispose(client, people["qe"], ncr, decision, note="within design margin per analysis A-17")
    assert first.json["status"] == "awaiting_mrb" and unit(client, people, serial)["on_hold"]
    same = client.post(f"/api/v1/ncrs/{ncr}/mrb-approval", headers=people["qe"], json={"pin": "1234"})
    assert same.status_code == 403 and "second person" in same.json["error"]
    second = client.post(f"/api/v1/ncrs/{ncr}/mrb-approval", headers=people["qe2"], json={"pin": "1234"})
    assert second.json["status"] == "closed" and second.json["disposition"]["mrb_signature"]["meaning"] == "approved"
    u = unit(client, people, serial)
    assert not u["on_hold"] and u["next_step"]["code"] == next_step  # use-as-is: on; repair: test again


def test_scrap_ends_the_unit_and_its_serial_is_never_reused(client, people, serial, fail_assembly, sessions) -> None:
    ncr = fail_assembly(serial)
    assert dispose(client, people["qe"], ncr, "scrap", note="bearing seized").json["status"] == "closed"
    assert unit(client, people, serial)["status"] == "scrapped"
    refused = client.post(step_url(serial, "RWA-ASM", "start"), headers=people["op"], json={"station": "RWA-CR1"})
    assert refused.status_code == 409 and "scrapped" in refused.json["error"]
    assert serial not in release(sessions, "sup.a", "RWA", 3)


def test_return_to_supplier_is_for_purchased_lots_only(client, people, serial, fail_assembly) -> None:
    ncr = fail_assembly(serial)
    response = dispose(client, people["qe"], ncr, "return_to_supplier")
    assert response.status_code == 422 and response.json["field"] == "decision"


def test_a_manual_ncr_holds_the_unit_and_names_a_configured_defect_code(client, people, serial) -> None:
    bad = client.post("/api/v1/ncrs", headers=people["op"], json={"serial": serial, "defect_code": "XYZ",
                                                                  "description": "dent"})
    assert bad.status_code == 422 and bad.json["field"] == "defect_code"
    ncr = client.post("/api/v1/ncrs", headers=people["op"], json={"serial": serial, "defect_code": "DMG",
                                                                  "description": "dent on the housing"})
    assert ncr.status_code == 201 and ncr.json["status"] == "open"
    assert unit(client, people, serial)["on_hold"]
    listing = client.get(f"/api/v1/ncrs?serial={serial}&status=open", headers=people["qe"]).json
    assert [n["number"] for n in listing["items"]] == [ncr.json["number"]]


def test_photos_are_images_up_to_ten_mebibytes(client, people, serial, fail_assembly) -> None:
    ncr = fail_assembly(serial)
    url = f"/api/v1/ncrs/{ncr}/photos"
    ok = client.post(url, headers={**people["op"], "Content-Type": "image/jpeg"}, data=b"\xff\xd8\xff" + b"0" * 2048)
    assert ok.status_code == 201 and ok.json["size"] == 2051
    assert client.post(url, headers={**people["op"], "Content-Type": "text/plain"}, data=b"x").status_code == 415
    big = client.post(url, headers={**people["op"], "Content-Type": "image/png"}, data=b"0" * (10 * 1024 * 1024 + 1))
    assert big.status_code == 413
    assert client.get(f"/api/v1/ncrs/{ncr}", headers=people["op"]).json["photos"] == 1


def test_a_hold_stops_work_until_released_and_an_open_ncr_keeps_it_held(client, people, serial) -> None:
    held = client.post(f"/api/v1/units/{serial}/hold", headers=people["op"], json={"reason": "customer query"})
    assert held.json["on_hold"] is True
    start = client.post(step_url(serial, "RWA-ASM", "start"), headers=people["op"], json={"station": "RWA-CR1"})
    assert start.status_code == 409
    client.post("/api/v1/ncrs", headers=people["op"], json={"serial": serial, "defect_code": "FOD",
                                                            "description": "swarf"})
    released = client.post(f"/api/v1/units/{serial}/release", headers=people["sup"], json={"reason": "answered"})
    assert released.status_code == 200 and released.json["on_hold"] is True


def test_a_signed_off_step_waits_for_a_buy_off_by_someone_who_did_not_work_on_it(client, people, serial,
                                                                                  sessions) -> None:
    client.post(step_url(serial, "RWA-ASM", "start"), headers=people["sup"], json={"station": "RWA-CR1"})
    fit(sessions, serial)
    client.post(step_url(serial, "RWA-ASM", "complete"), headers=people["sup"], json={"measurements": ASM})
    waiting = client.post(step_url(serial, "RWA-BAL", "start"), headers=people["op"], json={"station": "RWA-BAL"})
    assert waiting.status_code == 409 and "awaits its inspection buy-off" in waiting.json["error"]
    own = client.post(step_url(serial, "RWA-ASM", "buyoff"), headers=people["sup"], json={"pin": "1234"})
    assert own.status_code == 403 and "someone else" in own.json["error"]
    assert client.post(step_url(serial, "RWA-ASM", "buyoff"), headers=people["op"], json={"pin": "1234"}
                       ).status_code == 403
    signed = client.post(step_url(serial, "RWA-ASM", "buyoff"), headers=people["qe"], json={"pin": "1234"})
    assert signed.status_code == 200 and signed.json["signature"]["meaning"] == "inspected"
    assert client.post(step_url(serial, "RWA-BAL", "start"), headers=people["op"],
                       json={"station": "RWA-BAL"}).status_code == 200


def test_acceptance_is_a_signature_on_a_unit_past_its_last_step_with_no_open_ncr(client, people, serial,
                                                                                  sessions) -> None:
    early = client.post(f"/api/v1/units/{serial}/accept", headers=people["qe"], json={"pin": "1234"})
    assert early.status_code == 409
    pass_steps(sessions, "op.a", serial, 8)
    accepted = client.post(f"/api/v1/units/{serial}/accept", headers=people["qe"], json={"pin": "1234"})
    assert accepted.status_code == 200, accepted.json
    assert accepted.json["status"] == "accepted" and accepted.json["signature"]["printed_name"] == "qe.a"
    again = client.post(f"/api/v1/units/{serial}/accept", headers=people["qe"], json={"pin": "1234"})
    assert again.status_code == 409


def test_a_unit_with_an_open_ncr_cannot_be_accepted(client, people, serial, sessions) -> None:
    pass_steps(sessions, "op.a", serial, 8)
    client.post("/api/v1/ncrs", headers=people["op"], json={"serial": serial, "defect_code": "DOC",
                                                            "description": "traveller page missing"})
    refused = client.post(f"/api/v1/units/{serial}/accept", headers=people["qe"], json={"pin": "1234"})
    assert refused.status_code == 409 and "open NCR" in refused.json["error"]


def test_a_signature_copied_onto_another_record_does_not_verify(engine, sessions, people) -> None:
    first, second = release(sessions, "sup.a", "RWA", 2)
    pass_steps(sessions, "op.a", first, 1)
    pass_steps(sessions, "op.a", second, 1)
    with sessions() as session:
        a, b = session.scalars(select(StepExecution).order_by(StepExecution.id)).all()
        sig_a = session.get(Signature, a.buyoff_signature_id)
        assert signatures.verifies(sig_a, "step_execution", a.id, signoff.execution_content(a))
    with engine.begin() as connection:
        connection.execute(text("UPDATE step_executions SET buyoff_signature_id = :s WHERE id = :b"),
                           {"s": sig_a.id, "b": b.id})
    with sessions() as session:
        b = session.get(StepExecution, b.id)
        copied = session.get(Signature, b.buyoff_signature_id)
        assert not signatures.verifies(copied, "step_execution", b.id, signoff.execution_content(b))


def correct(client, headers, serial, step, name, value, pin="1234"):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/units/{serial}/steps/{step}/measurements/{name}/correct", headers=headers,
                       json={"value": value, "reason": "typed 2.70 for 2.50", "pin": pin})


def test_a_wrong_entry_is_voided_with_a_signature_and_the_right_one_recorded_beside_it(client, people, serial,
                                                                                       fail_assembly) -> None:
    fail_assembly(serial)
    fixed = correct(client, people["op"], serial, "RWA-ASM", "retaining_nut_torque", "2.50")
    assert fixed.status_code == 200, fixed.json
    assert fixed.json["voided"]["value"] == "2.70" and fixed.json["voided"]["voided"] is True
    assert fixed.json["recorded"]["value"] == "2.50" and fixed.json["recorded"]["passed"] is True
    values = [(m["name"], m["value"], m["voided"]) for m in unit(client, people, serial)["executions"][-1][
        "measurements"] if m["name"] == "retaining_nut_torque"]
    assert values == [("retaining_nut_torque", "2.70", True), ("retaining_nut_torque", "2.50", False)]


def test_a_correction_that_turns_a_pass_into_a_failure_opens_an_ncr(client, people, serial, sessions) -> None:
    client.post(step_url(serial, "RWA-ASM", "start"), headers=people["op"], json={"station": "RWA-CR1"})
    fit(sessions, serial)
    client.post(step_url(serial, "RWA-ASM", "complete"), headers=people["op"], json={"measurements": ASM})
    fixed = correct(client, people["op"], serial, "RWA-ASM", "retaining_nut_torque", "2.65")
    assert fixed.json["ncr"] is not None
    u = unit(client, people, serial)
    assert u["on_hold"] and u["executions"][-1]["status"] == "failed"


def test_signed_content_cannot_be_corrected(client, people, serial, sessions) -> None:
    client.post(step_url(serial, "RWA-ASM", "start"), headers=people["op"], json={"station": "RWA-CR1"})
    fit(sessions, serial)
    client.post(step_url(serial, "RWA-ASM", "complete"), headers=people["op"], json={"measurements": ASM})
    client.post(step_url(serial, "RWA-ASM", "buyoff"), headers=people["qe"], json={"pin": "1234"})
    refused = correct(client, people["op"], serial, "RWA-ASM", "retaining_nut_torque", "2.45")
    assert refused.status_code == 409 and "signed off" in refused.json["error"]
    assert correct(client, people["op"], serial, "RWA-ASM", "bearing_preload", "30.1", pin="0000").status_code == 409
