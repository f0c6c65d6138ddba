"""Yield KPIs against hand-computed numbers on tiny frames."""
from __future__ import annotations

import pandas as pd
import pytest

from dashboards import kpi

COLUMNS = ["id", "unit_id", "step_code", "status", "started_at", "ended_at", "line"]


def executions(*rows: tuple) -> pd.DataFrame:
    """Rows of (unit_id, step_code, status, started_at[, ended_at[, line]]); ids follow row order."""
    full = []
    for i, (unit_id, step_code, status, started_at, *rest) in enumerate(rows):
        ended_at = rest[0] if rest else None
        line = rest[1] if len(rest) > 1 else "RWA"
        full.append((i + 1, unit_id, step_code, status, started_at, ended_at, line))
    frame = pd.DataFrame(full, columns=COLUMNS)
    return frame.assign(started_at=pd.to_datetime(frame["started_at"]), ended_at=pd.to_datetime(frame["ended_at"]))


def units(*statuses: str) -> pd.DataFrame:
    return pd.DataFrame({"id": range(1, len(statuses) + 1), "status": list(statuses)})


def test_fpy_counts_only_the_first_execution_of_a_step() -> None:
    ex = executions((1, "BAL", "passed", "2026-02-10 08:00"),
                    (2, "BAL", "failed", "2026-02-10 09:00"),
                    (2, "BAL", "passed", "2026-02-10 12:00"),  # the retry of unit 2 does not count
                    (3, "BAL", "passed", "2026-02-10 10:00"),
                    (4, "BAL", "passed", "2026-02-10 11:00"))
    # 3 of 4 first executions passed -> 0.75
    assert kpi.step_fpy(ex, "BAL") == 0.75


def test_fpy_excludes_aborted_executions_so_the_first_judged_attempt_counts() -> None:
    ex = executions((1, "BAL", "aborted", "2026-02-10 08:00"),
                    (1, "BAL", "passed", "2026-02-10 09:00"),
                    (2, "BAL", "failed", "2026-02-10 08:30"))
    # unit 1: aborted (void) then passed -> first judged passed; unit 2 failed -> 1 of 2 -> 0.5
    assert kpi.step_fpy(ex, "BAL") == 0.5


def test_fpy_leaves_out_units_whose_execution_has_no_result_yet() -> None:
    ex = executions((1, "BAL", "passed", "2026-02-10 08:00"),
                    (2, "BAL", "running", "2026-02-10 09:00"),
                    (3, "BAL", "paused", "2026-02-10 09:30"))
    # only unit 1 has executed the step: 1 of 1 -> 1.0
    assert kpi.step_fpy(ex, "BAL") == 1.0


def test_fpy_orders_attempts_by_start_time_not_by_row_order() -> None:
    ex = executions((1, "BAL", "passed", "2026-02-10 12:00"),
                    (1, "BAL", "failed", "2026-02-10 08:00"))
    # the 08:00 failure is the first attempt: 0 of 1 -> 0.0
    assert kpi.step_fpy(ex, "BAL") == 0.0


def test_fpy_breaks_a_start_time_tie_by_id() -> None:
    ex = executions((1, "BAL", "failed", "2026-02-10 08:00"),
                    (1, "BAL", "passed", "2026-02-10 08:00"))
    # same start: id 1 (failed) came first -> 0.0
    assert kpi.step_fpy(ex, "BAL") == 0.0


@pytest.mark.parametrize("ex", [
    executions(),
    executions((1, "BAL", "aborted", "2026-02-10 08:00"), (2, "BAL", "running", "2026-02-10 09:00")),
    executions((1, "ASM", "passed", "2026-02-10 08:00")),
], ids=["no rows", "only void or unfinished", "other step"])
def test_step_fpy_is_none_without_executed_units(ex: pd.DataFrame) -> None:
    assert kpi.step_fpy(ex, "BAL") is None


def two_steps() -> pd.DataFrame:
    return executions((1, "ASM", "passed", "2026-02-10 08:00"), (2, "ASM", "passed", "2026-02-10 08:10"),
                      (3, "ASM", "failed", "2026-02-10 08:20"), (4, "ASM", "passed", "2026-02-10 08:30"),
                      (3, "ASM", "passed", "2026-02-10 09:00"),
                      (1, "BAL", "passed", "2026-02-10 10:00"), (2, "BAL", "failed", "2026-02-10 10:10"))


