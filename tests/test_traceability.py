"""Genealogy down, trace up, containment, satellites and allocation rules, as-built records."""
from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select

from mes import execution, signoff
from mes.models import AuditRow, ReceivedItem, RoutingRevision, RoutingStep, UnitType
from mes.plant_config import load_plant_config
from mes.plant_loader import load_plant
from tests.conftest import CONFIG_DIR
from tests.factories import build_accepted, fit, good_values, inspector_id, next_step, pass_steps, release, user_id

AIC_FILE = "15-ai-compute-module.toml"
# The last consumes entry of AIC-INT; the nested plant adds a GNSS receiver after it.
AIC_INT_LAST_PART = '''  part_number = "TPD-GAP-5"
  qty = 1
'''
GNSS_PCB = "PCB-GNSS-RX"


@pytest.fixture
def people(auth_header):  # type: ignore[no-untyped-def]
    return {"op": auth_header("operator", name="op.a"), "sup": auth_header("supervisor", name="sup.a"),
            "qe": auth_header("quality", name="qe.a"), "view": auth_header("viewer", name="view.a")}


@pytest.fixture
def nested_plant(plant, sessions, tmp_path, people):  # type: ignore[no-untyped-def]
    """The default plant, but the AI compute module carries a GNSS receiver built on line 13."""
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    path = config / "lines" / AIC_FILE
    text = path.read_text()
    assert text.count(AIC_INT_LAST_PART) == 1
    path.write_text(text.replace(AIC_INT_LAST_PART, AIC_INT_LAST_PART + '''  [[routing.steps.consumes]]
  part_number = "GNSS-1300"
  qty = 1
'''))
    with sessions.begin() as session:
        load_plant(session, load_plant_config(config))


def build_compute_module(sessions, client, people, gnss: str) -> str:  # type: ignore[no-untyped-def]
    """An accepted AI compute module with the GNSS receiver `gnss` built in at AIC-INT (over the API)."""
    aic = release(sessions, "sup.a", "AIC", 1)[0]
    pass_steps(sessions, "op.a", aic, 1)
    with sessions.begin() as session:
        step = next_step(session, aic)
        assert step.code == "AIC-INT"
        execution.start_step(session, user_id(session, "op.a"), aic, step.code, step.stations[0].code)
        values, signed = good_values(step), step.signoff
    built_in = client.post(f"/api/v1/units/{aic}/steps/AIC-INT/consumptions", headers=people["op"],
                           json={"component": gnss})
    assert built_in.status_code == 201, built_in.json
    fit(sessions, aic)
    with sessions.begin() as session:
        execution.complete_step(session, user_id(session, "op.a"), aic, "AIC-INT", values)
        if signed:
            signoff.buy_off(session, inspector_id(session), aic, "AIC-INT", "1234")
    with sessions() as session:
        following = next_step(session, aic)
        left = len([s for s in following.revision.steps if s.sequence >= following.sequence])
    pass_steps(sessions, "op.a", aic, left)
    with sessions.begin() as session:
        signoff.accept(session, inspector_id(session), aic, "1234")
    return aic


def new_satellite(client, people, build="SAT-001"):  # type: ignore[no-untyped-def]
    created = client.post("/api/v1/satellites", headers=people["sup"],
                          json={"build": build, "programme": "CompSat", "need_date": "2027-06-30"})
    assert created.status_code == 201, created.json
    return created.json


def allocate(client, people, build, serial, **extra):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/satellites/{build}/allocations", headers=people["sup"],
                       json={"serial": serial, **extra})


@pytest.fixture
def kitted(nested_plant, sessions, client, people):  # type: ignore[no-untyped-def]
    """A GNSS receiver built into a compute module, allocated to satellite SAT-001."""
    gnss = build_accepted(sessions, "sup.a", "GNSS")
    aic = build_compute_module(sessions, client, people, gnss)
    new_satellite(client, people)
    assert allocate(client, people, "SAT-001", aic).status_code == 201
    with sessions() as session:
        pcb_lot = session.scalars(select(ReceivedItem.identifier).where(
            ReceivedItem.identifier.endswith(GNSS_PCB))).one()
    return {"gnss": gnss, "aic": aic, "pcb_lot": pcb_lot}


def test_trace_from_a_lot_goes_up_through_every_level_to_the_satellite(client, people, kitted) -> None:
    found = client.get(f"/api/v1/trace/{kitted['pcb_lot']}", headers=people["view"])
    assert found.status_code == 200, found.json
    body = found.json
    assert body["subject"] == {"kind": "lot", "part_number": GNSS_PCB, "identifier": kitted["pcb_lot"],
                               "status": "released"}
    assert [(u["serial"], u["level"], u["contains"], u["satellite"]) for u in body["units"]] == [
        (kitted["gnss"], 1, kitted["pcb_lot"], "SAT-001"), (kitted["aic"], 2, kitted["gnss"], "SAT-001")]
    assert [(s["build"], s["serials"]) for s in body["satellites"]] == [("SAT-001", [kitted["aic"]])]


