"""Yield KPIs after ISO 22400-2, over DataFrames; `None` (or an empty frame) means "no data", never 0 or 1.

Which step executions count (`StepExecution.status`: running | paused | passed | failed | aborted):
- *executed* = a judged result, `passed` or `failed`. An `aborted` execution is void: the unit returns to the
  start of the step with no judgement (mes.execution.abort_step), so it is neither a pass nor a failure.
  `running` and `paused` executions have no result yet.
- the *first execution* of a step by a unit is its earliest executed one (by `started_at`, then `id`); a void
  attempt before it does not make it a second try.

Definitions (fractions in 0..1; Pareto percentages in 0..100):
- FPY of a step = units whose first execution of the step passed / units that executed the step.
- FPY of a line = the same ratio pooled over the line's steps: passed first executions / first executions, each
  (unit, step) being one trial. RTY (rolled throughput yield) = the product of the line's step FPYs.
- Produced quantity PQ = units that reached an end: accepted + scrapped (`Unit.status`).
  Final yield (ISO "finished goods ratio") = accepted / PQ; scrap ratio = scrapped / PQ (= 1 - final yield).
- Rework ratio = RQ / PQ, where RQ = units of PQ that executed some step more than once (a repeat after a
  failure, a rework disposition sending it back, or a repair); a retry after a void attempt is not rework.
- Trends are bucketed by the ISO week, in the plant's time zone, of the moment the result was known (`ended_at`).
"""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

EXECUTED = ("passed", "failed")
PASSED = "passed"
ACCEPTED = "accepted"
SCRAPPED = "scrapped"
PLANT_TZ = "Asia/Shanghai"
YIELD_COLUMNS = ["executed", "first_passed", "fpy", "rty"]


def as_utc(values: pd.Series) -> pd.Series:
    """Timestamps as naive UTC (naive input is taken as UTC, the way the database stores it)."""
    values = pd.to_datetime(values)
    return values.dt.tz_convert("UTC").dt.tz_localize(None) if values.dt.tz is not None else values


def iso_week(values: pd.Series, tz: str = PLANT_TZ) -> pd.Series:
    """ISO week labels such as "2026-W07" of UTC timestamps, read on the plant's calendar."""
    local = as_utc(values).dt.tz_localize("UTC").dt.tz_convert(tz)
    cal = local.dt.isocalendar()
    return cal["year"].astype(str) + "-W" + cal["week"].astype(int).map("{:02d}".format)


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator == 0 else numerator / denominator


def first_executions(executions: pd.DataFrame) -> pd.DataFrame:
    """The first executed (passed or failed) execution of each (unit_id, step_code), with a boolean `passed`.

    Columns: unit_id, step_code, status, started_at; optional id (tie-break) and any others, kept as they are.
    """
    done = executions[executions["status"].isin(EXECUTED)]
    order = ["unit_id", "step_code", "started_at"] + (["id"] if "id" in done.columns else [])
    first = done.sort_values(order, kind="stable").drop_duplicates(["unit_id", "step_code"], keep="first")
    return first.assign(passed=first["status"] == PASSED).reset_index(drop=True)


def step_fpy(executions: pd.DataFrame, step_code: str) -> float | None:
    """FPY of one step. Columns: unit_id, step_code, status, started_at[, id]."""
    first = first_executions(executions[executions["step_code"] == step_code])
    return _ratio(float(first["passed"].sum()), len(first))


def fpy_by_step(executions: pd.DataFrame) -> pd.DataFrame:
    """Per step_code: executed (units), first_passed, fpy; in routing order when a `sequence` column is given.

    Columns: unit_id, step_code, status, started_at[, id, sequence].
    """
    first = first_executions(executions)
    table = first.groupby("step_code", sort=True).agg(executed=("passed", "size"), first_passed=("passed", "sum"))
    table["fpy"] = table["first_passed"] / table["executed"]
    if "sequence" in first.columns:
        table = table.join(first.groupby("step_code")["sequence"].min()).sort_values(["sequence"], kind="stable")
        table = table.drop(columns="sequence")
    return table.reset_index().astype({"first_passed": int})


def line_fpy(executions: pd.DataFrame) -> float | None:
    """FPY pooled over the steps of the given executions (pass one line's). Columns as `first_executions`."""
    first = first_executions(executions)
    return _ratio(float(first["passed"].sum()), len(first))


