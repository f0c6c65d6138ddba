"""SPC: hand-computed limits and capability, every Nelson rule at a known point, frozen baselines."""
from __future__ import annotations

import dataclasses
import math

import pytest

from dashboards.spc import (
    XBAR_R_CONSTANTS,
    Limits,
    capability,
    imr_chart,
    imr_limits,
    moving_ranges,
    nelson_violations,
    xbar_r_chart,
    xbar_r_limits,
)

approx = pytest.approx
# Centre 0 and σ 1, so a value in a series below reads directly as "how many σ from centre".
UNIT = Limits.individuals(centre=0.0, sigma=1.0, baseline_size=25)


# I-MR ------------------------------------------------------------------------------------------


def test_imr_limits_come_from_the_mean_and_the_average_moving_range() -> None:
    # x = 10 12 11 13 12: mean 58/5 = 11.6; MR = 2 1 2 1, MR̄ = 6/4 = 1.5; σ = 1.5/1.128 = 1.3297872
    # UCL = 11.6 + 3 * 1.3297872 = 15.5893617, LCL = 11.6 - 3.9893617 = 7.6106383; MR UCL = 3.267 * 1.5 = 4.9005
    limits = imr_limits([10, 12, 11, 13, 12])
    assert limits is not None
    assert (limits.chart, limits.subgroup_size, limits.baseline_size) == ("I-MR", 1, 5)
    assert limits.baseline_method == "first-n"
    assert limits.centre == approx(11.6)
    assert limits.sigma == approx(1.3297872)
    assert (limits.ucl, limits.lcl) == (approx(15.5893617), approx(7.6106383))
    assert (limits.range_centre, limits.range_ucl, limits.range_lcl) == (approx(1.5), approx(4.9005), 0.0)


def test_imr_chart_lists_moving_ranges_with_none_for_the_first_point() -> None:
    chart = imr_chart([10, 12, 11, 13, 12])
    assert chart is not None
    assert chart.points == (10, 12, 11, 13, 12)
    assert chart.ranges == (None, 2, 1, 2, 1)
    assert moving_ranges([10, 12, 11]) == [2, 1]


def test_default_baseline_is_the_first_25_points_and_later_points_do_not_move_the_limits() -> None:
    calm = [10.0, 10.5, 11.0, 10.5] * 6 + [10.0]  # 25 points
    chart = imr_chart([*calm, 50.0])
    assert chart is not None
    assert chart.limits == imr_limits(calm)
    assert chart.limits.baseline_size == 25
    assert chart.violations == ((),) * 25 + ((1,),)


def test_a_shorter_baseline_window_can_be_asked_for() -> None:
    # First four: 10 12 11 13, mean 11.5; MR̄ = (2 + 1 + 2)/3 = 5/3; σ = (5/3)/1.128 = 1.4775414
    limits = imr_limits([10, 12, 11, 13, 40], baseline=4)
    assert limits is not None
    assert (limits.centre, limits.sigma, limits.baseline_size) == (11.5, approx(1.4775414), 4)


def test_stored_limits_are_used_as_given_until_a_person_recomputes_them() -> None:
    stored = Limits.individuals(centre=100.0, sigma=2.0, baseline_size=25, baseline_method="recomputed")
    # UCL = 100 + 3 * 2 = 106, so 107 breaks rule 1 whatever the new data's own spread is.
    chart = imr_chart([100.0, 101.0, 107.0], limits=stored)
    assert chart is not None
    assert chart.limits is stored
    assert chart.violations == ((), (), (1,))


def test_limits_are_immutable_and_must_be_consistent() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        UNIT.centre = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        dataclasses.replace(UNIT, lcl=0.5)


# X̄-R ------------------------------------------------------------------------------------------


def test_xbar_r_constants_for_subgroups_of_five_match_the_textbook() -> None:
    a2, d3, d4, d2 = XBAR_R_CONSTANTS[5]
    assert (a2, d3, d4, d2) == (0.577, 0.0, 2.114, 2.326)


@pytest.mark.parametrize("n", range(2, 11))
def test_xbar_r_a2_agrees_with_three_over_d2_root_n(n: int) -> None:
    a2, _, _, d2 = XBAR_R_CONSTANTS[n]
    assert a2 == approx(3 / (d2 * math.sqrt(n)), abs=0.001)