def test_genealogy_goes_down_through_every_level_with_lots_suppliers_and_steps(client, people, kitted) -> None:
    tree = client.get(f"/api/v1/units/{kitted['aic']}/genealogy", headers=people["view"]).json
    receiver = next(c for c in tree["components"] if c["kind"] == "unit")
    assert receiver["identifier"] == kitted["gnss"] and receiver["step"] == "AIC-INT"
    pcb = next(c for c in receiver["components"] if c["part_number"] == GNSS_PCB)
    assert pcb["kind"] == "lot" and pcb["identifier"] == kitted["pcb_lot"] and pcb["supplier"]
    assert pcb["coc_reference"] and pcb["receipt"].startswith("RCV-") and pcb["step"] == "GNSS-SMT"
    purchased = {c["part_number"] for c in tree["components"] if c["kind"] != "unit"}
    assert {"ACC-MOD-200T", "FPGA-RT-4000"} <= purchased


def test_a_lot_number_shared_by_two_parts_needs_the_part_number(client, people, plant, sessions) -> None:
    for part in ("BRG-7002-P", "CON-MDM-25S"):
        response = client.post("/api/v1/receipts", headers=people["sup"], json={
            "part_number": part, "supplier": "Acme", "coc_reference": "C-1", "lot": "L-7", "quantity": 5})
        assert response.status_code == 201
    ambiguous = client.get("/api/v1/trace/L-7", headers=people["view"])
    assert ambiguous.status_code == 422 and ambiguous.json["field"] == "part_number"
    assert "BRG-7002-P" in ambiguous.json["error"] and "CON-MDM-25S" in ambiguous.json["error"]
    chosen = client.get("/api/v1/trace/L-7?part_number=CON-MDM-25S", headers=people["view"])
    assert chosen.status_code == 200 and chosen.json["units"] == []
    assert client.get("/api/v1/trace/NOTHING", headers=people["view"]).status_code == 404


def test_containment_holds_every_affected_unit_and_flags_the_satellite(client, people, kitted, sessions) -> None:
    body = {"serial_or_lot": kitted["pcb_lot"], "reason": "supplier reports delamination", "pin": "1234"}
    assert client.post("/api/v1/containments", headers=people["qe"], json={**body, "pin": "0"}).status_code == 422
    assert client.get(f"/api/v1/units/{kitted['aic']}", headers=people["op"]).json["on_hold"] is False
    placed = client.post("/api/v1/containments", headers=people["qe"], json=body)
    assert placed.status_code == 201, placed.json
    c = placed.json
    assert sorted(c["units"]) == sorted([kitted["gnss"], kitted["aic"]]) and c["satellites"] == ["SAT-001"]
    assert c["signature"]["meaning"] == "containment" and c["holds_standing"] == 2
    for serial in (kitted["gnss"], kitted["aic"]):
        assert client.get(f"/api/v1/units/{serial}", headers=people["op"]).json["on_hold"] is True
    assert client.get("/api/v1/satellites/SAT-001", headers=people["op"]).json["containments"] == [c["number"]]
    lot = client.get(f"/api/v1/materials/{GNSS_PCB}/{kitted['pcb_lot']}", headers=people["op"]).json
    assert lot["status"] == "quarantine"
    released = client.post(f"/api/v1/units/{kitted['aic']}/release", headers=people["qe"],
                           json={"reason": "X-ray shows no delamination"})
    assert released.status_code == 200
    assert client.get(f"/api/v1/containments/{c['number']}", headers=people["op"]).json["holds_standing"] == 1
    with sessions() as session:
        row = session.scalars(select(AuditRow).filter_by(action="containment.place")).one()
        assert row.entity_id == c["number"] and row.reason == "supplier reports delamination"


def test_allocation_takes_only_free_accepted_units_into_free_positions(client, people, plant, sessions) -> None:
    new_satellite(client, people)
    new_satellite(client, people, "SAT-002")
    in_work = release(sessions, "sup.a", "MAG", 1)[0]
    refused = allocate(client, people, "SAT-001", in_work)
    assert refused.status_code == 409 and "accepted" in refused.json["error"]
    first, second, third = (build_accepted(sessions, "sup.a", "MAG") for _ in range(3))
    placed = allocate(client, people, "SAT-001", first)
    assert placed.status_code == 201 and placed.json["position"] == 1
    assert allocate(client, people, "SAT-002", first).status_code == 409  # one satellite at a time
    assert allocate(client, people, "SAT-001", second, position=1).status_code == 409  # filled
    assert allocate(client, people, "SAT-001", second, position=3).json["field"] == "position"  # MAG: 2 per sat
    assert allocate(client, people, "SAT-001", second).json["position"] == 2
    full = allocate(client, people, "SAT-001", third)
    assert full.status_code == 409 and "filled" in full.json["error"]
    client.post(f"/api/v1/units/{third}/hold", headers=people["qe"], json={"reason": "customer query"})
    assert "hold" in allocate(client, people, "SAT-002", third).json["error"]
    sat = client.get("/api/v1/satellites/SAT-001", headers=people["view"]).json
    assert sat["filled"] == 2 and sat["missing"] == 28
    assert [p["serial"] for p in sat["positions"] if p["part_number"] == "MAG-500"] == [first, second]


