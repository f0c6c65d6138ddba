"""Gates on people and instruments: qualifications that expire, calibrations that fall due, deviations."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from mes.models import utcnow
from mes.models.production import Measurement
from tests.factories import fit, release

ASM = {"bearing_preload": "30.0", "retaining_nut_torque": "2.50", "visual_cleanliness": "pass"}


@pytest.fixture
def serial(sessions, make_user) -> str:  # type: ignore[no-untyped-def]
    make_user("supervisor", name="sup.a")
    return release(sessions, "sup.a", "RWA", 1)[0]


def start(client, headers, serial):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/units/{serial}/steps/RWA-ASM/start", headers=headers, json={"station": "RWA-CR1"})


def complete(client, headers, serial, values=ASM, instruments=None):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/units/{serial}/steps/RWA-ASM/complete", headers=headers,
                       json={"measurements": values, "instruments": instruments or {}})


def test_starting_a_step_without_its_qualifications_is_refused_naming_them(client, auth_header, serial) -> None:
    novice = auth_header("operator", qualified=False)
    response = start(client, novice, serial)
    assert response.status_code == 403
    assert response.json["error"] == "step RWA-ASM needs a valid qualification: CLEANROOM, ESD"


def test_an_expired_qualification_is_named_with_its_date(client, auth_header, serial) -> None:
    admin = auth_header("admin")
    op = auth_header("operator", name="op.old", qualified=False)
    expired = (date.today() - timedelta(days=3)).isoformat()
    for code, until in (("CLEANROOM", expired), ("ESD", "2099-01-01")):
        assert client.post("/api/v1/users/op.old/qualifications", headers=admin,
                           json={"qualification": code, "valid_until": until}).status_code == 200
    response = start(client, op, serial)
    assert response.status_code == 403 and f"CLEANROOM (expired {expired})" in response.json["error"]
    client.post("/api/v1/users/op.old/qualifications", headers=admin,
                json={"qualification": "CLEANROOM", "valid_until": "2099-01-01"})
    assert start(client, op, serial).status_code == 200


def test_an_instrument_past_its_calibration_is_refused_and_a_good_one_is_recorded(client, auth_header, serial,
                                                                                  sessions) -> None:
    admin, op = auth_header("admin"), auth_header("operator")
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    client.post("/api/v1/instruments", headers=admin, json={"code": "TW-7", "name": "Torque wrench 1-5 N·m",
                                                             "kind": "torque", "calibration_due": yesterday})
    client.post("/api/v1/instruments", headers=admin, json={"code": "TW-8", "name": "Torque wrench 1-5 N·m",
                                                             "kind": "torque", "calibration_due": "2099-01-01"})
    start(client, op, serial)
    fit(sessions, serial)
    overdue = complete(client, op, serial, instruments={"retaining_nut_torque": "TW-7"})
    assert overdue.status_code == 409 and f"due for calibration on {yesterday}" in overdue.json["error"]
    assert overdue.json["field"] == "instruments.retaining_nut_torque"
    assert complete(client, op, serial, instruments={"retaining_nut_torque": "TW-8"}).status_code == 200
    recall = client.get("/api/v1/instruments/TW-8/measurements", headers=op).json
    assert [(m["serial"], m["name"], m["value"]) for m in recall["items"]] == [(serial, "retaining_nut_torque",
                                                                                 "2.50")]


def test_a_failed_calibration_takes_the_instrument_out_of_use(client, auth_header, serial, sessions) -> None:
    admin, op = auth_header("admin"), auth_header("operator")
    client.post("/api/v1/instruments", headers=admin, json={"code": "TW-9", "name": "Torque wrench",
                                                             "kind": "torque", "calibration_due": "2099-01-01"})
    failed = client.post("/api/v1/instruments/TW-9/calibrations", headers=admin,
                         json={"due": "2099-06-01", "passed": False, "note": "reads 4 % high"})
    assert failed.json["active"] is False
    start(client, op, serial)
    fit(sessions, serial)
    assert "out of use" in complete(client, op, serial, instruments={"*": "TW-9"}).json["error"]


@pytest.fixture
def deviation_for(client, auth_header):  # type: ignore[no-untyped-def]
    qe = auth_header("quality")

    def grant(serials: list[str], upper: str = "2.70", hours: int = 24):  # type: ignore[no-untyped-def]
        return client.post("/api/v1/deviations", headers=qe, json={
            "step": "RWA-ASM", "characteristic": "retaining_nut_torque", "lower": "2.40", "upper": upper,
            "serials": serials, "valid_until": (utcnow() + timedelta(hours=hours)).isoformat(), "pin": "1234",
            "reason": "supplier thread tolerance, concession C-12"})

    return grant


def test_a_value_outside_its_limits_passes_under_a_deviation_and_records_it(client, auth_header, serial,
                                                                            deviation_for, sessions) -> None:
    granted = deviation_for([serial])
    assert granted.status_code == 201 and granted.json["signature"]["meaning"] == "approved"
    op = auth_header("operator")
    start(client, op, serial)
    fit(sessions, serial)
    done = complete(client, op, serial, {**ASM, "retaining_nut_torque": "2.65"})
    assert done.json["result"] == "passed"
    with sessions() as session:
        m = session.scalars(select(Measurement).filter_by(name="retaining_nut_torque")).one()
        assert m.deviation_id is not None and m.upper == "2.60"


@pytest.mark.parametrize("case", ["beyond the deviation", "another serial"])
def test_a_deviation_covers_only_its_serials_and_its_limits(client, auth_header, sessions, serial, deviation_for,
                                                            case) -> None:
    other = release(sessions, "sup.a", "RWA", 1)[0]
    deviation_for([serial] if case == "another serial" else [other])
    op = auth_header("operator")
    start(client, op, other)
    fit(sessions, other)
    value = "2.75" if case == "beyond the deviation" else "2.65"
    assert complete(client, op, other, {**ASM, "retaining_nut_torque": value}).json["result"] == "failed"


def test_a_deviation_needs_a_reason_limits_and_a_future_end(client, auth_header, serial) -> None:
    qe = auth_header("quality")
    base = {"step": "RWA-ASM", "characteristic": "retaining_nut_torque", "upper": "2.7", "serials": [serial],
            "valid_until": (utcnow() + timedelta(days=1)).isoformat(), "pin": "1234", "reason": "x"}
    assert client.post("/api/v1/deviations", headers=qe, json={**base, "valid_until": "2020-01-01T00:00:00Z"}
                       ).json["field"] == "valid_until"
    assert client.post("/api/v1/deviations", headers=qe, json={**base, "characteristic": "colour"}
                       ).json["field"] == "characteristic"
    assert client.post("/api/v1/deviations", headers=qe, json={**base, "pin": "0000"}).json["field"] == "pin"
