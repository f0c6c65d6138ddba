"""OEE after ISO 22400-2, from machine state intervals, a working calendar and part counts.

Time elements, per machine, within the reporting window up to `now` (all in seconds):
- planned operation time POT (`planned_s`) = the calendar's working time in the window. Anything outside the
  calendar is *not planned* (`not_planned_s`), whatever the machine did, and its parts are not counted either.
- Each state interval inside the calendar falls in one element through the state map (configurable):
  Execute = production (APT, `production_s`); Starting, Completing, Complete, Resetting, Unholding,
  Unsuspending = setup (`setup_s`); Held, Holding, Suspended, Suspending, Stopped, Stopping, Aborted, Aborting,
  Clearing = down (`down_s`); Idle = idle (`idle_s`). Undefined, and calendar time no state interval covers,
  is `unknown_s`: the machine was not observed.
- Planned busy time PBT = POT - planned downtime (PDOT) - unknown. PDOT is 0 here: breaks, days off and planned
  maintenance are left out of the calendar itself, so they are already outside POT. Unobserved time is left out
  so that missing data shows as None rather than as a loss. Setup, down and idle time count INSIDE PBT: they are
  availability losses. So PBT = production + setup + down + idle.

KPIs: availability = APT / PBT; performance = ideal cycle time x produced / APT (not capped at 1: a value above 1
says the ideal cycle time is wrong); quality = good / produced; OEE = A x P x Q. Each is None without data
(zero denominator, no ideal cycle time); OEE is None when a factor is, unless another factor is 0 (then 0).
A line's figures pool its machines' time elements and counts (time-weighted), not an average of ratios.
Timestamps are naive UTC or tz-aware (converted); state intervals of one machine are assumed not to overlap.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from dashboards.kpi import as_utc, pareto

PRODUCTION, SETUP, DOWN, IDLE, UNKNOWN = "production", "setup", "down", "idle", "unknown"
LOSSES = (SETUP, DOWN, IDLE)
DEFAULT_STATE_MAP: dict[str, str] = {
    "Execute": PRODUCTION,
    **dict.fromkeys(("Starting", "Completing", "Complete", "Resetting", "Unholding", "Unsuspending"), SETUP),
    **dict.fromkeys(("Held", "Holding", "Suspended", "Suspending", "Stopped", "Stopping", "Aborted", "Aborting",
                     "Clearing"), DOWN),
    "Idle": IDLE,
    "Undefined": UNKNOWN,  # not one of the 17 states: a PLC that cannot say
}
TIME_COLUMNS = ["planned_s", "production_s", "setup_s", "down_s", "idle_s", "unknown_s", "not_planned_s",
                "planned_busy_s"]
NS = 1_000_000_000

Stamp = datetime | pd.Timestamp | str
Calendar = pd.DataFrame | Sequence[tuple[Stamp, Stamp]]
Calendars = Calendar | Mapping[Hashable, Calendar]


def _ns(value: Any) -> int:
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_convert("UTC").tz_localize(None) if stamp.tz is not None else stamp
    return int(stamp.as_unit("ns").value)


def _ns_array(values: pd.Series, fill: int) -> np.ndarray:
    stamps = as_utc(values).astype("datetime64[ns]")
    return np.where(stamps.isna(), fill, stamps.to_numpy().view("int64"))


def _bounds(window: tuple[Stamp, Stamp], now: Stamp | None) -> tuple[int, int]:
    lo, hi = _ns(window[0]), _ns(window[1])
    return lo, max(lo, min(hi, _ns(now))) if now is not None else hi


class _Worktime:
    """A calendar as merged working intervals clipped to [lo, hi), with the working time before each point."""

    def __init__(self, calendar: Calendar, lo: int, hi: int) -> None:
        frame = calendar if isinstance(calendar, pd.DataFrame) else pd.DataFrame(list(calendar), columns=["s", "e"])
        pairs = sorted(zip(_ns_array(frame.iloc[:, 0], lo), _ns_array(frame.iloc[:, 1], lo), strict=True))
        merged: list[list[int]] = []
        for start, end in ((max(int(s), lo), min(int(e), hi)) for s, e in pairs):
            if end <= start:
                continue
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        spans = np.array(merged, dtype=np.int64).reshape(-1, 2)
        self.starts, self.ends = spans[:, 0], spans[:, 1]
        self.before = np.concatenate(([0], np.cumsum(self.ends - self.starts)[:-1])).astype(np.int64)
        self.total = int((self.ends - self.starts).sum())

    def until(self, t: np.ndarray) -> np.ndarray:
        """Working time (ns) between lo and each t."""
        if not len(self.starts):
            return np.zeros(len(t), dtype=np.int64)
        i = np.searchsorted(self.starts, t, side="right") - 1
        j = np.clip(i, 0, None)
        return np.where(i < 0, 0, self.before[j] + np.minimum(t, self.ends[j]) - self.starts[j])

    def contains(self, t: np.ndarray) -> np.ndarray:
        if not len(self.starts):
            return np.zeros(len(t), dtype=bool)
        i = np.searchsorted(self.starts, t, side="right") - 1
        return (i >= 0) & (t < self.ends[np.clip(i, 0, None)])


def _calendar_for(calendars: Calendars, machine_id: Hashable) -> Calendar:
    if isinstance(calendars, Mapping):
        if machine_id not in calendars:
            raise ValueError(f"no calendar for machine {machine_id!r}")
        return calendars[machine_id]
    return calendars


def _worktimes(calendars: Calendars, machine_ids: Sequence[Hashable], lo: int, hi: int,
               ) -> list[tuple[_Worktime, list[Hashable]]]:
    """One `_Worktime` per distinct calendar with the machines that work it: machines of a line mostly share one
    calendar object (queries_machines.calendars hands out one frame per calendar name), so it is built once."""
    groups: dict[int, tuple[_Worktime, list[Hashable]]] = {}
    for machine_id in machine_ids:
        calendar = _calendar_for(calendars, machine_id)
        if id(calendar) not in groups:
            groups[id(calendar)] = (_Worktime(calendar, lo, hi), [])
        groups[id(calendar)][1].append(machine_id)
    return list(groups.values())


def _per_calendar(groups: list[tuple[_Worktime, list[Hashable]]], machine_ids: pd.Series,
                  apply: Callable[[_Worktime, np.ndarray], np.ndarray], dtype: type) -> np.ndarray:
    """`apply(worktime, rows)` for the rows of each calendar's machines, one vectorised call a calendar."""
    out = np.zeros(len(machine_ids), dtype=dtype)
    for work, ids in groups:
        rows = np.flatnonzero(machine_ids.isin(ids).to_numpy())
        out[rows] = apply(work, rows)
    return out


