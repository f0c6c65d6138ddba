"""Dashboard queries: a small history seeded through the services, read back as DataFrames, fed to the KPIs.

The plant works in Asia/Shanghai (UTC+8): the ASSEMBLY calendar's two weekday shifts, 08:00-16:00 and
16:00-24:00 local, are 00:00-16:00 UTC of the same date, which keeps the hand-computed numbers readable.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import select

from dashboards import flow, kpi, oee, spc
from dashboards import queries as q
from dashboards import queries_machines as qm
from mes import corrections, execution, quality, signoff, telemetry
from mes.models import Characteristic, Line, Machine, RoutingStep, Station, StepExecution, Tag, Unit
from mes.telemetry import Reading
from tests.factories import build_accepted, fit_components, good_values, inspector_id, next_step, release, user_id

FRI = datetime(2026, 11, 6, tzinfo=UTC)  # ISO week 2026-W45
MON = datetime(2026, 11, 9, tzinfo=UTC)  # 2026-W46
TUE = MON + timedelta(days=1)
H, M = timedelta(hours=1), timedelta(minutes=1)
USER = "sup.a"


def work(sessions, serial: str, step_code: str, start: datetime, end: datetime, **values: str) -> str | None:  # type: ignore[no-untyped-def]
    """Start and complete the unit's next step between two past times; the NCR number if it failed."""
    with sessions.begin() as session:
        uid = user_id(session, USER)
        step = next_step(session, serial)
        assert step.code == step_code
        execution.start_step(session, uid, serial, step_code, step.stations[0].code, at=start)
        fit_components(session, uid, serial, step)
        done = execution.complete_step(session, uid, serial, step_code, {**good_values(step), **values}, at=end)
        return done.ncr.number if done.ncr else None


def decide(sessions, number: str, decision: str, at: datetime, rework_step: str | None = None) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as session:
        quality.disposition(session, inspector_id(session), number, decision, "1234", rework_step=rework_step, at=at)


def buy_off(sessions, serial: str, step_code: str, at: datetime) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as session:
        signoff.buy_off(session, inspector_id(session), serial, step_code, "1234", at=at)