def test_xbar_r_limits_come_from_the_grand_mean_and_the_average_range() -> None:
    # Means 3 and 4 → X̿ = 3.5; ranges 4 and 4 → R̄ = 4; σ = 4/2.326 = 1.7196905
    # UCL = 3.5 + 0.577 * 4 = 5.808, LCL = 3.5 - 2.308 = 1.192; R chart UCL = 2.114 * 4 = 8.456, LCL = 0 * 4
    limits = xbar_r_limits([[1, 2, 3, 4, 5], [2, 3, 4, 5, 6]])
    assert limits is not None
    assert (limits.chart, limits.subgroup_size, limits.baseline_size) == ("X̄-R", 5, 2)
    assert (limits.centre, limits.sigma) == (3.5, approx(1.7196905))
    assert (limits.ucl, limits.lcl) == (approx(5.808), approx(1.192))
    assert (limits.range_centre, limits.range_ucl, limits.range_lcl) == (4.0, approx(8.456), 0.0)


def test_xbar_r_chart_plots_subgroup_means_against_the_baseline_subgroups() -> None:
    # Baseline = first two subgroups (limits above); the third has mean 9 > UCL 5.808.
    chart = xbar_r_chart([[1, 2, 3, 4, 5], [2, 3, 4, 5, 6], [7, 8, 9, 10, 11]], baseline=2)
    assert chart is not None
    assert chart.points == (3.0, 4.0, 9.0)
    assert chart.ranges == (4.0, 4.0, 4.0)
    assert chart.violations == ((), (), (1,))


@pytest.mark.parametrize("subgroups", [[[1, 2], [1, 2, 3]], [[1]], [list(range(11))]])
def test_xbar_r_rejects_ragged_or_out_of_table_subgroups(subgroups: list[list[int]]) -> None:
    with pytest.raises(ValueError):
        xbar_r_limits(subgroups)


def test_xbar_r_chart_rejects_limits_for_another_subgroup_size() -> None:
    with pytest.raises(ValueError):
        xbar_r_chart([[1, 2, 3]], limits=UNIT)


# Nelson rules (against centre 0, σ 1) ----------------------------------------------------------

NELSON_CASES = [
    # rule, series, the one index it flags
    pytest.param(1, [0.5, -0.5, 3.5, -0.5, 0.5], 2, id="rule_1_flags_a_point_beyond_three_sigma"),
    pytest.param(
        2, [-0.5, 0.5, 0.3, 0.6, 0.2, 0.4, 0.1, 0.7, 0.3, 0.5], 9, id="rule_2_flags_the_ninth_point_on_one_side"
    ),
    pytest.param(3, [0.2, -0.5, -0.3, -0.1, 0.1, 0.3, 0.5], 6, id="rule_3_flags_the_sixth_point_of_a_steady_rise"),
    pytest.param(4, [0.5, -0.5] * 7, 13, id="rule_4_flags_the_fourteenth_point_alternating_up_and_down"),
    pytest.param(5, [0.0, 2.5, 0.5, 2.5, 0.0], 3, id="rule_5_flags_the_second_of_three_points_beyond_two_sigma"),
    pytest.param(6, [-0.5, 1.5, 1.5, 0.5, 1.5, 1.5], 5, id="rule_6_flags_the_fourth_of_five_points_beyond_one_sigma"),
    pytest.param(7, ([0.5, 0.4, -0.5, -0.4] * 4)[:15], 14, id="rule_7_flags_the_fifteenth_point_hugging_the_centre"),
    pytest.param(8, [1.5, 1.2, -1.5, -1.2] * 2, 7, id="rule_8_flags_the_eighth_point_outside_one_sigma_either_side"),
]


@pytest.mark.parametrize(("rule", "series", "index"), NELSON_CASES)
def test_each_nelson_rule_flags_exactly_the_point_that_completes_it(rule: int, series: list[float], index: int) -> None:
    expected = [[rule] if i == index else [] for i in range(len(series))]
    assert nelson_violations(series, UNIT) == expected


def test_a_process_in_control_breaks_no_rule() -> None:
    series = [0.5, -0.5, 1.2, 0.3, -1.1, -0.2, 0.8, 0.6, -0.4, 2.2,
              0.1, -0.7, -1.3, 0.4, 0.9, -0.6, 0.2, -2.1, 0.0, 0.5]  # fmt: skip
    assert nelson_violations(series, UNIT) == [[] for _ in series]


def test_rule_4_needs_all_fourteen_points() -> None:
    assert nelson_violations([0.5, -0.5] * 6 + [0.5], UNIT) == [[]] * 13


def test_a_longer_run_flags_every_point_after_the_one_completing_it() -> None:
    # Ten points above centre: the ninth and the tenth each end a run of nine.
    flags = nelson_violations([0.5] * 10, UNIT)
    assert [i for i, found in enumerate(flags) if found] == [8, 9]
    assert flags[9] == [2]


def test_a_point_on_the_centre_line_breaks_a_run_on_one_side() -> None:
    assert nelson_violations([0.5] * 8 + [0.0], UNIT) == [[]] * 9


def test_a_point_can_break_several_rules_listed_in_rule_order() -> None:
    # Two points beyond 3σ in a row: the second is rule 1 and completes rule 5 (two of three beyond 2σ).
    assert nelson_violations([0.0, 3.5, 3.5], UNIT) == [[], [1], [1, 5]]


