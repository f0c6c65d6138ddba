"""Closing the loop with machines: values read from a tag at completion, and excursions out of a tag's limits."""
from __future__ import annotations

import shutil
from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from mes import excursions, execution, runs, telemetry
from mes.models import AuditRow, Characteristic, Excursion, Machine, Tag, UnitType, utcnow
from mes.models.production import Measurement, Nonconformance, StepExecution, Unit
from mes.plant_config import PlantConfigError, load_plant_config
from mes.plant_config.schema import CharacteristicConfig, TagConfig
from mes.plant_loader import load_plant
from mes.telemetry import Reading
from tests.conftest import CONFIG_DIR
from tests.factories import fit, pass_steps, release, user_id

OVEN, SMT = "OBC-RFL1", "OBC-SMT"
TYPED = {"time_above_liquidus": "75", "solder_paste_height": "130"}  # peak_temp comes from the oven
BAD = 0x80000000  # OPC UA Bad
MIN = timedelta(minutes=1)


@pytest.fixture
def operator(make_user) -> str:  # type: ignore[no-untyped-def]
    return make_user("operator", name="op.a")


@pytest.fixture
def supervisor(make_user) -> str:  # type: ignore[no-untyped-def]
    return make_user("supervisor", name="sup.a")


def on_the_oven(sessions, operator: str, supervisor: str, machine: str | None = OVEN) -> tuple[str, datetime]:  # type: ignore[no-untyped-def]
    """An OBC whose SMT step started ten minutes ago (on the reflow oven), its kit fitted: (serial, start)."""
    now = utcnow().replace(microsecond=0)
    serial = release(sessions, supervisor, "OBC", 1, at=now - timedelta(hours=1))[0]
    with sessions.begin() as session:
        execution.start_step(session, user_id(session, operator), serial, SMT, SMT, machine, at=now - 10 * MIN)
    fit(sessions, serial)
    return serial, now - 10 * MIN


def send(sessions, machine: str, tag: str, *points: tuple[datetime, float] | tuple[datetime, float, int]) -> None:  # type: ignore[no-untyped-def]
    """Store what a machine reported, as the adapters do: (source time, value[, OPC UA status])."""
    with sessions.begin() as session:
        machine_id = session.scalars(select(Machine.id).filter_by(code=machine)).one()
        tags = telemetry.load_tags(session, [machine_id])
        tag_id = next(t.id for t in tags.values() if t.name == tag)
        telemetry.store(session, [Reading(tag_id, p[0], p[1], None, p[2] if len(p) > 2 else 0, p[0])  # type: ignore[misc]
                                  for p in points], tags)


def complete(sessions, operator: str, serial: str, values: dict[str, object] | None = None) -> tuple[bool, str | None]:  # type: ignore[no-untyped-def]
    with sessions.begin() as session:
        done = execution.complete_step(session, user_id(session, operator), serial, SMT, values or TYPED)
        return done.passed, done.ncr.number if done.ncr else None


def set_aggregate(sessions, aggregate: str) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as session:
        for c in session.scalars(select(Characteristic).filter_by(source_tag="peak_temp")):
            c.source_aggregate = aggregate


def peak(session) -> Measurement:  # type: ignore[no-untyped-def]
    return session.scalars(select(Measurement).filter_by(name="peak_temp")).one()


# --- captured measurements -------------------------------------------------------------------------------------

def test_a_captured_characteristic_takes_the_last_sample_of_the_step(sessions, operator, supervisor) -> None:
    serial, start = on_the_oven(sessions, operator, supervisor)
    set_aggregate(sessions, "last")
    send(sessions, OVEN, "peak_temp", (start - MIN, 200.0),  # before the step: another board
         (start + MIN, 244.0), (start + 2 * MIN, 246.5), (start + 3 * MIN, 231.0, BAD),  # a bad reading counts not
         (utcnow() + timedelta(hours=1), 300.0))  # after the completion
    assert complete(sessions, operator, serial) == (True, None)
    with sessions() as session:
        m = peak(session)
        tag = session.get(Tag, m.captured_tag_id)
        assert (m.value_text, m.passed, m.source) == ("246.5", True, "machine")
        assert (tag.name, session.get(Machine, tag.machine_id).code) == ("peak_temp", OVEN)
        assert (m.captured_aggregate, m.captured_samples, m.captured_from) == ("last", 2, start)
        assert m.captured_to == m.execution.ended_at == m.recorded_at
        assert session.scalars(select(Measurement).filter_by(name="time_above_liquidus")).one().source == "manual"
        assert session.scalars(select(Excursion)).all() == []  # the out-of-limit values fell outside the step


@pytest.mark.parametrize(("aggregate", "value"), [("min", "241"), ("max", "248.5"), ("mean", "245"),
                                                  ("last", "246.5")])