def test_deallocation_is_signed_and_frees_the_position(client, people, plant, sessions) -> None:
    new_satellite(client, people)
    unit = build_accepted(sessions, "sup.a", "MAG")
    allocate(client, people, "SAT-001", unit)
    url = "/api/v1/satellites/SAT-001/deallocations"
    assert client.post(url, headers=people["sup"], json={"serial": unit, "reason": "x", "pin": "9"}).status_code == 422
    taken_out = client.post(url, headers=people["sup"], json={"serial": unit, "reason": "connector damage on "
                                                                                       "integration", "pin": "1234"})
    assert taken_out.status_code == 200 and taken_out.json["removal_reason"].startswith("connector")
    assert client.get("/api/v1/satellites/SAT-001", headers=people["view"]).json["filled"] == 0
    with sessions() as session:
        assert session.scalars(select(AuditRow.action).filter_by(entity="satellite", entity_id="SAT-001")
                               .order_by(AuditRow.seq)).all()[-1] == "satellite.deallocate"
    assert allocate(client, people, "SAT-001", unit).status_code == 201


def test_a_unit_built_into_another_is_neither_consumed_again_nor_allocated(client, people, kitted, sessions) -> None:
    refused = allocate(client, people, "SAT-001", kitted["gnss"])
    assert refused.status_code == 409 and kitted["aic"] in refused.json["error"]


def test_unit_as_built_holds_every_record_of_its_build(client, people, plant, sessions) -> None:
    serial = release(sessions, "sup.a", "MAG", 1)[0]
    with sessions.begin() as session:
        step = next_step(session, serial)
        execution.start_step(session, user_id(session, "op.a"), serial, step.code, step.stations[0].code)
    fit(sessions, serial)
    with sessions.begin() as session:
        variable = next(c for c in step.characteristics if c.kind == "variable")
        beyond = f"{variable.upper}9" if variable.upper else f"-{variable.lower}9"  # past a limit, whichever
        bad = {**good_values(step), variable.name: beyond}
        failed = execution.complete_step(session, user_id(session, "op.a"), serial, step.code, bad)
        assert not failed.passed
        ncr = failed.ncr.number
    assert client.post(f"/api/v1/ncrs/{ncr}/disposition", headers=people["qe"], json={
        "decision": "rework", "rework_step": step.code, "pin": "1234", "note": "rebuild"}).status_code == 200
    with sessions() as session:
        steps = len(next_step(session, serial).revision.steps)
    pass_steps(sessions, "op.a", serial, steps)
    with sessions.begin() as session:
        signoff.accept(session, inspector_id(session), serial, "1234")
    record = client.get(f"/api/v1/units/{serial}/as-built", headers=people["view"])
    assert record.status_code == 200, record.json
    r = record.json
    assert r["status"] == "accepted" and r["first_pass"] is False and r["acceptance"]["meaning"] == "approved"
    assert r["routing_revision"] == 1 and r["work_order"].startswith("WO-")
    assert [e["status"] for e in r["executions"]] == ["failed"] + ["passed"] * steps
    assert all(e["people"] and e["station"] and e["events"] for e in r["executions"])
    measured = r["executions"][0]["measurements"]
    assert {m["name"] for m in measured} == {c.name for c in step.characteristics}
    assert any(not m["passed"] and (m["lower"] or m["upper"]) for m in measured)
    assert r["ncrs"][0]["number"] == ncr and r["ncrs"][0]["decision"] == "rework"
    assert r["ncrs"][0]["signature"]["meaning"] == "mrb_disposition"
    with sessions() as session:
        signed_steps = {s.code for s in session.scalars(
            select(RoutingStep).join(RoutingRevision).join(UnitType)
            .where(UnitType.part_number == r["part_number"], RoutingStep.signoff.is_(True)))}
    assert signed_steps, "the magnetometer routing has inspection buy-offs"
    assert all(e["buyoff"]["meaning"] == "inspected" for e in r["executions"]
               if e["step"] in signed_steps and e["status"] == "passed")
    assert r["components"] and all(c["supplier"] for c in r["components"])


def test_satellite_as_built_includes_every_unit_in_it_down_the_tree(client, people, kitted) -> None:
    record = client.get("/api/v1/satellites/SAT-001/as-built", headers=people["view"])
    assert record.status_code == 200, record.json
    r = record.json
    assert r["filled"] == 1 and r["missing"] == 29
    assert [u["serial"] for u in r["units"]] == [kitted["aic"], kitted["gnss"]]
    gnss = r["units"][1]
    assert gnss["built_into"] == kitted["aic"] and gnss["satellite"] is None
    assert r["units"][0]["satellite"] == "SAT-001" and r["units"][0]["acceptance"] is not None
    assert client.get("/api/v1/satellites/NOPE/as-built", headers=people["view"]).status_code == 404
