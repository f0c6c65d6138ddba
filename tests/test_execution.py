"""Execution rules, through the JSON API: work orders, step order, measurements, holds, pauses, aborts."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from mes.models.production import Measurement, Nonconformance
from tests.factories import fit, pass_steps

RWA_ASM = {"bearing_preload": "30.0", "retaining_nut_torque": "2.50", "visual_cleanliness": "pass"}


@pytest.fixture
def supervisor(auth_header):  # type: ignore[no-untyped-def]
    return auth_header("supervisor", name="sup.a")


@pytest.fixture
def operator(auth_header):  # type: ignore[no-untyped-def]
    return auth_header("operator", name="op.a")


@pytest.fixture
def serial(client, supervisor) -> str:  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/work-orders", headers=supervisor,
                           json={"unit_type": "RWA-100", "quantity": 1, "due": "2027-01-31"})
    return response.json["serials"][0]


def start(client, headers, serial, step="RWA-ASM", station="RWA-CR1", **extra):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/units/{serial}/steps/{step}/start", headers=headers,
                       json={"station": station, **extra})


def complete(client, headers, serial, step="RWA-ASM", values=None):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/units/{serial}/steps/{step}/complete", headers=headers,
                       json={"measurements": RWA_ASM if values is None else values})


def test_released_work_order_gets_unique_serials_in_the_plant_format(client, supervisor) -> None:
    first = client.post("/api/v1/work-orders", headers=supervisor,
                        json={"unit_type": "RWA-100", "quantity": 3, "due": "2027-01-31", "priority": 1})
    second = client.post("/api/v1/work-orders", headers=supervisor,
                         json={"unit_type": "STR", "quantity": 2, "due": "2027-02-28"})
    assert first.status_code == 201, first.json
    serials = first.json["serials"] + second.json["serials"]
    assert all(re.fullmatch(r"(RWA|STR)-\d{2}-\d{5}", s) for s in serials)
    assert len(set(serials)) == 5 and first.json["serials"][0].endswith("-00001")
    assert second.json["serials"][0].endswith("-00001")  # numbering is per prefix
    listing = client.get("/api/v1/work-orders?per_page=1", headers=supervisor).json
    assert listing["total"] == 2 and len(listing["items"]) == 1
    assert listing["items"][0]["number"] == second.json["number"]


@pytest.mark.parametrize(("body", "field"), [
    ({"unit_type": "RWA", "quantity": 0, "due": "2027-01-31"}, "quantity"),
    ({"unit_type": "RWA", "quantity": 2, "due": "someday"}, "due"),
    ({"unit_type": "NOPE", "quantity": 2, "due": "2027-01-31"}, "unit_type"),
    ({"unit_type": "RWA", "quantity": 2, "due": "2027-01-31", "colour": "red"}, "colour"),
    ({"unit_type": "RWA", "due": "2027-01-31"}, "quantity"),
])
def test_bad_work_order_is_refused_naming_the_field(client, supervisor, body, field) -> None:
    response = client.post("/api/v1/work-orders", headers=supervisor, json=body)
    assert response.status_code in (404, 422) and response.json["field"] == field


def test_malformed_json_is_a_400(client, supervisor) -> None:
    response = client.post("/api/v1/work-orders", headers={**supervisor, "Content-Type": "application/json"},
                           data="{not json")
    assert response.status_code == 400 and response.json["error"] == "the body is not valid JSON"


def test_operator_cannot_release_work(client, operator, plant) -> None:
    response = client.post("/api/v1/work-orders", headers=operator,
                           json={"unit_type": "RWA", "quantity": 1, "due": "2027-01-31"})
    assert response.status_code == 403


def test_unit_shows_next_step_with_its_characteristics_and_limits(client, operator, serial) -> None:
    unit = client.get(f"/api/v1/units/{serial}", headers=operator).json
    assert unit["status"] == "in_work" and unit["routing_revision"] == 1
    step = unit["next_step"]
    assert step["code"] == "RWA-ASM" and step["stations"] == ["RWA-CR1"]
    nut = next(c for c in step["characteristics"] if c["name"] == "retaining_nut_torque")
    assert (nut["unit"], nut["nominal"], nut["lower"], nut["upper"]) == ("N·m", "2.50", "2.40", "2.60")


def test_only_the_next_step_of_the_routing_can_start(client, operator, serial) -> None:
    response = start(client, operator, serial, step="RWA-BAL", station="RWA-BAL")
    assert response.status_code == 409
    assert response.json == {"error": f"{serial} is due for step RWA-ASM, not RWA-BAL", "field": "step"}


def test_step_starts_only_at_a_station_that_performs_it(client, operator, serial) -> None:
    response = start(client, operator, serial, station="RWA-BAL")
    assert response.status_code == 422 and response.json["field"] == "station"


def test_machine_must_stand_at_the_station(client, operator, serial, sessions) -> None:
    pass_steps(sessions, "op.a", serial, 1)
    wrong = start(client, operator, serial, step="RWA-BAL", station="RWA-BAL", machine="RWA-TVAC1")
    assert wrong.status_code == 422 and wrong.json["field"] == "machine"
    right = start(client, operator, serial, step="RWA-BAL", station="RWA-BAL", machine="RWA-BAL1")
    assert right.status_code == 200 and right.json["machine"] == "RWA-BAL1"


def test_a_unit_already_in_a_step_cannot_start_another(client, operator, serial) -> None:
    start(client, operator, serial)
    again = start(client, operator, serial)
    assert again.status_code == 409 and "already in a step" in again.json["error"]


def test_passing_step_stores_values_exactly_as_entered_and_moves_on(client, operator, serial, sessions) -> None:
    start(client, operator, serial)
    fit(sessions, serial)
    response = client.post(f"/api/v1/units/{serial}/steps/RWA-ASM/complete", headers=operator,
                           data='{"measurements": {"bearing_preload": 30.00, "retaining_nut_torque": 2.40, '
                                '"visual_cleanliness": "pass"}}', content_type="application/json")
    assert response.status_code == 200 and response.json["result"] == "passed"
    values = {m["name"]: m["value"] for m in response.json["execution"]["measurements"]}
    assert values == {"bearing_preload": "30.00", "retaining_nut_torque": "2.40", "visual_cleanliness": "pass"}
    with sessions() as session:
        stored = session.scalars(select(Measurement).filter_by(name="retaining_nut_torque")).one()
        assert (stored.value_text, stored.lower, stored.upper, stored.passed) == ("2.40", "2.40", "2.60", True)
    unit = client.get(f"/api/v1/units/{serial}", headers=operator).json
    assert unit["next_step"]["code"] == "RWA-BAL"


@pytest.mark.parametrize(("values", "field"), [
    ({"bearing_preload": "30", "retaining_nut_torque": "2.5"}, "measurements.visual_cleanliness"),
    ({**RWA_ASM, "colour": "red"}, "measurements.colour"),
    ({**RWA_ASM, "bearing_preload": "thirty"}, "measurements.bearing_preload"),
    ({**RWA_ASM, "bearing_preload": "NaN"}, "measurements.bearing_preload"),
    ({**RWA_ASM, "visual_cleanliness": "maybe"}, "measurements.visual_cleanliness"),
])
def test_incomplete_or_unreadable_measurements_are_refused_and_nothing_is_recorded(
        client, operator, serial, sessions, values, field) -> None:
    start(client, operator, serial)
    fit(sessions, serial)
    response = complete(client, operator, serial, values=values)
    assert response.status_code == 422 and response.json["field"] == field
    with sessions() as session:
        assert session.scalars(select(Measurement)).all() == []
    assert client.get(f"/api/v1/units/{serial}", headers=operator).json["current_step"] == "RWA-ASM"


def test_out_of_limit_value_fails_the_step_holds_the_unit_and_opens_an_ncr(client, operator, serial, sessions) -> None:
    start(client, operator, serial)
    fit(sessions, serial)
    response = complete(client, operator, serial, values={**RWA_ASM, "retaining_nut_torque": "2.61"})
    assert response.json["result"] == "failed" and response.json["ncr"].startswith("NCR-")
    with sessions() as session:
        ncr = session.scalars(select(Nonconformance)).one()
        assert ncr.step_code == "RWA-ASM" and ncr.status == "open" and ncr.defect_code == "OOT"
        assert ncr.failing_values == [{"name": "retaining_nut_torque", "value": "2.61", "unit": "N·m",
                                       "lower": "2.40", "upper": "2.60"}]
    unit = client.get(f"/api/v1/units/{serial}", headers=operator).json
    assert unit["on_hold"] and not unit["first_pass"] and unit["open_ncrs"] == [response.json["ncr"]]
    refused = start(client, operator, serial)
    assert refused.status_code == 409 and "on hold" in refused.json["error"]


def test_completing_a_step_before_its_components_are_scanned_is_refused(client, operator, serial, sessions) -> None:
    start(client, operator, serial)
    refused = complete(client, operator, serial)
    assert refused.status_code == 409 and refused.json["field"] == "consumptions"
    assert refused.json["error"].startswith(f"step RWA-ASM of {serial} still needs ")
    assert all(f"1 × {part}" in refused.json["error"] for part in ("BRG-7002-P", "MOT-BLDC-RW40", "CON-MDM-25S"))
    with sessions() as session:
        assert session.scalars(select(Measurement)).all() == []
    assert client.get(f"/api/v1/units/{serial}", headers=operator).json["current_step"] == "RWA-ASM"
    fit(sessions, serial)
    done = complete(client, operator, serial)
    assert done.status_code == 200 and done.json["result"] == "passed"


@pytest.mark.parametrize(("value", "passed"), [("2.40", True), ("2.60", True), ("2.39", False), ("2.601", False)])
def test_limits_are_inclusive(client, operator, serial, sessions, value, passed) -> None:
    start(client, operator, serial)
    fit(sessions, serial)
    response = complete(client, operator, serial, values={**RWA_ASM, "retaining_nut_torque": value})
    assert response.json["result"] == ("passed" if passed else "failed")


def test_passing_the_last_step_makes_the_unit_ready_for_acceptance(client, operator, serial, sessions) -> None:
    pass_steps(sessions, "op.a", serial, 8)
    unit = client.get(f"/api/v1/units/{serial}", headers=operator).json
    assert unit["status"] == "ready" and unit["next_step"] is None and len(unit["executions"]) == 8
    refused = start(client, operator, serial)
    assert refused.status_code == 409 and "awaits acceptance" in refused.json["error"]


def test_pause_and_resume_by_the_next_shift_records_everyone_who_worked(client, auth_header, operator, serial,
                                                                         sessions) -> None:
    night = auth_header("operator", name="op.night")
    start(client, operator, serial)
    fit(sessions, serial)
    paused = client.post(f"/api/v1/units/{serial}/steps/RWA-ASM/pause", headers=operator, json={"note": "shift end"})
    assert paused.json["status"] == "paused"
    assert complete(client, night, serial).status_code == 409  # a paused step must be resumed first
    resumed = client.post(f"/api/v1/units/{serial}/steps/RWA-ASM/resume", headers=night, json={})
    assert [e["kind"] for e in resumed.json["events"]] == ["start", "pause", "handover"]
    done = complete(client, night, serial)
    assert done.json["execution"]["people"] == ["op.a", "op.night"]


def test_abort_needs_a_supervisor_and_a_reason_and_returns_the_unit_to_the_step(
        client, operator, supervisor, serial) -> None:
    start(client, operator, serial)
    url = f"/api/v1/units/{serial}/steps/RWA-ASM/abort"
    assert client.post(url, headers=operator, json={"reason": "x"}).status_code == 403
    assert client.post(url, headers=supervisor, json={"reason": ""}).json["field"] == "reason"
    aborted = client.post(url, headers=supervisor, json={"reason": "wrong bearing kit"})
    assert aborted.json["status"] == "aborted"
    unit = client.get(f"/api/v1/units/{serial}", headers=operator).json
    assert unit["current_step"] is None and unit["next_step"]["code"] == "RWA-ASM"
    assert start(client, operator, serial).status_code == 200


def test_unknown_serial_and_step_are_404(client, operator, serial) -> None:
    assert client.get("/api/v1/units/RWA-26-99999", headers=operator).status_code == 404
    assert start(client, operator, serial, step="RWA-NOPE").json["field"] == "step"


def test_body_over_one_mebibyte_is_a_413(client, operator, serial) -> None:
    response = client.post(f"/api/v1/units/{serial}/steps/RWA-ASM/start", headers=operator,
                           data=b'{"station": "' + b"x" * (1024 * 1024 + 10) + b'"}',
                           content_type="application/json")
    assert response.status_code == 413 and "error" in response.json


@pytest.mark.parametrize("text", ["RWA\u0000", "\udbfb"])
def test_text_postgresql_cannot_store_is_refused_not_a_500(client, operator, serial, text) -> None:
    body = '{"station": "' + text.encode("unicode_escape").decode().replace("\\x00", "\\u0000") + '"}'
    response = client.post(f"/api/v1/units/{serial}/steps/RWA-ASM/start", headers=operator, data=body,
                           content_type="application/json")
    assert response.status_code == 422 and response.json["field"] == "body"
    assert client.get("/api/v1/units/RWA%00", headers=operator).status_code == 404


def test_a_machine_holds_no_more_units_than_its_positions(client, operator, supervisor, sessions) -> None:
    first, second = client.post("/api/v1/work-orders", headers=supervisor, json={
        "unit_type": "RWA", "quantity": 2, "due": "2027-01-31"}).json["serials"]
    for serial in (first, second):
        pass_steps(sessions, "op.a", serial, 1)
    assert start(client, operator, first, "RWA-BAL", "RWA-BAL", machine="RWA-BAL1").status_code == 200
    full = start(client, operator, second, "RWA-BAL", "RWA-BAL", machine="RWA-BAL1")
    assert full.status_code == 409 and full.json == {"error": "RWA-BAL1 is full (1 of 1 positions in use)",
                                                     "field": "machine"}


def test_recorded_times_cannot_be_in_the_future_or_out_of_order(sessions, operator, serial) -> None:
    from datetime import timedelta

    from mes import execution
    from mes.errors import Invalid
    from mes.models import utcnow
    from tests.factories import user_id

    with sessions.begin() as session, pytest.raises(Invalid, match="in the future"):
        execution.start_step(session, user_id(session, "op.a"), serial, "RWA-ASM", "RWA-CR1",
                             at=utcnow() + timedelta(hours=1))
    with sessions.begin() as session:
        execution.start_step(session, user_id(session, "op.a"), serial, "RWA-ASM", "RWA-CR1")
    fit(sessions, serial)
    with sessions.begin() as session, pytest.raises(Invalid, match="before the previous event"):
        execution.complete_step(session, user_id(session, "op.a"), serial, "RWA-ASM", RWA_ASM,
                                at=utcnow() - timedelta(days=1))
