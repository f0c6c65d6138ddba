"""Throughput, WIP, cycle and queue time against hand-computed numbers on tiny frames."""
from __future__ import annotations

import pandas as pd
import pytest

from dashboards import flow

MIN = 60.0


def accepted_units() -> pd.DataFrame:
    return pd.DataFrame({
        "status": ["accepted", "accepted", "accepted", "accepted", "scrapped", "ready"],
        "accepted_at": pd.to_datetime([
            "2026-02-10 02:00",  # Tuesday -> 2026-W07
            "2026-02-15 15:59",  # Sunday 23:59 in Shanghai -> 2026-W07
            "2026-02-15 16:30",  # Monday 00:30 in Shanghai -> 2026-W08
            "2026-03-02 01:00",  # Monday -> 2026-W10
            None, None]),
    })


def test_throughput_counts_accepted_units_per_iso_week_in_plant_time_with_empty_weeks_as_zero() -> None:
    # W07: 2, W08: 1, W09: none accepted -> 0, W10: 1; scrapped and ready units are not throughput
    assert flow.throughput(accepted_units()).to_dict("records") == [
        {"period": "2026-W07", "accepted": 2}, {"period": "2026-W08", "accepted": 1},
        {"period": "2026-W09", "accepted": 0}, {"period": "2026-W10", "accepted": 1}]


def test_throughput_per_day_and_per_month() -> None:
    assert flow.throughput(accepted_units(), freq="month").values.tolist() == [["2026-02", 3], ["2026-03", 1]]
    daily = flow.throughput(accepted_units().iloc[:3], freq="day")
    # Shanghai dates: 10 Feb, 15 Feb, 16 Feb -> 7 days from the 10th to the 16th
    assert len(daily) == 7
    assert daily.set_index("period")["accepted"][["2026-02-10", "2026-02-15", "2026-02-16", "2026-02-12"]].tolist() == [
        1, 1, 1, 0]


def test_throughput_over_a_window_fills_every_period_and_drops_acceptances_outside() -> None:
    table = flow.throughput(accepted_units(), start="2026-02-02 00:00", end="2026-02-15 12:00")
    # window W06..W07, whole weeks: W06 0, W07 2 (the W08 and W10 units are outside)
    assert table.values.tolist() == [["2026-W06", 0], ["2026-W07", 2]]


def test_throughput_is_empty_without_acceptances_or_window() -> None:
    assert flow.throughput(accepted_units().iloc[4:]).empty


def steps() -> pd.DataFrame:
    return pd.DataFrame([(1, 1, "ASM"), (1, 2, "BAL"), (1, 3, "ACC"),
                         (2, 1, "ASM"), (2, 2, "CLN"), (2, 3, "BAL"), (2, 4, "ACC")],
                        columns=["routing_revision_id", "sequence", "code"])


def test_wip_by_step_counts_units_in_work_by_their_next_step_across_routing_revisions() -> None:
    units = pd.DataFrame([
        ("in_work", 1, 2, 11),     # BAL, in the step
        ("in_work", 1, 2, None),   # BAL, waiting
        ("in_work", 2, 3, None),   # BAL in revision 2 (sequence 3), waiting
        ("in_work", 2, 2, None),   # CLN, waiting
        ("ready", 1, 3, None),     # passed its last step: not WIP
        ("scrapped", 1, 2, None),
        ("accepted", 1, 3, None),
    ], columns=["status", "routing_revision_id", "next_sequence", "current_execution_id"])
    # BAL 3 (1 in step, 2 waiting), CLN 1, ASM and ACC 0; ordered by first sequence, ties by code
    assert flow.wip_by_step(units, steps()).to_dict("records") == [
        {"step_code": "ASM", "sequence": 1, "wip": 0, "in_step": 0, "waiting": 0},
        {"step_code": "BAL", "sequence": 2, "wip": 3, "in_step": 1, "waiting": 2},
        {"step_code": "CLN", "sequence": 2, "wip": 1, "in_step": 0, "waiting": 1},
        {"step_code": "ACC", "sequence": 3, "wip": 0, "in_step": 0, "waiting": 0},
    ]