def state_time(states: pd.DataFrame, calendars: Calendars, window: tuple[Stamp, Stamp], now: Stamp | None = None,
               state_map: Mapping[str, str] = DEFAULT_STATE_MAP) -> pd.DataFrame:
    """The state rows clipped to the window (open ones closed at `now`) with category, planned_s, not_planned_s.

    Columns: machine_id, state, started_at, ended_at (NaT while open)[, reason]. `calendars`: one calendar, or one
    per machine_id; a calendar is (start, end) pairs or a DataFrame whose first two columns are start and end.
    Rows come grouped by machine (in order of first appearance), in their given order within a machine.
    """
    if unknown := sorted(set(pd.unique(states["state"])) - set(state_map)):
        raise ValueError(f"state(s) missing from the state map: {', '.join(map(str, unknown))}")
    cols = [*states.columns, "category", "planned_s", "not_planned_s"]
    if states.empty:
        return pd.DataFrame(columns=cols)
    lo, hi = _bounds(window, now)
    codes, ids = pd.factorize(states["machine_id"])
    rows = states.iloc[np.argsort(codes, kind="stable")].reset_index(drop=True)
    start = np.clip(_ns_array(rows["started_at"], hi), lo, hi)
    end = np.maximum(np.clip(_ns_array(rows["ended_at"], hi), lo, hi), start)
    groups = _worktimes(calendars, list(ids), lo, hi)
    inside = _per_calendar(groups, rows["machine_id"], lambda w, i: w.until(end[i]) - w.until(start[i]), np.int64)
    out = rows.assign(category=rows["state"].map(state_map), planned_s=inside / NS,
                      not_planned_s=(end - start - inside) / NS)
    return out.loc[(end - start) > 0, cols].reset_index(drop=True)


