"""Machine runs: several units run one step together in one machine, each in a position."""
from __future__ import annotations

import pytest

from tests.factories import pass_steps, release

TC_VALUES = {"cycles_completed": "8", "post_cycle_current": "0.80"}


@pytest.fixture
def operator(auth_header):  # type: ignore[no-untyped-def]
    return auth_header("operator", name="op.a")


@pytest.fixture
def at_thermal_cycling(sessions, make_user, operator) -> list[str]:  # type: ignore[no-untyped-def]
    """Three wheels that have passed assembly, balancing and functional test."""
    make_user("supervisor", name="sup.a")
    serials = release(sessions, "sup.a", "RWA", 3)
    for serial in serials:
        pass_steps(sessions, "op.a", serial, 3)
    return serials


def load(serials: list[str]) -> list[dict[str, object]]:
    return [{"serial": s, "position": i} for i, s in enumerate(serials, start=1)]


def test_a_run_starts_the_step_for_every_loaded_unit_and_completes_each_on_its_own(
        client, operator, at_thermal_cycling) -> None:
    serials = at_thermal_cycling
    run = client.post("/api/v1/runs", headers=operator,
                      json={"step": "RWA-TC", "machine": "RWA-TC1", "units": load(serials)})
    assert run.status_code == 201, run.json
    assert [(u["serial"], u["position"], u["status"]) for u in run.json["units"]] == [
        (s, i, "running") for i, s in enumerate(serials, start=1)]
    for s in serials:
        assert client.get(f"/api/v1/units/{s}", headers=operator).json["current_step"] == "RWA-TC"
    values = {s: TC_VALUES for s in serials[:2]} | {serials[2]: {**TC_VALUES, "post_cycle_current": "1.30"}}
    done = client.post(f"/api/v1/runs/{run.json['id']}/complete", headers=operator, json={"measurements": values})
    assert done.status_code == 200, done.json
    results = {r["serial"]: (r["result"], r["ncr"] is not None) for r in done.json["results"]}
    assert results == {serials[0]: ("passed", False), serials[1]: ("passed", False), serials[2]: ("failed", True)}
    assert done.json["run"]["status"] == "complete"
    unit = client.get(f"/api/v1/units/{serials[0]}", headers=operator).json
    assert unit["next_step"]["code"] == "RWA-VIB"
    assert unit["executions"][-1]["machine"] == "RWA-TC1" and unit["executions"][-1]["run"] == run.json["id"]


def test_a_run_is_all_or_nothing_when_one_unit_is_not_due(client, operator, at_thermal_cycling, sessions) -> None:
    late = release(sessions, "sup.a", "RWA", 1)[0]
    response = client.post("/api/v1/runs", headers=operator,
                           json={"step": "RWA-TC", "machine": "RWA-TC1", "units": load([*at_thermal_cycling, late])})
    assert response.status_code == 409 and response.json["field"] == "units[3].serial"
    for s in at_thermal_cycling:
        assert client.get(f"/api/v1/units/{s}", headers=operator).json["current_step"] is None


@pytest.mark.parametrize(("change", "field"), [
    ({"machine": "RWA-RIR1"}, "machine"),  # the run-in rack: not at a station of the step
    ({"units": [{"serial": "X", "position": 1}, {"serial": "X", "position": 2}]}, "units"),
    ({"units": [{"serial": "A", "position": 1}, {"serial": "B", "position": 1}]}, "units"),
    ({"units": [{"serial": "A", "position": 9}]}, "units"),  # the chamber has 8 positions
])
def test_bad_loads_are_refused(client, operator, at_thermal_cycling, change, field) -> None:
    body = {"step": "RWA-TC", "machine": "RWA-TC1", "units": load(at_thermal_cycling), **change}
    response = client.post("/api/v1/runs", headers=operator, json=body)
    assert response.status_code in (404, 409, 422) and response.json["field"].startswith(field), response.json


def test_a_busy_machine_cannot_start_a_second_run(client, operator, at_thermal_cycling) -> None:
    first, second = at_thermal_cycling[:2], at_thermal_cycling[2:]
    assert client.post("/api/v1/runs", headers=operator,
                       json={"step": "RWA-TC", "machine": "RWA-TC1", "units": load(first)}).status_code == 201
    busy = client.post("/api/v1/runs", headers=operator,
                       json={"step": "RWA-TC", "machine": "RWA-TC1", "units": load(second)})
    assert busy.status_code == 409 and "already running" in busy.json["error"]


def test_a_unit_in_a_run_is_completed_with_the_run_not_alone(client, operator, at_thermal_cycling) -> None:
    client.post("/api/v1/runs", headers=operator,
                json={"step": "RWA-TC", "machine": "RWA-TC1", "units": load(at_thermal_cycling)})
    alone = client.post(f"/api/v1/units/{at_thermal_cycling[0]}/steps/RWA-TC/complete", headers=operator,
                        json={"measurements": TC_VALUES})
    assert alone.status_code == 409 and "complete the run" in alone.json["error"]


def test_run_completion_needs_every_units_measurements(client, operator, at_thermal_cycling) -> None:
    run = client.post("/api/v1/runs", headers=operator,
                      json={"step": "RWA-TC", "machine": "RWA-TC1", "units": load(at_thermal_cycling)}).json
    partial = {s: TC_VALUES for s in at_thermal_cycling[:2]}
    response = client.post(f"/api/v1/runs/{run['id']}/complete", headers=operator, json={"measurements": partial})
    assert response.status_code == 422 and response.json["field"] == f"measurements.{at_thermal_cycling[2]}"
    assert client.post("/api/v1/runs/999/complete", headers=operator,
                       json={"measurements": {}}).status_code == 404