@pytest.fixture
def history(sessions, make_user) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Five reaction wheels, U1..U5 (returned by name -> serial):

    RWA-ASM  U3 Fri 02-04 pass (preload 29.5, corrected to 29.8 at 05:00) | U1 Mon 00:10 aborted 00:20, 01-02 pass
             U2 01:00-01:30 pass | U4 02:00-02:40 FAIL (torque) -> rework, 05:00-05:50 pass | U5 Tue 08:00 running
    RWA-BAL  U3 Mon 06-07 pass | U1 Tue 01:00-02:30 pass | U2 Tue 03-05 FAIL -> scrapped 05:30
    NCRs     U4 OOT RWA-ASM Mon 02:40 | U2 OOT RWA-BAL Tue 05:00 | U4 WKM RWA-ASM Tue 06:00 -> scrapped 07:00
    """
    make_user("supervisor", name=USER)
    u = dict(zip(("U1", "U2", "U3", "U4", "U5"), release(sessions, USER, "RWA", 5, at=FRI - 4 * 24 * H),
                 strict=True))
    work(sessions, u["U3"], "RWA-ASM", FRI + 2 * H, FRI + 4 * H, bearing_preload="29.5")
    with sessions.begin() as session:
        corrections.correct_measurement(session, user_id(session, USER), "1234", u["U3"], "RWA-ASM",
                                        "bearing_preload", "29.8", "digits transposed", at=FRI + 5 * H)
    buy_off(sessions, u["U3"], "RWA-ASM", FRI + 6 * H)
    with sessions.begin() as session:
        execution.start_step(session, user_id(session, USER), u["U1"], "RWA-ASM", "RWA-CR1", at=MON + 10 * M)
        execution.abort_step(session, user_id(session, USER), u["U1"], "RWA-ASM", "wrong fixture", at=MON + 20 * M)
    work(sessions, u["U1"], "RWA-ASM", MON + H, MON + 2 * H, bearing_preload="30.5")
    work(sessions, u["U2"], "RWA-ASM", MON + H, MON + 90 * M, bearing_preload="30.0")
    ncr = work(sessions, u["U4"], "RWA-ASM", MON + 2 * H, MON + 160 * M, bearing_preload="31.0",
               retaining_nut_torque="2.61")
    assert ncr is not None
    decide(sessions, ncr, "rework", MON + 4 * H, rework_step="RWA-ASM")
    work(sessions, u["U4"], "RWA-ASM", MON + 5 * H, MON + 350 * M, bearing_preload="29.0")
    work(sessions, u["U3"], "RWA-BAL", MON + 6 * H, MON + 7 * H)
    for serial in (u["U1"], u["U2"]):
        buy_off(sessions, serial, "RWA-ASM", MON + 8 * H)
    work(sessions, u["U1"], "RWA-BAL", TUE + H, TUE + 150 * M)
    ncr = work(sessions, u["U2"], "RWA-BAL", TUE + 3 * H, TUE + 5 * H, residual_imbalance="0.60")
    assert ncr is not None
    decide(sessions, ncr, "scrap", TUE + 330 * M)
    with sessions.begin() as session:
        wkm = quality.open_ncr(session, user_id(session, USER), u["U4"], "WKM", "solder splash on the stator",
                               step_code="RWA-ASM", at=TUE + 6 * H)
    decide(sessions, wkm.number, "scrap", TUE + 7 * H)
    with sessions.begin() as session:
        execution.start_step(session, user_id(session, USER), u["U5"], "RWA-ASM", "RWA-CR1", at=TUE + 8 * H)
    return u


def ids(sessions, serials: dict[str, str]) -> dict[int, str]:  # type: ignore[no-untyped-def]
    """Unit id -> U1..U5."""
    with sessions() as session:
        by_serial = dict(session.execute(select(Unit.serial, Unit.id)).all())
    return {by_serial[serial]: name for name, serial in serials.items()}


def test_executions_are_the_ones_started_in_the_window_with_aware_utc_times(sessions, history) -> None:
    names = ids(sessions, history)
    with sessions() as session:
        every = q.executions(session, "RWA")
        monday = q.executions(session, "RWA", MON, TUE)
        other_line = q.executions(session, "STR")
        line_id = session.scalar(select(Line.id).filter_by(code="RWA"))
        by_id = q.executions(session, line_id, MON, TUE)
    assert list(every.columns) == q.EXECUTION_COLUMNS
    assert len(every) == 10 and other_line.empty and list(other_line.columns) == q.EXECUTION_COLUMNS
    assert str(every["started_at"].dt.tz) == "UTC" and str(every["ended_at"].dt.tz) == "UTC"
    assert [(names[r.unit_id], r.step_code, r.status, r.started_at) for r in monday.itertuples()] == [
        ("U1", "RWA-ASM", "aborted", pd.Timestamp(MON + 10 * M)),
        ("U1", "RWA-ASM", "passed", pd.Timestamp(MON + H)),
        ("U2", "RWA-ASM", "passed", pd.Timestamp(MON + H)),
        ("U4", "RWA-ASM", "failed", pd.Timestamp(MON + 2 * H)),
        ("U4", "RWA-ASM", "passed", pd.Timestamp(MON + 5 * H)),
        ("U3", "RWA-BAL", "passed", pd.Timestamp(MON + 6 * H))]
    assert set(monday["line"]) == {"RWA"} and list(monday["sequence"]) == [1, 1, 1, 1, 1, 2]
    assert by_id.equals(monday)
    running = every[every["status"] == "running"]
    assert len(running) == 1 and running["ended_at"].isna().all()


def test_previous_adds_the_execution_before_the_window_so_queue_times_are_whole(sessions, history) -> None:
    names = ids(sessions, history)
    with sessions() as session:
        plain = q.executions(session, "RWA", MON)
        with_previous = q.executions(session, "RWA", MON, previous=True)
    extra = with_previous[~with_previous["id"].isin(plain["id"])]
    assert [(names[r.unit_id], r.step_code) for r in extra.itertuples()] == [("U3", "RWA-ASM")]
    # Queue in front of each execution (hand-computed): RWA-ASM U1 40 min after the abort, U4 140 min after the
    # failure; RWA-BAL U3 74 h after Friday's assembly, U1 23 h, U2 25.5 h.
    queues = flow.queue_time_by_step(with_previous)
    assert queues.to_dict("records") == [
        {"step_code": "RWA-ASM", "executions": 2, "median_s": 5400.0, "p90_s": 7800.0},
        {"step_code": "RWA-BAL", "executions": 3, "median_s": 91800.0, "p90_s": 231480.0}]
    assert flow.queue_time_by_step(plain).set_index("step_code").loc["RWA-BAL", "executions"] == 2


def test_cycle_times_per_step_from_the_executions(sessions, history) -> None:
    with sessions() as session:
        table = flow.cycle_time_by_step(q.executions(session, "RWA"))
    # RWA-ASM: 1800, 2400, 3000, 3600, 7200 s; RWA-BAL: 3600, 5400, 7200 s.
    assert table.to_dict("records") == [
        {"step_code": "RWA-ASM", "executions": 5, "median_s": 3000.0, "p90_s": 5760.0},
        {"step_code": "RWA-BAL", "executions": 3, "median_s": 5400.0, "p90_s": 6840.0}]


def test_first_executions_are_ranked_in_sql_and_give_the_hand_computed_yields(sessions, history) -> None:
    names = ids(sessions, history)
    with sessions() as session:
        first = q.first_executions(session, "RWA")
        week_46 = q.first_executions(session, "RWA", MON - 8 * H, MON + 7 * 24 * H - 8 * H)
        asm_only = q.first_executions(session, "RWA", step_code="RWA-ASM")
    assert list(first.columns) == q.EXECUTION_COLUMNS
    # The aborted attempt of U1 is void, U4's rework is a second try: neither is a first execution.
    assert [(names[r.unit_id], r.step_code, r.status) for r in first.itertuples()] == [
        ("U3", "RWA-ASM", "passed"), ("U2", "RWA-ASM", "passed"), ("U1", "RWA-ASM", "passed"),
        ("U4", "RWA-ASM", "failed"), ("U3", "RWA-BAL", "passed"), ("U1", "RWA-BAL", "passed"),
        ("U2", "RWA-BAL", "failed")]
    assert kpi.step_fpy(first, "RWA-ASM") == 0.75  # 4 units, U4 failed first then passed on rework
    assert kpi.step_fpy(first, "RWA-BAL") == pytest.approx(2 / 3)
    assert kpi.line_fpy(first) == pytest.approx(5 / 7)
    assert kpi.rolled_throughput_yield(first) == pytest.approx(0.75 * 2 / 3)
    assert kpi.fpy_by_step(first)["step_code"].tolist() == ["RWA-ASM", "RWA-BAL"]
    assert kpi.step_fpy(week_46, "RWA-ASM") == pytest.approx(2 / 3)  # U3's Friday pass is in W45
    assert len(asm_only) == 4 and set(asm_only["step_code"]) == {"RWA-ASM"}
    weeks = kpi.yield_by_week(first)
    assert weeks[["week", "executed", "first_passed"]].values.tolist() == [["2026-W45", 1, 1], ["2026-W46", 6, 4]]
    assert weeks["fpy"].tolist() == pytest.approx([1.0, 4 / 6]) and weeks["rty"].tolist() == pytest.approx(
        [1.0, 4 / 9])
    by_line = kpi.yield_by_line(first)
    assert by_line["line"].tolist() == ["RWA"] and by_line["rty"].tolist() == pytest.approx([0.5])


def test_units_in_the_window_and_wip_by_step(sessions, history) -> None:
    names = ids(sessions, history)
    with sessions() as session:
        every = q.units(session, "RWA")
        since_tuesday_6 = q.units(session, "RWA", TUE + 6 * H, TUE + 24 * H)
        steps = q.routing_steps(session, "RWA")
    assert list(every.columns) == ["id", "serial", "status", "accepted_at", "scrapped_at", "routing_revision_id",
                                   "next_sequence", "current_execution_id", "line", "created_at"]
    state = {names[r.id]: (r.status, r.next_sequence, pd.notna(r.current_execution_id)) for r in every.itertuples()}
    assert state == {"U1": ("in_work", 3, False), "U2": ("scrapped", 2, False), "U3": ("in_work", 3, False),
                     "U4": ("scrapped", 2, False), "U5": ("in_work", 1, True)}
    scrapped = every.set_index(every["id"].map(names))["scrapped_at"]
    assert scrapped["U2"] == pd.Timestamp(TUE + 330 * M) and scrapped["U4"] == pd.Timestamp(TUE + 7 * H)
    assert str(every["scrapped_at"].dt.tz) == "UTC" and every["accepted_at"].isna().all()
    assert sorted(since_tuesday_6["id"].map(names)) == ["U1", "U3", "U4", "U5"]  # U2 ended before the window
    assert steps["code"].tolist()[:3] == ["RWA-ASM", "RWA-BAL", "RWA-FT"] and len(steps) == 8
    wip = flow.wip_by_step(every, steps).set_index("step_code")
    assert wip.loc["RWA-ASM", ["wip", "in_step", "waiting"]].tolist() == [1, 1, 0]
    assert wip.loc["RWA-FT", ["wip", "in_step", "waiting"]].tolist() == [2, 0, 2]
    assert wip["wip"].sum() == 3
    assert kpi.final_yield(every) == 0.0 and kpi.scrap_ratio(every) == 1.0


def test_accepted_units_give_final_yield_rework_ratio_and_throughput(sessions, history) -> None:
    accepted = build_accepted(sessions, USER, "RWA")  # now: past its 8 steps, signed off
    with sessions() as session:
        every = q.units(session, "RWA")
        repeats = q.rework_executions(session, "RWA")
        recent = q.units(session, "RWA", datetime.now(UTC) - H)
        recent_repeats = q.rework_executions(session, "RWA", datetime.now(UTC) - H)
    row = every[every["serial"] == accepted].iloc[0]
    assert row["status"] == "accepted" and abs(pd.Timestamp.now(tz="UTC") - row["accepted_at"]) < timedelta(minutes=5)
    assert kpi.final_yield(every) == pytest.approx(1 / 3) and kpi.scrap_ratio(every) == pytest.approx(2 / 3)
    # Only U4 (scrapped) ran a step twice: its failed and its passed RWA-ASM come back, nothing else.
    assert list(repeats.columns) == ["unit_id", "step_code", "status"]
    assert repeats[["step_code", "status"]].values.tolist() == [["RWA-ASM", "failed"], ["RWA-ASM", "passed"]]
    assert kpi.rework_ratio(every, repeats) == pytest.approx(1 / 3)
    assert sorted(recent["status"]) == ["accepted", "in_work", "in_work", "in_work"] and recent_repeats.empty
    assert kpi.rework_ratio(recent, recent_repeats) == 0.0
    weekly = flow.throughput(every, "week")
    assert weekly["accepted"].tolist() == [1]


def test_ncrs_feed_the_defect_pareto(sessions, history) -> None:
    with sessions() as session:
        every = q.ncrs(session)
        tuesday = q.ncrs(session, "RWA", TUE, TUE + 24 * H)
        elsewhere = q.ncrs(session, "STR")
    assert list(every.columns) == ["id", "number", "defect_code", "line", "step_code", "status", "opened_at",
                                   "unit_id"]
    assert every[["defect_code", "step_code", "status"]].values.tolist() == [
        ["OOT", "RWA-ASM", "closed"], ["OOT", "RWA-BAL", "closed"], ["WKM", "RWA-ASM", "closed"]]
    assert len(tuesday) == 2 and elsewhere.empty
    by_code = kpi.defect_pareto(every)
    assert by_code[["defect_code", "count"]].values.tolist() == [["OOT", 2], ["WKM", 1]]
    assert by_code["cumulative_percent"].tolist() == pytest.approx([200 / 3, 100.0])
    assert kpi.defect_pareto(every, "step_code")[["step_code", "count"]].values.tolist() == [
        ["RWA-ASM", 2], ["RWA-BAL", 1]]


def test_measurements_for_spc_skip_voided_values_and_come_with_spec_limits(sessions, history) -> None:
    names = ids(sessions, history)
    with sessions() as session:
        picker = q.characteristics(session, "RWA")
        key = q.characteristics(session, "RWA", key_only=True)
        preload = session.scalar(select(Characteristic.id).join(RoutingStep).where(
            RoutingStep.code == "RWA-ASM", Characteristic.name == "bearing_preload"))
        values = q.measurements(session, preload)
        monday = q.measurements(session, preload, MON, TUE)
        serial_of = dict(session.execute(select(Unit.id, Unit.serial)).all())
    row = picker.set_index("name").loc["bearing_preload"]
    assert (row["line"], row["step_code"], row["nominal"], row["lower"], row["upper"], row["key"],
            row["measurements"]) == ("RWA", "RWA-ASM", 30.0, 27.0, 33.0, True, 5)
    imbalance = picker.set_index("name").loc["residual_imbalance"]
    assert imbalance["lower"] is None and imbalance["upper"] == 0.5 and imbalance["measurements"] == 3
    assert "visual_cleanliness" not in set(picker["name"])  # pass/fail: nothing to chart
    assert set(key["name"]) < set(picker["name"]) and key["key"].all()
    assert list(values.columns) == ["id", "execution_id", "serial", "value", "passed", "recorded_at"]
    by_name = {serial_of[i]: n for i, n in names.items()}
    assert [(by_name[r.serial], r.value) for r in values.itertuples()] == [
        ("U3", 29.8), ("U2", 30.0), ("U1", 30.5), ("U4", 31.0), ("U4", 29.0)]  # 29.5 was voided
    assert values["recorded_at"].is_monotonic_increasing and len(monday) == 4
    # Hand-computed: mean 30.06, MR-bar (0.2 + 0.5 + 0.5 + 2.0) / 4 = 0.8, sigma = 0.8 / 1.128.
    limits = spc.imr_limits(values["value"])
    assert limits is not None and limits.centre == pytest.approx(30.06) and limits.sigma == pytest.approx(0.8 / 1.128)
    cap = spc.capability(values["value"], row["lower"], row["upper"], limits.sigma)
    assert cap.cp == pytest.approx(6 * 1.128 / (6 * 0.8)) and cap.cpk == pytest.approx(2.94 * 1.128 / 2.4)


@pytest.mark.parametrize(("name", "start", "end", "expected"), [
    # Friday from 04:00 UTC (12:00 local): the rest of the early shift and the late one; no weekend; Monday.
    ("ASSEMBLY", FRI + 4 * H, MON + 24 * H,
     [(FRI + 4 * H, FRI + 8 * H), (FRI + 8 * H, FRI + 16 * H), (MON, MON + 8 * H), (MON + 8 * H, MON + 16 * H)]),
    # 2027-01-01 is a day off in config/plant.toml.
    ("ASSEMBLY", datetime(2026, 12, 31, tzinfo=UTC), datetime(2027, 1, 2, tzinfo=UTC),
     [(datetime(2026, 12, 31, tzinfo=UTC), datetime(2026, 12, 31, 8, tzinfo=UTC)),
      (datetime(2026, 12, 31, 8, tzinfo=UTC), datetime(2026, 12, 31, 16, tzinfo=UTC))]),
    ("CONTINUOUS", FRI + 90 * M, MON, [(FRI + 90 * M, MON)]),
])
def test_calendar_gives_the_planned_intervals_of_the_window(sessions, plant, name, start, end, expected) -> None:
    with sessions() as session:
        table = qm.calendar(session, name, start, end)
    assert list(table.columns) == ["start", "end"] and str(table["start"].dt.tz) == "UTC"
    assert list(zip(table["start"], table["end"], strict=True)) == [(pd.Timestamp(s), pd.Timestamp(e))
                                                                   for s, e in expected]


WED = datetime(2026, 11, 18, tzinfo=UTC)


@pytest.fixture
def balancer_day(sessions, make_user) -> int:  # type: ignore[no-untyped-def]
    """RWA-BAL1 (ASSEMBLY calendar, ideal cycle 1500 s) on Wednesday, through the telemetry store:

    states  12:00 Stopped, 13:00 Idle, 14:30 Execute, 15:30 Held, 15:45 Execute, 16:30 Stopped (open)
    good    13:00 100 (baseline), 14:45:00 101, 14:45:30 102, 16:40 103; reject 13:00 5 (baseline), 15:20 6
    RWA-TVAC1 (no counters): executions ending 14:10 passed, 15:10:00 and 15:10:30 failed.
    """
    make_user("supervisor", name=USER)
    serial = release(sessions, USER, "RWA", 1, at=WED - 24 * H)[0]
    with sessions() as session:
        machine = session.scalars(select(Machine).filter_by(code="RWA-BAL1")).one()
        tag = {t.name: t.id for t in session.scalars(select(Tag).filter_by(machine_id=machine.id))}
        tags = telemetry.load_tags(session, [machine.id])
    packml = {"Stopped": 2, "Idle": 4, "Execute": 6, "Held": 11}
    readings = [(tag["state"], WED + at, packml[state]) for at, state in (
        (12 * H, "Stopped"), (13 * H, "Idle"), (14.5 * H, "Execute"), (15.5 * H, "Held"), (15.75 * H, "Execute"),
        (16.5 * H, "Stopped"))]
    readings += [(tag["good_count"], WED + at, value) for at, value in (
        (13 * H, 100), (14.75 * H, 101), (14.75 * H + 30 * timedelta(seconds=1), 102), (16 * H + 40 * M, 103))]
    readings += [(tag["reject_count"], WED + at, value) for at, value in ((13 * H, 5), (15 * H + 20 * M, 6))]
    with sessions.begin() as session:
        telemetry.store(session, [Reading(t, at, float(v), None, 0, at) for t, at, v in readings], tags)
    with sessions.begin() as session:
        unit = session.scalars(select(Unit).filter_by(serial=serial)).one()
        step = session.scalars(select(RoutingStep).filter_by(routing_revision_id=unit.routing_revision_id,
                                                             code="RWA-TVAC")).one()
        for ended, status in ((14 * H + 10 * M, "passed"), (15 * H + 10 * M, "failed"),
                              (15 * H + 10.5 * M, "failed")):
            session.add(StepExecution(
                unit_id=unit.id, step_id=step.id, step_code=step.code, status=status,
                station_id=session.scalars(select(Station.id).filter_by(code="RWA-ENV")).one(),
                machine_id=session.scalars(select(Machine.id).filter_by(code="RWA-TVAC1")).one(),
                started_by_id=user_id(session, USER), started_at=WED + ended - 3 * H, ended_at=WED + ended))
    return machine.id


def test_machines_carry_their_ideal_cycle_calendar_and_counters(sessions, plant) -> None:
    with sessions() as session:
        line = qm.machines(session, "RWA")
        one = qm.machines(session, machine="RWA-TVAC1")
    assert line["code"].tolist() == ["RWA-BAL1", "RWA-RIR1", "RWA-TC1", "RWA-TVAC1", "RWA-VIB1"]
    assert {"id", "code", "line", "ideal_cycle_s"} <= set(line.columns)
    row = line.set_index("code").loc["RWA-BAL1"]
    assert (row["ideal_cycle_s"], row["calendar"], row["counters"]) == (1500.0, "ASSEMBLY", True)
    assert pd.isna(one["ideal_cycle_s"].iloc[0]) and not one["counters"].iloc[0]


def test_machine_states_overlapping_the_window_with_an_empty_reason(sessions, balancer_day) -> None:
    with sessions() as session:
        states = qm.machine_states(session, machine="RWA-BAL1", start=WED + 14 * H, end=WED + 18 * H)
        none = qm.machine_states(session, "STR", start=WED, end=WED + 24 * H)
    assert list(states.columns) == ["id", "machine_id", "state", "started_at", "ended_at", "reason"]
    assert states["state"].tolist() == ["Idle", "Execute", "Held", "Execute", "Stopped"]  # 12:00 Stopped ended
    assert states["started_at"].iloc[0] == pd.Timestamp(WED + 13 * H) and pd.isna(states["ended_at"].iloc[-1])
    assert states["reason"].isna().all() and none.empty


def test_production_counts_per_minute_from_counters_or_step_records(sessions, balancer_day) -> None:
    with sessions() as session:
        counts = qm.production_counts(session, "RWA", start=WED + 14 * H, end=WED + 18 * H)
    assert list(counts.columns) == qm.COUNT_COLUMNS
    with sessions() as session:
        code = dict(session.execute(select(Machine.id, Machine.code)).all())
    rows = [(code[r.machine_id], r.kind, r.delta, r.at, r.source) for r in counts.itertuples()]
    assert rows == [
        ("RWA-BAL1", "good", 2, pd.Timestamp(WED + 14.75 * H), "counters"),  # two counts in one minute
        ("RWA-BAL1", "reject", 1, pd.Timestamp(WED + 15 * H + 20 * M), "counters"),
        ("RWA-BAL1", "good", 1, pd.Timestamp(WED + 16 * H + 40 * M), "counters"),
        ("RWA-TVAC1", "good", 1, pd.Timestamp(WED + 14 * H + 10 * M), "steps"),
        ("RWA-TVAC1", "reject", 2, pd.Timestamp(WED + 15 * H + 10 * M), "steps")]


def test_oee_of_the_balancer_from_the_queried_frames(sessions, balancer_day) -> None:
    span = (WED + 14 * H, WED + 18 * H)  # planned 14:00-16:00 (the late shift ends at 16:00 UTC)
    with sessions() as session:
        states = qm.machine_states(session, machine="RWA-BAL1", start=span[0], end=span[1])
        counts = qm.production_counts(session, machine="RWA-BAL1", start=span[0], end=span[1])
        machines = qm.machines(session, machine="RWA-BAL1")
        calendars = qm.calendars(session, span[0], span[1], machine="RWA-BAL1")
    assert list(calendars) == [balancer_day]
    table = oee.oee_by_machine(states, counts, machines, calendars, span).iloc[0]
    # Idle 14:00-14:30, Execute 14:30-15:30 and 15:45-16:00, Held 15:30-15:45; the rest is not planned.
    assert (table["planned_s"], table["production_s"], table["idle_s"], table["down_s"], table["not_planned_s"]) == (
        7200.0, 4500.0, 1800.0, 900.0, 7200.0)
    # 2 good + 1 reject inside the calendar (16:40 is not planned): A = 4500/7200, P = 1500 x 3 / 4500, Q = 2/3.
    assert (table["produced"], table["good"]) == (3, 2)
    assert table["availability"] == pytest.approx(0.625) and table["performance"] == pytest.approx(1.0)
    assert table["quality"] == pytest.approx(2 / 3) and table["oee"] == pytest.approx(0.625 * 2 / 3)
    lost = oee.downtime_pareto(states, calendars, span)
    assert lost[["state", "seconds"]].values.tolist() == [["Idle", 1800.0], ["Held", 900.0]]
    assert oee.downtime_pareto(states, calendars, span, by="reason")[["reason", "seconds"]].values.tolist() == [
        [None, 2700.0]]