def time_elements(states: pd.DataFrame, calendars: Calendars, window: tuple[Stamp, Stamp], now: Stamp | None = None,
                  state_map: Mapping[str, str] = DEFAULT_STATE_MAP,
                  machine_ids: Sequence[Hashable] | None = None) -> pd.DataFrame:
    """Per machine_id: the TIME_COLUMNS seconds. Columns of `states` as `state_time`; `machine_ids` adds machines
    without any state row (all their planned time unknown)."""
    timed = state_time(states, calendars, window, now, state_map)
    ids = list(dict.fromkeys([*(machine_ids or []), *states["machine_id"]]))
    lo, hi = _bounds(window, now)
    planned = {m: work.total / NS for work, members in _worktimes(calendars, ids, lo, hi) for m in members}
    by_cat = timed.groupby(["machine_id", "category"])["planned_s"].sum()
    table = pd.DataFrame({"machine_id": ids, "planned_s": [planned[m] for m in ids]})
    key = pd.Index(ids, dtype=object)
    for cat in (PRODUCTION, SETUP, DOWN, IDLE):
        mine = by_cat.xs(cat, level="category") if cat in by_cat.index.get_level_values("category") else None
        table[f"{cat}_s"] = (mine.reindex(key, fill_value=0.0).to_numpy(float) if mine is not None
                             else np.zeros(len(ids)))
    table["planned_busy_s"] = table[[f"{cat}_s" for cat in (PRODUCTION, *LOSSES)]].sum(axis=1)
    table["unknown_s"] = (table["planned_s"] - table["planned_busy_s"]).clip(lower=0.0)
    outside = timed.groupby("machine_id")["not_planned_s"].sum()
    table["not_planned_s"] = outside.reindex(key, fill_value=0.0).to_numpy(float)
    return table[["machine_id", *TIME_COLUMNS]]


def _div(num: float, den: float) -> float | None:
    return None if den == 0 or pd.isna(num) or pd.isna(den) else float(num) / float(den)


def _oee(a: float | None, p: float | None, q: float | None) -> float | None:
    if a is not None and p is not None and q is not None:
        return a * p * q
    return 0.0 if 0.0 in (a, p, q) else None


def _objects(values: Sequence[float | None], index: pd.Index) -> pd.Series:
    # dtype=object keeps None as None: pandas 3 turns a list mixing None and floats into NaN even after a cast.
    return pd.Series(list(values), dtype=object, index=index)


def _counts(counts: pd.DataFrame, calendars: Calendars, machine_ids: Sequence[Hashable], lo: int, hi: int,
            ) -> pd.DataFrame:
    """produced and good per machine_id: the counts inside the window and the machine's calendar."""
    mine = counts[counts["machine_id"].isin(machine_ids)].reset_index(drop=True)
    at = _ns_array(mine["at"], lo - 1)
    groups = _worktimes(calendars, list(pd.unique(mine["machine_id"])), lo, hi)
    working = _per_calendar(groups, mine["machine_id"], lambda w, i: w.contains(at[i]), bool)
    kept = mine[(at >= lo) & (at < hi) & working]
    delta = kept["delta"].astype("int64")
    produced = delta[kept["kind"].isin(("good", "reject")).to_numpy()].groupby(kept["machine_id"]).sum()
    good = delta[(kept["kind"] == "good").to_numpy()].groupby(kept["machine_id"]).sum()
    key = pd.Index(machine_ids, dtype=object)
    return pd.DataFrame({"produced": produced.reindex(key, fill_value=0).to_numpy("int64"),
                         "good": good.reindex(key, fill_value=0).to_numpy("int64")})