def executions(*rows: tuple) -> pd.DataFrame:
    """Rows of (unit_id, step_code, status, started_at, ended_at or None); ids follow row order."""
    frame = pd.DataFrame([(i + 1, *r) for i, r in enumerate(rows)],
                         columns=["id", "unit_id", "step_code", "status", "started_at", "ended_at"])
    return frame.assign(started_at=pd.to_datetime(frame["started_at"]), ended_at=pd.to_datetime(frame["ended_at"]))


def test_cycle_time_per_step_is_median_and_p90_of_completed_executions() -> None:
    ex = executions((1, "BAL", "passed", "2026-02-10 08:00", "2026-02-10 08:10"),
                    (2, "BAL", "failed", "2026-02-10 08:00", "2026-02-10 08:20"),
                    (3, "BAL", "passed", "2026-02-10 08:00", "2026-02-10 08:30"),
                    (4, "BAL", "passed", "2026-02-10 08:00", "2026-02-10 08:40"),
                    (5, "BAL", "aborted", "2026-02-10 08:00", "2026-02-10 08:05"),  # void: left out
                    (6, "BAL", "running", "2026-02-10 08:00", None),               # unfinished: left out
                    (1, "ACC", "passed", "2026-02-10 09:00", "2026-02-10 10:00"))
    table = flow.cycle_time_by_step(ex)
    # BAL: 10, 20, 30, 40 min -> median 25 min; p90 at rank 0.9 x 3 = 2.7 -> 30 + 0.7 x 10 = 37 min
    # ACC: one execution of 60 min
    assert table.to_dict("records") == [
        {"step_code": "ACC", "executions": 1, "median_s": 60 * MIN, "p90_s": 60 * MIN},
        {"step_code": "BAL", "executions": 4, "median_s": 25 * MIN, "p90_s": pytest.approx(37 * MIN)},
    ]


def test_cycle_time_is_empty_without_completed_executions() -> None:
    ex = executions((1, "BAL", "running", "2026-02-10 08:00", None))
    assert flow.cycle_time_by_step(ex).empty


def queue_history() -> pd.DataFrame:
    return executions(
        (1, "ASM", "passed", "2026-02-10 08:00", "2026-02-10 09:00"),
        (1, "BAL", "failed", "2026-02-10 09:30", "2026-02-10 10:00"),   # waited 30 min
        (1, "BAL", "passed", "2026-02-10 11:00", "2026-02-10 11:20"),   # waited 60 min (the NCR disposition)
        (2, "ASM", "passed", "2026-02-10 08:00", "2026-02-10 08:30"),
        (2, "BAL", "aborted", "2026-02-10 08:40", "2026-02-10 08:50"),  # waited 10 min
        (2, "BAL", "running", "2026-02-10 09:00", None),               # waited 10 min after the abort
    )


def test_queue_time_is_the_start_minus_the_end_of_the_units_previous_execution() -> None:
    table = flow.queue_times(queue_history())
    # first executions (ASM) have no previous one, so no queue time
    assert table[["id", "queue_s"]].values.tolist() == [[2, 30 * MIN], [3, 60 * MIN], [5, 10 * MIN], [6, 10 * MIN]]


def test_queue_time_per_step_is_median_and_p90() -> None:
    table = flow.queue_time_by_step(queue_history().sample(frac=1, random_state=3))  # row order must not matter
    # BAL: 10, 10, 30, 60 min -> median 20 min; p90 rank 2.7 -> 30 + 0.7 x 30 = 51 min
    assert table.to_dict("records") == [
        {"step_code": "BAL", "executions": 4, "median_s": 20 * MIN, "p90_s": pytest.approx(51 * MIN)}]


def test_queue_time_is_empty_when_no_unit_has_two_executions() -> None:
    ex = executions((1, "ASM", "passed", "2026-02-10 08:00", "2026-02-10 09:00"))
    assert flow.queue_time_by_step(ex).empty