def rolled_throughput_yield(executions: pd.DataFrame) -> float | None:
    """RTY: the product of the step FPYs of the given executions (pass one line's). Columns as `fpy_by_step`."""
    table = fpy_by_step(executions)
    return None if table.empty else float(table["fpy"].prod())


def _yields(first: pd.DataFrame, key: str | list[str]) -> pd.DataFrame:
    """Pooled FPY and RTY per key from first executions."""
    keys = [key] if isinstance(key, str) else list(key)
    if first.empty:
        return pd.DataFrame(columns=[*keys, *YIELD_COLUMNS])
    per_step = first.groupby([*keys, "step_code"])["passed"].mean().groupby(level=keys).prod().rename("rty")
    table = first.groupby(keys).agg(executed=("passed", "size"), first_passed=("passed", "sum")).join(per_step)
    table["fpy"] = table["first_passed"] / table["executed"]
    return table.reset_index()[[*keys, *YIELD_COLUMNS]].astype({"first_passed": int})


def yield_by_line(executions: pd.DataFrame) -> pd.DataFrame:
    """Per line: executed (first executions), first_passed, fpy (pooled), rty.

    Columns: line (Line.code), unit_id, step_code, status, started_at[, id].
    """
    return _yields(first_executions(executions), "line")


def yield_by_week(executions: pd.DataFrame, tz: str = PLANT_TZ, by: Sequence[str] = ()) -> pd.DataFrame:
    """Per ISO week ("2026-W07") of the first execution's ended_at: executed, first_passed, fpy, rty.

    Columns: unit_id, step_code, status, started_at, ended_at[, id] and the `by` columns (e.g. "line").
    """
    first = first_executions(executions)
    first = first.assign(week=iso_week(first["ended_at"], tz))
    return _yields(first, [*by, "week"]).sort_values([*by, "week"], kind="stable").reset_index(drop=True)


def _ends(units: pd.DataFrame) -> tuple[int, int]:
    status = units["status"]
    return int((status == ACCEPTED).sum()), int((status == SCRAPPED).sum())


def final_yield(units: pd.DataFrame) -> float | None:
    """accepted / (accepted + scrapped). Columns: status (Unit.status)."""
    accepted, scrapped = _ends(units)
    return _ratio(accepted, accepted + scrapped)


def scrap_ratio(units: pd.DataFrame) -> float | None:
    """scrapped / (accepted + scrapped). Columns: status (Unit.status)."""
    accepted, scrapped = _ends(units)
    return _ratio(scrapped, accepted + scrapped)


def rework_ratio(units: pd.DataFrame, executions: pd.DataFrame) -> float | None:
    """Units of (accepted + scrapped) that executed a step more than once / (accepted + scrapped).

    Columns: units id, status; executions unit_id, step_code, status.
    """
    produced = units.loc[units["status"].isin((ACCEPTED, SCRAPPED)), "id"]
    done = executions[executions["status"].isin(EXECUTED) & executions["unit_id"].isin(produced)]
    repeats = done.groupby(["unit_id", "step_code"]).size()
    reworked = repeats[repeats > 1].index.get_level_values("unit_id").nunique()
    return _ratio(reworked, produced.nunique())


def defect_pareto(ncrs: pd.DataFrame, by: str = "defect_code") -> pd.DataFrame:
    """NCR counts per `by` (defect_code, line or step_code), most frequent first, with percent and
    cumulative_percent (0..100). NCRs without a value (e.g. no step) are one bar with key None.

    Columns: the `by` column, one row per NCR (Nonconformance).
    """
    return pareto(ncrs.assign(count=1), by, "count")


def pareto(frame: pd.DataFrame, by: str, value: str) -> pd.DataFrame:
    """Sum of `value` per `by`, largest first (ties by key), with percent and cumulative_percent (0..100)."""
    if frame.empty:
        return pd.DataFrame(columns=[by, value, "percent", "cumulative_percent"])
    table = frame.groupby(by, dropna=False, sort=False)[value].sum().reset_index()
    table[by] = table[by].astype(object).where(table[by].notna(), None)
    table["_key"] = table[by].map(lambda k: (k is None, str(k)))
    table = table.sort_values([value, "_key"], ascending=[False, True], kind="stable").drop(columns="_key")
    total = table[value].sum()
    table["percent"] = 100.0 * table[value] / total if total else float("nan")
    table["cumulative_percent"] = 100.0 * table[value].cumsum() / total if total else float("nan")  # ends at 100
    return table.reset_index(drop=True)