def test_a_captured_characteristic_aggregates_the_good_samples_of_the_step(sessions, operator, supervisor,
                                                                          aggregate, value) -> None:
    serial, start = on_the_oven(sessions, operator, supervisor)
    set_aggregate(sessions, aggregate)
    send(sessions, OVEN, "peak_temp", *[(start + i * MIN, v) for i, v in enumerate((244.0, 248.5, 241.0, 246.5), 1)])
    assert complete(sessions, operator, serial)[0] is True
    with sessions() as session:
        m = peak(session)
        assert (m.value_text, m.captured_aggregate, m.captured_samples) == (value, aggregate, 4)


def test_a_captured_value_keeps_the_places_of_its_limits_and_the_precision_of_its_tag(sessions, operator,
                                                                                      supervisor) -> None:
    serial, start = on_the_oven(sessions, operator, supervisor)
    with sessions.begin() as session:  # limits with two places; a Float tag's 245.1 arrives as 245.1000061...
        for c in session.scalars(select(Characteristic).filter_by(source_tag="peak_temp")):
            c.lower, c.nominal, c.upper = "235.00", "245.00", "250.00"
    send(sessions, OVEN, "peak_temp", (start + MIN, 245.10000610351562))
    complete(sessions, operator, serial)
    with sessions() as session:
        assert peak(session).value_text == "245.10"


def test_the_configured_oven_peak_is_the_highest_it_reported_and_the_api_says_where_it_came_from(
        client, auth_header, sessions, operator, supervisor) -> None:
    headers = auth_header("operator")
    serial, start = on_the_oven(sessions, operator, supervisor)
    smt = client.get(f"/api/v1/units/{serial}", headers=headers).json["executions"][0]
    assert smt["step"] == SMT and smt["excursions"] == []
    send(sessions, OVEN, "peak_temp", (start + MIN, 238.0), (start + 2 * MIN, 246.0), (start + 3 * MIN, 241.0))
    response = client.post(f"/api/v1/units/{serial}/steps/{SMT}/complete", headers=headers,
                           json={"measurements": TYPED})
    assert response.status_code == 200, response.json
    assert response.json["result"] == "passed"
    measured = {m["name"]: m for m in response.json["execution"]["measurements"]}
    assert measured["solder_paste_height"]["source"] == "manual" and measured["solder_paste_height"]["captured"] is None
    captured = measured["peak_temp"]
    assert captured["value"] == "246" and captured["source"] == "machine"
    assert {k: captured["captured"][k] for k in ("machine", "tag", "aggregate", "samples")} == {
        "machine": OVEN, "tag": "peak_temp", "aggregate": "max", "samples": 3}
    assert datetime.fromisoformat(captured["captured"]["window_start"]) == start


def test_the_step_shows_which_characteristics_the_machine_measures(client, auth_header, sessions,
                                                                    supervisor) -> None:
    serial = release(sessions, supervisor, "OBC", 1)[0]
    step = client.get(f"/api/v1/units/{serial}", headers=auth_header("viewer")).json["next_step"]
    sources = {c["name"]: c["source"] for c in step["characteristics"]}
    assert sources == {"peak_temp": {"tag": "peak_temp", "aggregate": "max"}, "time_above_liquidus": None,
                       "solder_paste_height": None}


def test_a_typed_value_for_a_captured_characteristic_is_refused(client, auth_header, sessions, supervisor) -> None:
    headers = auth_header("operator")
    serial = release(sessions, supervisor, "OBC", 1)[0]
    started = client.post(f"/api/v1/units/{serial}/steps/{SMT}/start", headers=headers,
                          json={"station": SMT, "machine": OVEN})
    assert started.status_code == 200, started.json
    fit(sessions, serial)
    response = client.post(f"/api/v1/units/{serial}/steps/{SMT}/complete", headers=headers,
                           json={"measurements": {**TYPED, "peak_temp": 245}})
    assert response.status_code == 422
    assert response.json["field"] == "measurements.peak_temp" and "read from the machine" in response.json["error"]
    with sessions() as session:
        assert session.scalars(select(Measurement)).all() == []


def test_no_samples_refuses_the_completion_naming_the_characteristic(client, auth_header, sessions, operator,
                                                                     supervisor) -> None:
    serial, start = on_the_oven(sessions, operator, supervisor)
    send(sessions, OVEN, "peak_temp", (start - MIN, 245.0), (start + MIN, 999.0, BAD))  # before it, and bad
    response = client.post(f"/api/v1/units/{serial}/steps/{SMT}/complete", headers=auth_header("operator"),
                           json={"measurements": TYPED})
    assert response.status_code == 409 and response.json["field"] == "measurements.peak_temp"
    assert "OBC-RFL1 sent no peak_temp value" in response.json["error"] and "peak_temp cannot be read" in \
        response.json["error"]
    with sessions() as session:
        assert session.scalars(select(Measurement)).all() == []
        assert session.scalars(select(StepExecution)).one().status == "running"  # nothing made up, nothing ended