def test_fpy_by_step_lists_executed_first_passed_and_fpy_per_step() -> None:
    table = kpi.fpy_by_step(two_steps())
    # ASM: units 1-4 executed, 3 passed first (unit 3 failed first) -> 0.75; BAL: 1 of 2 -> 0.5
    assert table.to_dict("records") == [
        {"step_code": "ASM", "executed": 4, "first_passed": 3, "fpy": 0.75},
        {"step_code": "BAL", "executed": 2, "first_passed": 1, "fpy": 0.5},
    ]


def test_fpy_by_step_follows_routing_sequence_when_given() -> None:
    ex = two_steps().assign(sequence=lambda f: f["step_code"].map({"ASM": 2, "BAL": 1}))
    assert list(kpi.fpy_by_step(ex)["step_code"]) == ["BAL", "ASM"]


def test_line_fpy_pools_first_executions_over_the_line_steps() -> None:
    # (3 ASM + 1 BAL passed first) / (4 ASM + 2 BAL first executions) = 4 / 6
    assert kpi.line_fpy(two_steps()) == pytest.approx(4 / 6)


def test_rolled_throughput_yield_is_the_product_of_step_fpys() -> None:
    # 0.75 (ASM) x 0.5 (BAL) -> 0.375
    assert kpi.rolled_throughput_yield(two_steps()) == 0.375


def test_line_yields_are_none_without_data() -> None:
    assert kpi.line_fpy(executions()) is None
    assert kpi.rolled_throughput_yield(executions()) is None
    assert kpi.fpy_by_step(executions()).empty


def test_yield_by_line_gives_pooled_fpy_and_rty_per_line() -> None:
    other = executions((7, "STT-CAL", "failed", "2026-02-10 08:00", None, "STT"),
                       (8, "STT-CAL", "passed", "2026-02-10 08:00", None, "STT"))
    table = kpi.yield_by_line(pd.concat([two_steps(), other.assign(id=other["id"] + 100)]))
    # RWA: 4/6 pooled, 0.75 x 0.5 = 0.375; STT: 1 of 2 -> 0.5 both
    assert table.to_dict("records") == [
        {"line": "RWA", "executed": 6, "first_passed": 4, "fpy": pytest.approx(4 / 6), "rty": 0.375},
        {"line": "STT", "executed": 2, "first_passed": 1, "fpy": 0.5, "rty": 0.5},
    ]


def test_yield_by_week_buckets_by_iso_week_of_the_result_in_plant_time() -> None:
    ex = executions(
        # 2026-02-15 15:59 UTC is Sunday 23:59 in Shanghai -> 2026-W07
        (1, "BAL", "passed", "2026-02-15 15:00", "2026-02-15 15:59"),
        (2, "BAL", "failed", "2026-02-15 15:00", "2026-02-15 15:59"),
        # its retry comes in W08 but does not count
        (2, "BAL", "passed", "2026-02-16 01:00", "2026-02-16 02:00"),
        # 2026-02-15 16:30 UTC is Monday 00:30 in Shanghai -> 2026-W08
        (3, "BAL", "passed", "2026-02-15 16:00", "2026-02-15 16:30"),
        (3, "ACC", "failed", "2026-02-16 03:00", "2026-02-16 04:00"),
        (4, "BAL", "passed", "2026-02-16 03:00", "2026-02-16 04:00"))
    table = kpi.yield_by_week(ex)
    # W07: BAL 1 of 2 -> 0.5, RTY 0.5; W08: BAL 2 of 2 and ACC 0 of 1 -> pooled 2/3, RTY 1.0 x 0.0 = 0.0
    assert table.to_dict("records") == [
        {"week": "2026-W07", "executed": 2, "first_passed": 1, "fpy": 0.5, "rty": 0.5},
        {"week": "2026-W08", "executed": 3, "first_passed": 2, "fpy": pytest.approx(2 / 3), "rty": 0.0},
    ]


def test_yield_by_week_can_split_by_line_and_is_empty_without_data() -> None:
    ex = executions((1, "BAL", "passed", "2026-02-10 01:00", "2026-02-10 02:00", "RWA"),
                    (2, "CAL", "failed", "2026-02-10 01:00", "2026-02-10 02:00", "STT"))
    table = kpi.yield_by_week(ex, by=["line"])
    assert table[["line", "week", "fpy"]].to_dict("records") == [
        {"line": "RWA", "week": "2026-W07", "fpy": 1.0}, {"line": "STT", "week": "2026-W07", "fpy": 0.0}]
    assert kpi.yield_by_week(executions()).empty


