"""Write-back: a step start loads the unit's serial (and the step's recipe) into the machine through the adapter.

The real simulator on 127.0.0.1 and the real adapter (run_adapters); the step starts through the JSON API.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asyncua import ua
from sqlalchemy import select, update

from line_adapters import writeback
from line_adapters.runner import run_adapters
from line_adapters.simulator import PlantSimulator, SimMachine
from mes import execution, machine_writes
from mes.auth import create_token
from mes.models import AuditRow, Line, Machine, MachineState, RoutingStep, Sample, Tag
from mes.models.production import StepExecution, Unit
from mes.plant_loader import routing_hash
from tests.factories import pass_steps, release, user_id

PORTS = (*range(48011, 48016), 48071)  # line 1's endpoints and the reflow oven of line 7
EXECUTE = 6  # the PackML number of Execute


@pytest.fixture
def offset() -> int:
    """A port offset at which every endpoint of PORTS is free."""
    rng = random.Random()
    for _ in range(100):
        candidate = rng.randrange(1000, 17000)
        try:
            for port in PORTS:
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port + candidate))
        except OSError:
            continue
        return candidate
    pytest.fail("no free ports for the simulator")


@pytest.fixture
def plant_here(sessions, plant, offset):  # type: ignore[no-untyped-def]
    """Lines 1 and 7 listening at the offset; on line 7 only the reflow oven is active."""
    with sessions.begin() as session:
        for machine in session.scalars(select(Machine).join(Line).where(Line.number.in_((1, 7)))):
            machine.endpoint = re.sub(r":(\d+)$", lambda m: f":{int(m.group(1)) + offset}", machine.endpoint)
            machine.active = machine.line.number == 1 or machine.code == "OBC-RFL1"
    return plant, offset


@pytest.fixture
def operator(make_user, sessions) -> tuple[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    name = make_user("operator")
    with sessions.begin() as session:
        return name, {"Authorization": f"Bearer {create_token(session, name)}"}


@pytest.fixture
def at_balancer(sessions, operator) -> str:  # type: ignore[no-untyped-def]
    """A unit due for RWA-BAL, the step done on the balancer, whose serial node the MES writes."""
    serial = release(sessions, operator[0])[0]
    pass_steps(sessions, operator[0], serial, 1)
    return serial


def run_plant(plant_here, sessions, line: int, body: Callable[[PlantSimulator], Awaitable[Any]]) -> Any:  # type: ignore[no-untyped-def]
    """Serve `line` (paused: only the MES changes values), run the adapter for it, and run `body`."""
    config, offset = plant_here

    async def main() -> Any:
        machines = {"OBC-RFL1"} if line == 7 else None
        async with PlantSimulator(config, lines={line}, machines=machines, seed=7, port_offset=offset,
                                  paused=True) as simulator:
            stop, ready = asyncio.Event(), asyncio.Event()
            adapter = asyncio.create_task(run_adapters(sessions, {line}, stop, ready, window=0.1, retention=False))
            try:
                await asyncio.wait_for(ready.wait(), 30)
                return await body(simulator)
            finally:
                stop.set()
                await adapter

    return asyncio.run(main())


async def until(check: Callable[[], Any], limit_s: float = 15) -> Any:
    """Poll `check` (run off the loop) until it returns something truthy; fail after `limit_s`."""
    deadline = asyncio.get_running_loop().time() + limit_s
    while True:
        if found := await asyncio.to_thread(check):
            return found
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"gave up after {limit_s} s")
        await asyncio.sleep(0.2)


def state_of(sessions, code: str) -> str | None:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return session.scalars(select(MachineState.state).join(Machine, Machine.id == MachineState.machine_id)
                               .where(Machine.code == code, MachineState.ended_at.is_(None))).first()


def write_of(sessions, serial: str) -> machine_writes.WriteView | None:  # type: ignore[no-untyped-def]
    """The unit's write once it is done (verified or failed)."""
    with sessions() as session:
        views = machine_writes.writes_of_unit(session, serial)
        return views[-1] if views and views[-1].status != "pending" else None


def node_value(m: SimMachine, tag: str) -> object:
    """What the simulated machine's node holds now."""
    assert m.aspace is not None
    return m.aspace.read_attribute_value(m.tags[tag].node_id, ua.AttributeIds.Value).Value.Value