def test_a_captured_characteristic_needs_the_step_on_a_machine(sessions, operator, supervisor) -> None:
    serial, start = on_the_oven(sessions, operator, supervisor, machine=None)
    send(sessions, OVEN, "peak_temp", (start + MIN, 245.0))  # the oven ran, but the step was not started on it
    with pytest.raises(Exception, match="start OBC-SMT on the machine") as raised:
        complete(sessions, operator, serial)
    assert raised.value.field == "measurements.peak_temp"  # type: ignore[attr-defined]


def test_a_captured_value_out_of_limits_fails_the_step_like_a_typed_one(client, auth_header, sessions, operator,
                                                                        supervisor) -> None:
    serial, start = on_the_oven(sessions, operator, supervisor)
    send(sessions, OVEN, "peak_temp", (start + MIN, 246.0), (start + 2 * MIN, 252.0))
    passed, number = complete(sessions, operator, serial)
    assert passed is False and number is not None
    ncr = client.get(f"/api/v1/ncrs/{number}", headers=auth_header("quality")).json
    assert ncr["defect_code"] == "OOT" and "peak_temp = 252 °C (limits 235 .. 250)" in ncr["description"]
    assert [f["name"] for f in ncr["failing_values"]] == ["peak_temp"]  # the tag's excursion only flags
    smt = client.get(f"/api/v1/units/{serial}", headers=auth_header("viewer")).json["executions"][0]
    assert [(e["tag"], e["side"], e["limit"], e["extreme"], e["action"], e["ncr"]) for e in smt["excursions"]] == [
        ("peak_temp", "high", "250", 252.0, "flag", number)]


# --- excursions --------------------------------------------------------------------------------------------------

def test_an_excursion_fails_the_step_and_opens_an_ncr_with_it_attached(client, auth_header, sessions,
                                                                      operator, supervisor) -> None:
    """The thermal cycling chamber's air temperature is configured to fail the units it over-tests."""
    serial = release(sessions, supervisor, "RWA", 1)[0]
    pass_steps(sessions, operator, serial, 3)  # assembly, balancing, functional test
    with sessions.begin() as session:
        run = runs.start_run(session, user_id(session, operator), "RWA-TC", "RWA-TC1", [runs.Load(serial, 1)])
        run_id, start = run.id, run.started_at
    second = timedelta(seconds=1)
    send(sessions, "RWA-TC1", "air_temp", (start + second, 20.0), (start + 2 * second, 78.5),
         (start + 3 * second, 80.25), (start + 4 * second, 75.0), (start + 5 * second, -30.0))
    with sessions.begin() as session:
        [done] = runs.complete_run(session, user_id(session, operator), run_id,
                                   {serial: {"cycles_completed": "8", "post_cycle_current": "0.80"}},
                                   at=start + 10 * second)
        assert done.passed is False and done.ncr is not None
        number = done.ncr.number
    with sessions() as session:
        ncr = session.scalars(select(Nonconformance).filter_by(number=number)).one()
        [row] = session.scalars(select(Excursion)).all()
        assert (row.ncr_id, row.action, row.side, row.limit_value, row.extreme, row.samples) == (
            ncr.id, "fail", "high", "75", 80.25, 2)
        assert (row.first_at, row.last_at) == (start + 2 * second, start + 3 * second)
        assert session.scalars(select(Unit).filter_by(serial=serial)).one().on_hold
        assert session.scalars(select(AuditRow).filter_by(action="step.excursion")).one().entity_id == serial
    body = client.get(f"/api/v1/ncrs/{number}", headers=auth_header("quality")).json
    assert body["defect_code"] == "OOT" and body["step"] == "RWA-TC"
    assert "RWA-TC1.air_temp excursion = 80.25 °C (limits - .. 75)" in body["description"]
    [failure] = body["failing_values"]
    assert {k: failure[k] for k in ("machine", "tag", "side", "limit", "samples")} == {
        "machine": "RWA-TC1", "tag": "air_temp", "side": "high", "limit": "75", "samples": "2"}
    assert datetime.fromisoformat(failure["first_at"]) == start + 2 * second