def oee_by_machine(states: pd.DataFrame, counts: pd.DataFrame, machines: pd.DataFrame, calendars: Calendars,
                   window: tuple[Stamp, Stamp], now: Stamp | None = None,
                   state_map: Mapping[str, str] = DEFAULT_STATE_MAP) -> pd.DataFrame:
    """Per machine: time elements, produced, good, availability, performance, quality, oee (floats or None).

    Columns: states as `state_time`; counts machine_id, kind (good | reject), delta, at (ProductionCount);
    machines id, ideal_cycle_s (seconds a part, may be None)[, line, code] (Machine), carried into the result.
    """
    lo, hi = _bounds(window, now)
    table = time_elements(states, calendars, window, now, state_map, machine_ids=list(machines["id"]))
    table = table.merge(machines.rename(columns={"id": "machine_id"}), on="machine_id", how="left")
    parts = _counts(counts, calendars, list(table["machine_id"]), lo, hi)
    table["produced"], table["good"] = parts["produced"].to_numpy(), parts["good"].to_numpy()
    ideal = pd.to_numeric(table["ideal_cycle_s"], errors="coerce").to_numpy(float)
    a = [_div(p, b) for p, b in zip(table["production_s"], table["planned_busy_s"], strict=True)]
    p = [None if np.isnan(c) else _div(c * n, s) for c, n, s in zip(ideal, table["produced"], table["production_s"],
                                                                    strict=True)]
    q = [_div(g, n) for g, n in zip(table["good"], table["produced"], strict=True)]
    for name, values in (("availability", a), ("performance", p), ("quality", q),
                         ("oee", [_oee(*f) for f in zip(a, p, q, strict=True)])):
        table[name] = _objects(values, table.index)
    return table


def oee_by_line(by_machine: pd.DataFrame) -> pd.DataFrame:
    """Per line, pooled over its machines: production_s, planned_busy_s, produced, good, availability,
    performance (over machines with an ideal cycle time), quality, oee. Input: `oee_by_machine` with `line`."""
    cols = ["line", "production_s", "planned_busy_s", "produced", "good", "availability", "performance", "quality",
            "oee"]
    if by_machine.empty:
        return pd.DataFrame(columns=cols)
    ideal = pd.to_numeric(by_machine["ideal_cycle_s"], errors="coerce")
    timed = ideal.notna()
    frame = by_machine.assign(ideal_parts_s=(ideal * by_machine["produced"]).where(timed, 0.0),
                              timed_production_s=by_machine["production_s"].where(timed, 0.0))
    sums = frame.groupby("line", sort=True)[["production_s", "planned_busy_s", "produced", "good", "ideal_parts_s",
                                             "timed_production_s"]].sum()
    table = sums.reset_index().astype({"production_s": float, "planned_busy_s": float, "produced": "int64",
                                       "good": "int64"})
    a = [_div(p, b) for p, b in zip(sums["production_s"], sums["planned_busy_s"], strict=True)]
    p = [_div(i, s) for i, s in zip(sums["ideal_parts_s"], sums["timed_production_s"], strict=True)]
    q = [_div(g, n) for g, n in zip(sums["good"], sums["produced"], strict=True)]
    for name, values in (("availability", a), ("performance", p), ("quality", q),
                         ("oee", [_oee(*f) for f in zip(a, p, q, strict=True)])):
        table[name] = _objects(values, table.index)
    return table[cols]


def downtime_pareto(states: pd.DataFrame, calendars: Calendars, window: tuple[Stamp, Stamp], now: Stamp | None = None,
                    by: str = "state", categories: Sequence[str] = LOSSES,
                    state_map: Mapping[str, str] = DEFAULT_STATE_MAP) -> pd.DataFrame:
    """Planned seconds lost per `by` ("state" or "reason"), largest first, with percent and cumulative_percent.

    Counts the states whose category is in `categories` (default: every availability loss: setup, down, idle),
    inside the calendar only. Columns as `state_time`; without a `reason` column every reason is None.
    """
    timed = state_time(states, calendars, window, now, state_map)
    if by == "reason" and "reason" not in timed.columns:
        timed = timed.assign(reason=None)
    lost = timed[timed["category"].isin(categories) & (timed["planned_s"] > 0)]
    return pareto(lost.rename(columns={"planned_s": "seconds"}), by, "seconds")