def test_iso_week_reads_tz_aware_timestamps_in_plant_time() -> None:
    stamps = pd.Series(pd.to_datetime(["2026-01-01 00:30"]).tz_localize("Asia/Shanghai"))
    # Thursday 1 January 2026 is in ISO week 1 of 2026
    assert list(kpi.iso_week(stamps)) == ["2026-W01"]


def test_final_yield_is_accepted_over_accepted_plus_scrapped() -> None:
    u = units("accepted", "accepted", "accepted", "scrapped", "in_work", "ready")
    # 3 accepted / (3 + 1 scrapped); in work and ready units have no outcome yet -> 0.75
    assert kpi.final_yield(u) == 0.75


def test_scrap_ratio_is_scrapped_over_accepted_plus_scrapped() -> None:
    # 1 scrapped / 4 produced -> 0.25
    assert kpi.scrap_ratio(units("accepted", "accepted", "accepted", "scrapped", "in_work")) == 0.25


def test_final_yield_and_scrap_ratio_are_none_before_any_unit_ends() -> None:
    u = units("in_work", "ready")
    assert kpi.final_yield(u) is None
    assert kpi.scrap_ratio(u) is None
    assert kpi.final_yield(units()) is None


def test_rework_ratio_counts_produced_units_that_repeated_a_judged_step() -> None:
    u = units("accepted", "accepted", "scrapped", "accepted", "in_work")
    ex = executions((1, "BAL", "failed", "2026-02-10 08:00"), (1, "BAL", "passed", "2026-02-10 12:00"),
                    (2, "BAL", "passed", "2026-02-10 08:00"),
                    (3, "BAL", "failed", "2026-02-10 08:00"),
                    (4, "BAL", "aborted", "2026-02-10 08:00"), (4, "BAL", "passed", "2026-02-10 09:00"),
                    (5, "BAL", "failed", "2026-02-10 08:00"), (5, "BAL", "failed", "2026-02-10 09:00"))
    # produced = units 1-4; reworked = unit 1 only (unit 4 retried a void attempt; unit 5 is not produced) -> 1/4
    assert kpi.rework_ratio(u, ex) == 0.25


def test_rework_ratio_is_none_without_produced_units() -> None:
    assert kpi.rework_ratio(units("in_work"), executions((1, "BAL", "failed", "2026-02-10 08:00"))) is None


def ncrs() -> pd.DataFrame:
    return pd.DataFrame({"defect_code": ["IMB", "IMB", "SOLDER", "IMB", "TORQUE", "SOLDER"],
                         "line": ["RWA", "RWA", "OBC", "RWA", "RWA", "OBC"],
                         "step_code": ["BAL", "BAL", "SMT", None, "FT", "SMT"]})


def test_defect_pareto_sorts_codes_by_count_with_cumulative_percent() -> None:
    table = kpi.defect_pareto(ncrs())
    # 6 NCRs: IMB 3 -> 50 %, SOLDER 2 -> 33.3 % (cum 83.3), TORQUE 1 -> 16.7 % (cum 100)
    assert table.to_dict("records") == [
        {"defect_code": "IMB", "count": 3, "percent": 50.0, "cumulative_percent": 50.0},
        {"defect_code": "SOLDER", "count": 2, "percent": pytest.approx(100 / 3),
         "cumulative_percent": pytest.approx(250 / 3)},
        {"defect_code": "TORQUE", "count": 1, "percent": pytest.approx(100 / 6), "cumulative_percent": 100.0},
    ]


def test_defect_pareto_by_line() -> None:
    # RWA 4 of 6, OBC 2 of 6
    table = kpi.defect_pareto(ncrs(), by="line")
    assert table[["line", "count", "cumulative_percent"]].values.tolist() == [
        ["RWA", 4, pytest.approx(400 / 6)], ["OBC", 2, 100.0]]


def test_defect_pareto_by_step_keeps_ncrs_without_a_step_as_their_own_bar_and_breaks_ties_by_key() -> None:
    table = kpi.defect_pareto(ncrs(), by="step_code")
    # BAL 2, SMT 2 (tie -> by key), then FT 1 and no step 1 (None after named keys)
    assert table[["step_code", "count"]].values.tolist() == [["BAL", 2], ["SMT", 2], ["FT", 1], [None, 1]]
    assert table["cumulative_percent"].iloc[-1] == 100.0


def test_defect_pareto_is_empty_without_ncrs() -> None:
    table = kpi.defect_pareto(ncrs().iloc[0:0])
    assert table.empty
    assert list(table.columns) == ["defect_code", "count", "percent", "cumulative_percent"]
