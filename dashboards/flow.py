"""Flow KPIs: throughput, work in progress, cycle time and queue time, over DataFrames.

- Throughput = units accepted per period (day, ISO week or month on the plant's calendar). Periods between the
  first and last (or over a given window) with no acceptance are real zeros; no period at all is an empty frame.
- WIP at a step = units in work (`Unit.status == "in_work"`) whose next routing step is that step, split into
  `in_step` (an execution is open: `current_execution_id` set) and `waiting`. Units that are ready (passed their
  last step, awaiting acceptance), accepted or scrapped are not WIP of any step.
- Cycle time of an execution = ended_at - started_at of a completed (passed or failed) execution, wall-clock
  (pauses included); aborted ones are void and running ones unfinished.
- Queue time of an execution = its started_at - ended_at of the same unit's previous execution (any status that
  ended, aborted included: waiting to restart is waiting). A unit's first execution has no queue time.
Per-step statistics are the median and the 90th percentile (linear interpolation between the order statistics).
"""
from __future__ import annotations

import pandas as pd

from dashboards.kpi import EXECUTED, PLANT_TZ, as_utc

PERIODS = {"day": "D", "week": "W-SUN", "month": "M"}  # W-SUN: weeks Monday to Sunday, as ISO 8601
STAT_COLUMNS = ["step_code", "executions", "median_s", "p90_s"]


def _local(values: pd.Series, tz: str) -> pd.Series:
    return as_utc(values).dt.tz_localize("UTC").dt.tz_convert(tz).dt.tz_localize(None)


def _label(period: pd.Period, freq: str) -> str:
    if freq == "week":
        year, week, _ = period.start_time.isocalendar()
        return f"{year}-W{week:02d}"
    return str(period)


def throughput(units: pd.DataFrame, freq: str = "week", tz: str = PLANT_TZ,
               start: object | None = None, end: object | None = None) -> pd.DataFrame:
    """Units accepted per period: columns period ("2026-02-10", "2026-W07" or "2026-02") and accepted.

    Columns: status, accepted_at (the acceptance signature's time, UTC). `start`/`end` (UTC) name the first and
    last period shown, zeros included; periods are always counted whole.
    """
    code = PERIODS[freq]
    done = units[(units["status"] == "accepted") & units["accepted_at"].notna()]
    periods = _local(done["accepted_at"], tz).dt.to_period(code)
    bounds = [pd.Period(_local(pd.Series([b]), tz).iloc[0], code) for b in (start, end) if b is not None]
    ends = [*periods, *bounds]
    if not ends:
        return pd.DataFrame({"period": pd.Series(dtype=str), "accepted": pd.Series(dtype=int)})
    lo = bounds[0] if start is not None else min(ends)
    hi = bounds[-1] if end is not None else max(ends)
    counts = periods[(periods >= lo) & (periods <= hi)].value_counts()
    span = pd.period_range(lo, hi, freq=code)
    return pd.DataFrame({"period": [_label(p, freq) for p in span],
                         "accepted": [int(counts.get(p, 0)) for p in span]})


def wip_by_step(units: pd.DataFrame, steps: pd.DataFrame) -> pd.DataFrame:
    """Per step_code in routing order: sequence, wip, in_step, waiting (every step, zeros included).

    Columns: units status, routing_revision_id, next_sequence, current_execution_id (Unit);
    steps routing_revision_id, sequence, code (RoutingStep).
    """
    work = units[units["status"] == "in_work"]
    here = work.merge(steps, left_on=["routing_revision_id", "next_sequence"],
                      right_on=["routing_revision_id", "sequence"], how="inner")
    here = here.assign(in_step=here["current_execution_id"].notna())
    counts = here.groupby("code").agg(wip=("in_step", "size"), in_step=("in_step", "sum"))
    order = steps.groupby("code")["sequence"].min().rename("sequence")
    table = order.to_frame().join(counts).fillna(0).astype(int)
    table["waiting"] = table["wip"] - table["in_step"]
    table = table.reset_index().rename(columns={"code": "step_code"})
    return table.sort_values(["sequence", "step_code"], kind="stable").reset_index(drop=True)[
        ["step_code", "sequence", "wip", "in_step", "waiting"]]


def _stats(frame: pd.DataFrame, value: str) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=STAT_COLUMNS)
    grouped = frame.groupby("step_code", sort=True)[value]
    table = pd.DataFrame({"executions": grouped.size(), "median_s": grouped.median(),
                          "p90_s": grouped.quantile(0.9, interpolation="linear")})
    return table.reset_index()[STAT_COLUMNS]


def cycle_times(executions: pd.DataFrame) -> pd.DataFrame:
    """The completed executions with cycle_s. Columns: step_code, status, started_at, ended_at (StepExecution)."""
    done = executions[executions["status"].isin(EXECUTED) & executions["ended_at"].notna()]
    seconds = (as_utc(done["ended_at"]) - as_utc(done["started_at"])).dt.total_seconds()
    return done.assign(cycle_s=seconds)


def cycle_time_by_step(executions: pd.DataFrame) -> pd.DataFrame:
    """Per step_code: executions, median_s, p90_s of the cycle time. Columns as `cycle_times`."""
    return _stats(cycle_times(executions), "cycle_s")


def queue_times(executions: pd.DataFrame) -> pd.DataFrame:
    """The executions that follow an ended one of the same unit, with queue_s.

    Columns: unit_id, step_code, started_at, ended_at[, id] (StepExecution, any status).
    """
    order = ["unit_id", "started_at"] + (["id"] if "id" in executions.columns else [])
    ordered = executions.sort_values(order, kind="stable")
    previous_end = as_utc(ordered.groupby("unit_id", sort=False)["ended_at"].shift())
    queued = ordered.assign(queue_s=(as_utc(ordered["started_at"]) - previous_end).dt.total_seconds())
    return queued[queued["queue_s"].notna()].reset_index(drop=True)


def queue_time_by_step(executions: pd.DataFrame) -> pd.DataFrame:
    """Per step_code: executions, median_s, p90_s of the queue time in front of it. Columns as `queue_times`."""
    return _stats(queue_times(executions), "queue_s")