def actions(sessions, serial: str) -> list[str]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return list(session.scalars(select(AuditRow.action).where(AuditRow.entity_id == serial,
                                                                  AuditRow.action.like("machine.%"))
                                    .order_by(AuditRow.seq)))


def start_on_balancer(client, headers, serial: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = client.post(f"/api/v1/units/{serial}/steps/RWA-BAL/start", headers=headers,
                           json={"station": "RWA-BAL", "machine": "RWA-BAL1"})
    assert response.status_code == 200, response.json
    return response.json


def api_writes(client, headers, serial: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    unit = client.get(f"/api/v1/units/{serial}", headers=headers).json
    return [e for e in unit["executions"] if e["step"] == "RWA-BAL"][-1]["machine_writes"]


def test_a_step_start_writes_the_serial_to_the_machine_and_verifies_it(plant_here, sessions, client, operator,
                                                                      at_balancer) -> None:
    serial, headers = at_balancer, operator[1]

    async def body(simulator: PlantSimulator) -> None:
        await until(lambda: state_of(sessions, "RWA-BAL1") == "Idle")
        started = await asyncio.to_thread(start_on_balancer, client, headers, serial)
        assert [(w["tag"], w["value"], w["status"]) for w in started["machine_writes"]] == [
            ("loaded_serial", serial, "pending")]
        done = await until(lambda: write_of(sessions, serial))
        assert (done.status, done.error) == ("verified", None)
        assert node_value(simulator.by_code["RWA-BAL1"], "loaded_serial") == serial
        await until(lambda: seen_by_adapter(sessions, serial))  # subscribers see the write like any change

    run_plant(plant_here, sessions, 1, body)
    assert actions(sessions, serial) == ["machine.write_request", "machine.write_verified"]
    [shown] = api_writes(client, headers, serial)
    assert shown["status"] == "verified" and shown["done_at"] is not None


def seen_by_adapter(sessions, serial: str) -> bool:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return session.scalar(select(Sample.text).join(Tag).join(Machine).where(
            Machine.code == "RWA-BAL1", Tag.meaning == "loaded_serial", Sample.text == serial)) is not None


def test_a_write_waits_while_the_machine_executes_and_fails_after_the_timeout(plant_here, sessions, client,
                                                                              operator, at_balancer,
                                                                              monkeypatch) -> None:
    monkeypatch.setattr(writeback, "WAIT_S", 3.0)
    serial, headers = at_balancer, operator[1]

    async def body(simulator: PlantSimulator) -> None:
        balancer = simulator.by_code["RWA-BAL1"]
        await until(lambda: state_of(sessions, "RWA-BAL1") == "Idle")
        now = datetime.now(UTC)  # the balancer starts a cycle on its own: its state node says Execute
        assert balancer.aspace is not None
        await balancer.aspace.write_attribute_value(balancer.tags["state"].node_id, ua.AttributeIds.Value, ua.DataValue(
            ua.Variant(EXECUTE, ua.VariantType.Int32), SourceTimestamp=now, ServerTimestamp=now))
        await until(lambda: state_of(sessions, "RWA-BAL1") == "Execute")
        await asyncio.to_thread(start_on_balancer, client, headers, serial)
        await asyncio.sleep(1.5)
        assert write_of(sessions, serial) is None  # still pending
        done = await until(lambda: write_of(sessions, serial))
        assert done.status == "failed"
        assert done.error == "not written: RWA-BAL1 is not idle (state Execute) for 3 s"
        assert done.done_at - done.requested_at >= timedelta(seconds=3)
        assert node_value(balancer, "loaded_serial") != serial

    run_plant(plant_here, sessions, 1, body)
    assert actions(sessions, serial) == ["machine.write_request", "machine.write_failed"]
    [shown] = api_writes(client, headers, serial)
    assert shown["status"] == "failed" and "is not idle (state Execute)" in shown["error"]


@pytest.mark.parametrize(("fault", "error"), [
    ("read_only", r"RWA-BAL1 refused the write to .*Serial.*: .*\(BadUserAccessDenied\)"),
    ("wrong_type", r'the node ns=3;s="DB_Balancer"."GoodCount" holds a UInt32, not a String as configured'),
    ("missing", r'RWA-BAL1 has no node ns=3;s="DB_Balancer"."NoSuchSerial"'),
])
def test_a_node_that_refuses_the_write_fails_it_with_the_reason(plant_here, sessions, client, operator, at_balancer,
                                                                fault: str, error: str) -> None:
    serial, headers = at_balancer, operator[1]
    if fault != "read_only":
        node = {"wrong_type": '"GoodCount"', "missing": '"NoSuchSerial"'}[fault]
        with sessions.begin() as session:
            balancer = session.scalars(select(Machine.id).filter_by(code="RWA-BAL1")).one()
            session.execute(update(Tag).where(Tag.machine_id == balancer, Tag.meaning == "loaded_serial")
                            .values(node_id=f'ns=3;s="DB_Balancer".{node}'))

    async def body(simulator: PlantSimulator) -> None:
        balancer = simulator.by_code["RWA-BAL1"]
        if fault == "read_only":  # a PLC whose serial node its programmer left read-only
            await simulator.servers[0].get_node(balancer.tags["loaded_serial"].node_id).set_writable(False)
        await until(lambda: state_of(sessions, "RWA-BAL1") == "Idle")
        await asyncio.to_thread(start_on_balancer, client, headers, serial)
        done = await until(lambda: write_of(sessions, serial))
        assert done.status == "failed" and re.fullmatch(error + ".*", done.error), done.error
        assert node_value(balancer, "loaded_serial") != serial

    run_plant(plant_here, sessions, 1, body)
    [shown] = api_writes(client, headers, serial)
    assert shown["status"] == "failed" and re.fullmatch(error + ".*", shown["error"])
    assert actions(sessions, serial) == ["machine.write_request", "machine.write_failed"]


@pytest.mark.parametrize(("machine", "back_dated", "written"), [
    ("RWA-BAL1", False, ["loaded_serial"]),
    ("RWA-BAL1", True, []),  # history (the demo, a late entry) commands no machine
    (None, False, []),
])
def test_which_starts_ask_for_a_write(sessions, operator, at_balancer, machine: str | None, back_dated: bool,
                                      written: list[str]) -> None:
    at = datetime.now(UTC) - timedelta(minutes=30) if back_dated else None
    with sessions.begin() as session:
        if back_dated:  # the unit's history must come before the back-dated start
            session.execute(update(StepExecution).values(ended_at=at - timedelta(minutes=1),
                                                         started_at=at - timedelta(minutes=2)))
            session.execute(update(Unit).values(created_at=at - timedelta(minutes=3)))
        e = execution.start_step(session, user_id(session, operator[0]), at_balancer, "RWA-BAL", "RWA-BAL",
                                 machine, at=at)
        assert [w.tag for w in machine_writes.writes_of_execution(session, e)] == written


def test_a_step_naming_a_recipe_loads_it_into_the_machine(plant_here, sessions, client, operator) -> None:
    recipe = "OBC-REFLOW-SAC305-V2"
    with sessions.begin() as session:
        session.execute(update(RoutingStep).where(RoutingStep.code == "OBC-SMT").values(recipe=recipe))
    serial, headers = release(sessions, operator[0], "OBC")[0], operator[1]

    async def body(simulator: PlantSimulator) -> None:
        await until(lambda: state_of(sessions, "OBC-RFL1") == "Idle")
        response = await asyncio.to_thread(client.post, f"/api/v1/units/{serial}/steps/OBC-SMT/start",
                                           headers=headers, json={"station": "OBC-SMT", "machine": "OBC-RFL1"})
        assert [(w["tag"], w["value"]) for w in response.json["machine_writes"]] == [("recipe", recipe)]
        done = await until(lambda: write_of(sessions, serial))
        assert (done.status, done.error) == ("verified", None)
        assert node_value(simulator.by_code["OBC-RFL1"], "recipe") == recipe

    run_plant(plant_here, sessions, 7, body)
    assert actions(sessions, serial) == ["machine.write_request", "machine.write_verified"]


def test_a_recipe_makes_a_new_routing_revision_and_its_absence_none(plant_config) -> None:
    routing = plant_config.lines[0].config.routing
    before = routing.model_dump(mode="json")  # as hashed before steps had recipes
    for step in before["steps"]:
        del step["recipe"]
        for c in step["characteristics"]:
            if c["source"] is None:
                del c["source"]
    assert routing_hash(routing) == hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()
    named = routing.model_copy(update={"steps": [routing.steps[0], routing.steps[1].model_copy(
        update={"recipe": "RWA-BAL-R7"}), *routing.steps[2:]]})
    assert routing_hash(named) != routing_hash(routing)
