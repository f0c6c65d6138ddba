"""Statistical process control: I-MR and X̄-R limits, Nelson rules 1-8, capability.

Pure functions over plain sequences (lists, numpy arrays, pandas Series); `None` means "no data".
Limits come from a baseline window (default the first 25 points or subgroups) and are frozen:
a caller that stored limits after a person recomputed them passes that `Limits` back in, and the
chart is judged against it however much data arrives later.

Nelson rules flag the point that completes them (the Minitab / AIAG convention): a run of ten
points on one side flags the ninth and the tenth, each of which ends a run of nine. Rules 5 and 6
("k out of m") flag a point only if it is itself beyond the zone, so a calm point after two wild
ones is not blamed. "Beyond" is strict (a point exactly on a zone line is not beyond it), a point
exactly on the centre line is on neither side, and equal neighbours break a trend or alternation.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

DEFAULT_BASELINE = 25
Values = Sequence[float] | np.ndarray  # a pandas Series works too


class ChartConstants(NamedTuple):
    a2: float
    d3: float
    d4: float
    d2: float


# Factors for X̄-R charts by subgroup size n. Source: D. C. Montgomery, "Introduction to Statistical
# Quality Control", Appendix Table VI (the same values as ASTM E2587 and the AIAG SPC manual).
XBAR_R_CONSTANTS: dict[int, ChartConstants] = {
    2: ChartConstants(1.880, 0.000, 3.267, 1.128),
    3: ChartConstants(1.023, 0.000, 2.574, 1.693),
    4: ChartConstants(0.729, 0.000, 2.282, 2.059),
    5: ChartConstants(0.577, 0.000, 2.114, 2.326),
    6: ChartConstants(0.483, 0.000, 2.004, 2.534),
    7: ChartConstants(0.419, 0.076, 1.924, 2.704),
    8: ChartConstants(0.373, 0.136, 1.864, 2.847),
    9: ChartConstants(0.337, 0.184, 1.816, 2.970),
    10: ChartConstants(0.308, 0.223, 1.777, 3.078),
}
# A moving range is a range of a subgroup of two, so the I-MR chart uses the n = 2 row.
D2_MOVING_RANGE = XBAR_R_CONSTANTS[2].d2  # 1.128
D4_MOVING_RANGE = XBAR_R_CONSTANTS[2].d4  # 3.267


@dataclass(frozen=True)
class Limits:
    """Frozen control limits of one chart; `sigma` is the within σ of an individual value."""

    chart: str  # "I-MR" or "X̄-R"
    centre: float  # mean of the individuals, or grand mean of the subgroup means
    sigma: float  # MR̄/d2 or R̄/d2: the σ that Cp and Cpk use
    ucl: float  # limits of the plotted points (individuals or subgroup means)
    lcl: float
    range_centre: float  # MR̄ or R̄
    range_ucl: float
    range_lcl: float
    subgroup_size: int  # 1 for I-MR
    baseline_size: int  # how many points (or subgroups) the limits were computed from
    baseline_method: str = "first-n"  # e.g. "first-n", "recomputed", "manual"

    def __post_init__(self) -> None:
        if self.sigma < 0 or not self.lcl <= self.centre <= self.ucl:
            raise ValueError(f"inconsistent limits: {self}")

    @classmethod
    def individuals(
        cls, centre: float, sigma: float, baseline_size: int, baseline_method: str = "manual"
    ) -> Limits:
        """I-MR limits from a centre and a within σ, e.g. values a person entered or stored."""
        mr_bar = sigma * D2_MOVING_RANGE
        return cls(
            chart="I-MR", centre=centre, sigma=sigma, ucl=centre + 3 * sigma, lcl=centre - 3 * sigma,
            range_centre=mr_bar, range_ucl=D4_MOVING_RANGE * mr_bar, range_lcl=0.0,
            subgroup_size=1, baseline_size=baseline_size, baseline_method=baseline_method,
        )


@dataclass(frozen=True)
class Chart:
    """A control chart ready to draw: points, ranges, the limits used, rule numbers per point."""

    limits: Limits
    points: tuple[float, ...]  # individuals or subgroup means
    ranges: tuple[float | None, ...]  # moving ranges (None for the first point) or subgroup ranges
    violations: tuple[tuple[int, ...], ...]  # Nelson rule numbers broken at each point


@dataclass(frozen=True)
class Capability:
    """Cp/Cpk (within σ) and Pp/Ppk (overall σ); one-sided specs leave Cp and Pp as None."""

    n: int
    mean: float | None
    sigma_within: float | None
    sigma_overall: float | None
    cp: float | None
    cpk: float | None
    cpl: float | None
    cpu: float | None
    pp: float | None
    ppk: float | None
    ppl: float | None
    ppu: float | None


def _as_array(values: Values) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError("expected a one-dimensional series")
    if not np.all(np.isfinite(array)):
        # Dropping gaps silently would shift every later point's index and its rule flags.
        raise ValueError("values must be finite; drop missing measurements before charting")
    return array


def moving_ranges(values: Values) -> list[float]:
    """|x[i] - x[i-1]| for i >= 1 (one fewer than the values)."""
    return np.abs(np.diff(_as_array(values))).tolist()


def imr_limits(values: Values, baseline: int = DEFAULT_BASELINE, method: str = "first-n") -> Limits | None:
    """I-MR limits from the first `baseline` values (all of them if fewer); None under two values."""
    if baseline < 2:
        raise ValueError("an I-MR baseline needs at least two points")
    window = _as_array(values)[:baseline]
    if window.size < 2:
        return None
    centre = float(window.mean())
    mr_bar = float(np.abs(np.diff(window)).mean())
    return Limits.individuals(centre, mr_bar / D2_MOVING_RANGE, window.size, method)


def _subgroup_array(subgroups: Sequence[Sequence[float]]) -> np.ndarray:
    if len(subgroups) == 0:
        return np.empty((0, 0))
    sizes = {len(group) for group in subgroups}
    if len(sizes) > 1:
        raise ValueError(f"subgroups must share one size, got sizes {sorted(sizes)}")
    array = np.asarray(subgroups, dtype=float).reshape(len(subgroups), -1)
    if array.shape[1] not in XBAR_R_CONSTANTS:
        raise ValueError(f"subgroup size must be 2..10, got {array.shape[1]}")
    if not np.all(np.isfinite(array)):
        raise ValueError("values must be finite; drop missing measurements before charting")
    return array


def xbar_r_limits(
    subgroups: Sequence[Sequence[float]], baseline: int = DEFAULT_BASELINE, method: str = "first-n"
) -> Limits | None:
    """X̄-R limits from the first `baseline` subgroups (equal size n, 2..10); None without subgroups."""
    if baseline < 1:
        raise ValueError("an X̄-R baseline needs at least one subgroup")
    window = _subgroup_array(subgroups)[:baseline]
    if window.shape[0] == 0:
        return None
    n = window.shape[1]
    a2, d3, d4, d2 = XBAR_R_CONSTANTS[n]
    grand_mean = float(window.mean(axis=1).mean())
    r_bar = float(np.ptp(window, axis=1).mean())
    return Limits(
        chart="X̄-R", centre=grand_mean, sigma=r_bar / d2,
        ucl=grand_mean + a2 * r_bar, lcl=grand_mean - a2 * r_bar,
        range_centre=r_bar, range_ucl=d4 * r_bar, range_lcl=d3 * r_bar,
        subgroup_size=n, baseline_size=window.shape[0], baseline_method=method,
    )


def _run_lengths(mask: np.ndarray) -> np.ndarray:
    """Length of the run of True values ending at each index."""
    index = np.arange(mask.size)
    last_false = np.maximum.accumulate(np.where(mask, -1, index))
    return index - last_false


def _k_of_last_m(mask: np.ndarray, k: int, m: int) -> np.ndarray:
    """True where the point is in `mask` and at least k of the last m points (itself included) are."""
    totals = np.convolve(mask.astype(int), np.ones(m, dtype=int))[: mask.size]
    return mask & (totals >= k)


def nelson_violations(points: Values, limits: Limits) -> list[list[int]]:
    """For each point, the Nelson rules (1-8) it completes against `limits`, in rule order."""
    x = _as_array(points)
    if x.size == 0:
        return []
    c = limits.centre
    # Zones come from the limits themselves, so they match the plotted UCL/LCL for either chart.
    up, down = (limits.ucl - c) / 3, (c - limits.lcl) / 3
    above = {k: x > c + k * up for k in (1, 2)}
    below = {k: x < c - k * down for k in (1, 2)}
    step = np.diff(x, prepend=x[:1])
    rising, falling = step > 0, step < 0
    turn = np.zeros(x.size, dtype=bool)
    turn[2:] = step[2:] * step[1:-1] < 0
    rules = {
        1: (x > limits.ucl) | (x < limits.lcl),
        2: (_run_lengths(x > c) >= 9) | (_run_lengths(x < c) >= 9),
        3: (_run_lengths(rising) >= 5) | (_run_lengths(falling) >= 5),  # 6 points = 5 steps
        4: _run_lengths(turn) >= 12,  # 14 points = 13 steps = 12 turns
        5: _k_of_last_m(above[2], 2, 3) | _k_of_last_m(below[2], 2, 3),
        6: _k_of_last_m(above[1], 4, 5) | _k_of_last_m(below[1], 4, 5),
        7: _run_lengths((x < c + up) & (x > c - down)) >= 15,
        8: _run_lengths(above[1] | below[1]) >= 8,
    }
    return [[rule for rule, flags in rules.items() if flags[i]] for i in range(x.size)]


def imr_chart(
    values: Values, limits: Limits | None = None, baseline: int = DEFAULT_BASELINE
) -> Chart | None:
    """An I-MR chart judged against `limits` (frozen) or limits from the first `baseline` values."""
    x = _as_array(values)
    if limits is None:
        limits = imr_limits(x, baseline)
    if limits is None:
        return None
    ranges = (None, *np.abs(np.diff(x)).tolist())
    violations = tuple(tuple(found) for found in nelson_violations(x, limits))
    return Chart(limits, tuple(x.tolist()), ranges, violations)


def xbar_r_chart(
    subgroups: Sequence[Sequence[float]], limits: Limits | None = None, baseline: int = DEFAULT_BASELINE
) -> Chart | None:
    """An X̄-R chart of equal-size subgroups, against `limits` or the first `baseline` subgroups."""
    array = _subgroup_array(subgroups)
    if limits is None:
        limits = xbar_r_limits(array, baseline)
    if limits is None:
        return None
    if array.shape[0] and array.shape[1] != limits.subgroup_size:
        raise ValueError(f"limits are for subgroups of {limits.subgroup_size}, got {array.shape[1]}")
    means = array.mean(axis=1)
    violations = tuple(tuple(found) for found in nelson_violations(means, limits))
    return Chart(limits, tuple(means.tolist()), tuple(np.ptp(array, axis=1).tolist()), violations)


def capability(
    values: Values, lsl: float | None = None, usl: float | None = None, within_sigma: float | None = None
) -> Capability:
    """Cp, Cpk, Pp, Ppk of `values` against the specification; `within_sigma` defaults to MR̄/1.128.

    Pass the chart's `Limits.sigma` as `within_sigma` (R̄/d2 for subgrouped data, values flattened).
    Both families use the mean of `values`; with fewer than two values, no specification or a zero σ the
    indices are None.
    """
    if lsl is not None and usl is not None and lsl >= usl:
        raise ValueError(f"lower specification {lsl} is not below upper {usl}")
    x = _as_array(values)
    mean = float(x.mean()) if x.size else None
    if within_sigma is None and x.size >= 2:
        within_sigma = float(np.abs(np.diff(x)).mean()) / D2_MOVING_RANGE
    overall = float(x.std(ddof=1)) if x.size >= 2 else None

    def indices(sigma: float | None) -> tuple[float | None, ...]:
        if x.size < 2 or mean is None or not sigma:
            return None, None, None, None
        two_sided = (usl - lsl) / (6 * sigma) if lsl is not None and usl is not None else None
        lower = (mean - lsl) / (3 * sigma) if lsl is not None else None
        upper = (usl - mean) / (3 * sigma) if usl is not None else None
        sides = [side for side in (lower, upper) if side is not None]
        return two_sided, min(sides) if sides else None, lower, upper

    cp, cpk, cpl, cpu = indices(within_sigma)
    pp, ppk, ppl, ppu = indices(overall)
    return Capability(x.size, mean, within_sigma, overall, cp, cpk, cpl, cpu, pp, ppk, ppl, ppu)