def test_rules_on_subgroup_means_use_zones_of_the_xbar_limits() -> None:
    # Zone width (5.808 - 3.5)/3 = 0.7693, so 2σ ends at 5.0387 and two means of 5.2 complete rule 5;
    # against the individuals' σ of 1.72 they would sit well inside 2σ.
    limits = xbar_r_limits([[1, 2, 3, 4, 5], [2, 3, 4, 5, 6]])
    assert limits is not None
    assert nelson_violations([3.5, 5.2, 5.2], limits) == [[], [], [5]]


# Capability ------------------------------------------------------------------------------------

VALUES = [9.0, 11.0, 10.0, 12.0, 8.0]  # mean 10; deviations -1 1 0 2 -2, Σd² = 10, s = √(10/4) = √2.5 = 1.5811388


def test_capability_with_the_charts_within_sigma_and_the_overall_sigma() -> None:
    # Within σ = 1: Cp = (19 - 4)/6 = 2.5; CPL = (10 - 4)/3 = 2; CPU = (19 - 10)/3 = 3; Cpk = 2
    # Overall s = √2.5: Pp = 15/(6√2.5) = √2.5 = 1.5811388; PPL = 6/(3√2.5) = 1.2649111; PPU = 9/(3√2.5) = 1.8973666
    result = capability(VALUES, lsl=4.0, usl=19.0, within_sigma=1.0)
    assert (result.n, result.mean, result.sigma_within) == (5, 10.0, 1.0)
    assert result.sigma_overall == approx(1.5811388)
    assert (result.cp, result.cpk, result.cpl, result.cpu) == (approx(2.5), approx(2.0), approx(2.0), approx(3.0))
    assert (result.pp, result.ppk) == (approx(1.5811388), approx(1.2649111))
    assert (result.ppl, result.ppu) == (approx(1.2649111), approx(1.8973666))


def test_capability_within_sigma_defaults_to_the_average_moving_range_over_d2() -> None:
    # MR = 2 1 2 4, MR̄ = 2.25, σ = 2.25/1.128 = 1.9946809; Cp = 15/(6 * 1.9946809) = 1.2533333
    result = capability(VALUES, lsl=4.0, usl=19.0)
    assert result.sigma_within == approx(1.9946809)
    assert result.cp == approx(1.2533333)


def test_a_lower_specification_alone_gives_cpl_only() -> None:
    result = capability(VALUES, lsl=4.0, within_sigma=1.0)
    assert (result.cp, result.cpu, result.pp, result.ppu) == (None, None, None, None)
    assert (result.cpk, result.cpl) == (approx(2.0), approx(2.0))
    assert (result.ppk, result.ppl) == (approx(1.2649111), approx(1.2649111))


def test_an_upper_specification_alone_gives_cpu_only() -> None:
    result = capability(VALUES, usl=19.0, within_sigma=1.0)
    assert (result.cp, result.cpl, result.pp, result.ppl) == (None, None, None, None)
    assert (result.cpk, result.cpu) == (approx(3.0), approx(3.0))
    assert result.ppk == approx(1.8973666)


NO_INDICES = dict.fromkeys(("cp", "cpk", "cpl", "cpu", "pp", "ppk", "ppl", "ppu"))


@pytest.mark.parametrize(
    ("values", "lsl", "usl"),
    [
        pytest.param([], 4.0, 19.0, id="no_values"),
        pytest.param([10.0], 4.0, 19.0, id="one_value"),
        pytest.param([10.0, 10.0, 10.0], 4.0, 19.0, id="zero_spread"),
        pytest.param(VALUES, None, None, id="no_specification"),
    ],
)
def test_capability_is_none_without_enough_data_or_a_specification(values: list[float], lsl: float, usl: float) -> None:
    result = capability(values, lsl=lsl, usl=usl)
    assert {name: getattr(result, name) for name in NO_INDICES} == NO_INDICES


def test_capability_rejects_a_lower_specification_above_the_upper() -> None:
    with pytest.raises(ValueError):
        capability(VALUES, lsl=19.0, usl=4.0)


# No data ---------------------------------------------------------------------------------------


def test_too_few_points_for_a_sigma_give_no_limits_and_no_chart() -> None:
    assert imr_limits([]) is None
    assert imr_limits([10.0]) is None
    assert imr_chart([10.0]) is None
    assert xbar_r_limits([]) is None
    assert xbar_r_chart([]) is None
    assert nelson_violations([], UNIT) == []


def test_missing_measurements_are_refused_rather_than_silently_shifting_indices() -> None:
    with pytest.raises(ValueError):
        imr_chart([1.0, float("nan"), 2.0])