def test_a_flagged_excursion_is_recorded_and_the_step_still_passes(client, auth_header, sessions, operator,
                                                                   supervisor) -> None:
    serial, start = on_the_oven(sessions, operator, supervisor)
    send(sessions, OVEN, "peak_temp", (start + MIN, 245.0))
    send(sessions, OVEN, "zone5_temp", (start + MIN, 240.0), (start + 2 * MIN, 258.5), (start + 3 * MIN, 255.0))
    assert complete(sessions, operator, serial) == (True, None)
    smt = client.get(f"/api/v1/units/{serial}", headers=auth_header("viewer")).json["executions"][0]
    [flagged] = smt["excursions"]
    assert (flagged["machine"], flagged["tag"], flagged["unit"], flagged["extreme"], flagged["samples"]) == (
        OVEN, "zone5_temp", "°C", 258.5, 1)  # 255 is on the limit, which is inside
    assert (flagged["action"], flagged["ncr"]) == ("flag", None)


def test_a_running_step_shows_its_excursions_so_far(client, auth_header, sessions, operator, supervisor) -> None:
    serial, start = on_the_oven(sessions, operator, supervisor)
    with sessions.begin() as session:  # a tag whose limits the step crosses by design is not checked
        session.scalars(select(Tag).filter_by(name="conveyor_speed")).first().on_excursion = "ignore"
    send(sessions, OVEN, "zone5_temp", (start + MIN, 220.0), (start + 2 * MIN, 218.0), (start + 3 * MIN, 240.0))
    send(sessions, OVEN, "conveyor_speed", (start + MIN, 0.0))
    with sessions() as session:
        running = session.scalars(select(StepExecution)).one()
        [found] = excursions.live(session, running)
        assert (found.tag, found.side, found.limit, found.extreme, found.samples) == ("zone5_temp", "low", "225",
                                                                                     218.0, 2)
        assert session.scalars(select(Excursion)).all() == []  # recorded only when the step completes
    unit = client.get(f"/api/v1/units/{serial}", headers=auth_header("viewer")).json
    assert unit["current_step"] == SMT
    assert [(e["tag"], e["side"], e["action"]) for e in unit["executions"][0]["excursions"]] == [
        ("zone5_temp", "low", "flag")]


# --- configuration ------------------------------------------------------------------------------------------------

def test_the_default_plant_reads_the_oven_peak_and_fails_over_tested_wheels(sessions, plant) -> None:
    with sessions() as session:
        captured = session.scalars(select(Characteristic).where(Characteristic.source_tag.is_not(None))).all()
        assert [(c.step.code, c.name, c.source_tag, c.source_aggregate) for c in captured] == [
            (SMT, "peak_temp", "peak_temp", "max")]
        actions = {(t.machine.code, t.name): t.on_excursion for t in session.scalars(select(Tag))}
    assert actions[("RWA-TC1", "air_temp")] == "fail" and actions[("RWA-TVAC1", "pressure")] == "ignore"
    assert actions[("OBC-RFL1", "zone5_temp")] == "flag"


@pytest.mark.parametrize(("model", "fields", "problem"), [
    (CharacteristicConfig, {"name": "ok", "kind": "pass_fail", "source": {"tag": "t"}}, "judged by a person"),
    (CharacteristicConfig, {"name": "x", "unit": "g", "upper": 1, "source": {"tag": "t", "aggregate": "median"}},
     "'last', 'min', 'max' or 'mean'"),
    (TagConfig, {"name": "t", "node": "ns=2;i=1", "meaning": "process_value", "data_type": "Float",
                 "on_excursion": "fail"}, "needs a low or high limit"),
])
def test_bad_capture_and_excursion_settings_are_refused(model, fields, problem) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match=problem):
        model.model_validate(fields)


@pytest.mark.parametrize(("tag", "problem"), [
    ("nope", "no machine at OBC-SMT has a tag 'nope'"),
    ("recipe", "tag 'recipe' is String, not a number"),
])
def test_a_captured_characteristic_names_a_numeric_tag_at_its_station(tmp_path, tag, problem) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    path = config / "lines/07-on-board-computer.toml"
    path.write_text(path.read_text().replace('source = { tag = "peak_temp"', f'source = {{ tag = "{tag}"'))
    with pytest.raises(PlantConfigError) as raised:
        load_plant_config(config)
    assert any("routing.steps[0].characteristics[0].source.tag" in p and problem in p for p in raised.value.problems)


def test_changing_where_a_value_comes_from_makes_a_new_routing_revision(sessions, plant_config, tmp_path) -> None:
    with sessions.begin() as session:
        load_plant(session, plant_config)
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    path = config / "lines/07-on-board-computer.toml"
    path.write_text(path.read_text().replace('aggregate = "max"', 'aggregate = "last"'))
    with sessions.begin() as session:
        assert load_plant(session, load_plant_config(config)).new_revisions == ["OBC-700 rev 2"]
        obc = session.scalars(select(UnitType).filter_by(part_number="OBC-700")).one()
        assert [next(c.source_aggregate for s in r.steps for c in s.characteristics if c.name == "peak_temp")
                for r in obc.revisions] == ["max", "last"]
