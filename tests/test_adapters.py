"""The line adapter against the plant simulator on 127.0.0.1: a real asyncua server and client, no mocks."""
from __future__ import annotations

import asyncio
import logging
import re
import tomllib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from line_adapters.browse import Variable, browse, draft_node_map
from line_adapters.runner import WriterStats, run_adapters
from line_adapters.simulator import PlantSimulator, endpoint_url
from mes.models import Line, Machine, MachineState, ProductionCount, Sample, Tag, TelemetryGap
from mes.plant_config.schema import TagConfig

EXACT = ("RWA-BAL1", "RWA-VIB1", "RWA-TVAC1")  # no deadband: every change sent must arrive


@pytest.fixture
def line_one(sessions, plant, offset):  # type: ignore[no-untyped-def]
    """Line 1's machines, their endpoints moved to free ports where the test's simulator listens."""
    with sessions.begin() as session:
        for machine in session.scalars(select(Machine).join(Line).where(Line.number == 1)):
            machine.endpoint = re.sub(r":(\d+)$", lambda m: f":{int(m.group(1)) + offset}", machine.endpoint)
    return plant, offset


def collect(line_one, sessions, seconds: float, rate: float = 2.0) -> tuple[WriterStats, dict[str, int]]:  # type: ignore[no-untyped-def]
    """Run the simulator and the adapter for line 1: subscribe first, then let the machines run `seconds`."""
    config, offset = line_one

    async def main() -> tuple[WriterStats, dict[str, int]]:
        simulator = PlantSimulator(config, lines={1}, rate=rate, seed=7, port_offset=offset, paused=True)
        async with simulator:
            stop, ready = asyncio.Event(), asyncio.Event()
            adapter = asyncio.create_task(run_adapters(sessions, {1}, stop, ready, window=0.1, retention=False))
            await asyncio.wait_for(ready.wait(), 30)
            await asyncio.sleep(1.5)  # the initial values arrive
            simulator.resume()
            await asyncio.sleep(seconds)
            await simulator.pause()
            await settled(sessions)
            stop.set()
            stats = await adapter
            return stats, {m.code: simulator.sequence(m.code) for m in simulator.machines}

    return asyncio.run(main())


async def settled(sessions, quiet_s: float = 2.5, limit_s: float = 30) -> None:  # type: ignore[no-untyped-def]
    """Wait until no new sample has been stored for `quiet_s` (longer than a publishing interval and a batch)."""
    loop = asyncio.get_running_loop()
    deadline, last, since = loop.time() + limit_s, -1, loop.time()
    while loop.time() < deadline:
        await asyncio.sleep(0.5)
        with sessions() as session:
            count = session.scalar(select(func.count()).select_from(Sample))
        if count != last:
            last, since = count, loop.time()
        elif loop.time() - since >= quiet_s:
            return


def samples_of(session, machine: str) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(Sample).join(Tag).join(Machine)
                          .where(Machine.code == machine)) or 0


def tags_of(session, machine: str) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(Tag).join(Machine).where(Machine.code == machine)) or 0


def test_every_change_the_machines_send_is_stored_with_its_source_time(line_one, sessions) -> None:
    started = datetime.now(UTC)
    stats, sent = collect(line_one, sessions, seconds=6)
    assert stats.committed == stats.received > 0 and stats.failures == 0
    with sessions() as session:
        for code in EXACT:  # each tag's initial value, then every change
            assert sent[code] > 0, code
            assert samples_of(session, code) == sent[code] + tags_of(session, code), code
        times = session.execute(select(func.min(Sample.source_time), func.max(Sample.source_time))).one()
        assert started - timedelta(seconds=5) <= times[0] <= times[1] <= datetime.now(UTC)
        pairs = session.execute(select(Sample.source_time, Sample.received_at)).all()
        assert all(source - timedelta(seconds=1) <= received for source, received in pairs)
        assert session.scalar(select(func.count()).select_from(TelemetryGap)) == 0  # a first run has no gap


def test_states_and_counts_come_from_the_machines(line_one, sessions) -> None:
    collect(line_one, sessions, seconds=8, rate=10.0)
    with sessions() as session:
        balancer = session.scalars(select(Machine.id).filter_by(code="RWA-BAL1")).one()
        states = {s for s in session.scalars(select(MachineState.state).filter_by(machine_id=balancer))}
        assert {"Idle", "Execute"} <= states
        assert session.scalar(select(func.sum(ProductionCount.delta)).filter_by(machine_id=balancer)) > 0
        tvac = session.scalars(select(Machine.id).filter_by(code="RWA-TVAC1")).one()  # a running flag, by URI
        assert {s for s in session.scalars(select(MachineState.state).filter_by(machine_id=tvac))} <= {
            "Execute", "Idle"}
        assert session.scalar(select(func.count()).select_from(MachineState).filter_by(machine_id=tvac)) >= 1


def test_a_wrong_node_id_is_named_and_the_other_tags_keep_flowing(line_one, sessions, caplog) -> None:
    with sessions.begin() as session:
        balancer = session.scalars(select(Machine).filter_by(code="RWA-BAL1")).one()
        session.execute(update(Tag).where(Tag.machine_id == balancer.id, Tag.name == "imbalance")
                        .values(node_id='ns=3;s="DB_Balancer"."NoSuchTag"'))
    with caplog.at_level(logging.ERROR, logger="line_adapters.client"):
        collect(line_one, sessions, seconds=3)
    assert any('RWA-BAL1.imbalance (ns=3;s="DB_Balancer"."NoSuchTag") the server has no such node' in r.message
               for r in caplog.records)
    with sessions() as session:
        flowing = session.scalars(select(Tag.name).join(Sample).join(Machine).where(Machine.code == "RWA-BAL1")
                                  .distinct()).all()
    assert "imbalance" not in flowing and {"spindle_speed", "state", "good_count"} <= set(flowing)


def test_browse_lists_a_servers_variables_and_drafts_a_node_map(line_one) -> None:
    config, offset = line_one

    async def main() -> list[Variable]:
        async with PlantSimulator(config, machines={"RWA-BAL1"}, port_offset=offset, paused=True):
            return await browse(endpoint_url("opc.tcp://127.0.0.1:48011", port_offset=offset))

    variables = asyncio.run(main())
    nodes = {v.node: v.data_type for v in variables}
    assert any(n.endswith(';s="DB_Balancer"."State"') and t == "Int32" for n, t in nodes.items())
    draft = tomllib.loads("[[machines]]\n" + draft_node_map(variables).replace("  [[machines.tags]]",
                                                                                "[[machines.tags]]"))
    tags = [TagConfig.model_validate(t) for t in draft["machines"][0]["tags"]]
    assert {t.meaning for t in tags} >= {"state", "good_count", "reject_count", "process_value"}
