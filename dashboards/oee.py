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

from collections.abc import Hashable, Mapping, Sequence
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


def state_time(states: pd.DataFrame, calendars: Calendars, window: tuple[Stamp, Stamp], now: Stamp | None = None,
               state_map: Mapping[str, str] = DEFAULT_STATE_MAP) -> pd.DataFrame:
    """The state rows clipped to the window (open ones closed at `now`) with category, planned_s, not_planned_s.

    Columns: machine_id, state, started_at, ended_at (NaT while open)[, reason]. `calendars`: one calendar, or one
    per machine_id; a calendar is (start, end) pairs or a DataFrame whose first two columns are start and end.
    """
    if unknown := sorted(set(states["state"]) - set(state_map)):
        raise ValueError(f"state(s) missing from the state map: {', '.join(map(str, unknown))}")
    lo, hi = _bounds(window, now)
    parts = []
    for machine_id, rows in states.groupby("machine_id", sort=False):
        work = _Worktime(_calendar_for(calendars, machine_id), lo, hi)
        start = np.clip(_ns_array(rows["started_at"], hi), lo, hi)
        end = np.maximum(np.clip(_ns_array(rows["ended_at"], hi), lo, hi), start)
        inside = work.until(end) - work.until(start)
        parts.append(rows.assign(planned_s=inside / NS, not_planned_s=(end - start - inside) / NS))
    cols = [*states.columns, "category", "planned_s", "not_planned_s"]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts).assign(category=lambda f: f["state"].map(state_map))
    return out.loc[(out["planned_s"] + out["not_planned_s"]) > 0, cols].reset_index(drop=True)


def time_elements(states: pd.DataFrame, calendars: Calendars, window: tuple[Stamp, Stamp], now: Stamp | None = None,
                  state_map: Mapping[str, str] = DEFAULT_STATE_MAP,
                  machine_ids: Sequence[Hashable] | None = None) -> pd.DataFrame:
    """Per machine_id: the TIME_COLUMNS seconds. Columns of `states` as `state_time`; `machine_ids` adds machines
    without any state row (all their planned time unknown)."""
    timed = state_time(states, calendars, window, now, state_map)
    ids = list(dict.fromkeys([*(machine_ids or []), *states["machine_id"]]))
    lo, hi = _bounds(window, now)
    rows = []
    for machine_id in ids:
        mine = timed[timed["machine_id"] == machine_id]
        by_cat = mine.groupby("category")["planned_s"].sum()
        row: dict[str, Any] = {"machine_id": machine_id, "planned_s": _Worktime(
            _calendar_for(calendars, machine_id), lo, hi).total / NS}
        for cat in (PRODUCTION, SETUP, DOWN, IDLE):
            row[f"{cat}_s"] = float(by_cat.get(cat, 0.0))
        row["planned_busy_s"] = sum(row[f"{cat}_s"] for cat in (PRODUCTION, *LOSSES))
        row["unknown_s"] = max(0.0, row["planned_s"] - row["planned_busy_s"])
        row["not_planned_s"] = float(mine["not_planned_s"].sum())
        rows.append(row)
    return pd.DataFrame(rows, columns=["machine_id", *TIME_COLUMNS])


def _div(num: float, den: float) -> float | None:
    return None if den == 0 or pd.isna(num) or pd.isna(den) else float(num) / float(den)


def _oee(a: float | None, p: float | None, q: float | None) -> float | None:
    if a is not None and p is not None and q is not None:
        return a * p * q
    return 0.0 if 0.0 in (a, p, q) else None


def _counts(counts: pd.DataFrame, calendars: Calendars, machine_id: Hashable, lo: int, hi: int) -> tuple[int, int]:
    mine = counts[counts["machine_id"] == machine_id]
    at = _ns_array(mine["at"], lo - 1)
    keep = (at >= lo) & (at < hi) & _Worktime(_calendar_for(calendars, machine_id), lo, hi).contains(at)
    kept = mine[keep]
    good = int(kept.loc[kept["kind"] == "good", "delta"].sum())
    return good + int(kept.loc[kept["kind"] == "reject", "delta"].sum()), good


def oee_by_machine(states: pd.DataFrame, counts: pd.DataFrame, machines: pd.DataFrame, calendars: Calendars,
                   window: tuple[Stamp, Stamp], now: Stamp | None = None,
                   state_map: Mapping[str, str] = DEFAULT_STATE_MAP) -> pd.DataFrame:
    """Per machine: time elements, produced, good, availability, performance, quality, oee.

    Columns: states as `state_time`; counts machine_id, kind (good | reject), delta, at (ProductionCount);
    machines id, ideal_cycle_s (seconds a part, may be None)[, line, code] (Machine), carried into the result.
    """
    lo, hi = _bounds(window, now)
    table = time_elements(states, calendars, window, now, state_map, machine_ids=list(machines["id"]))
    info = machines.rename(columns={"id": "machine_id"})
    table = table.merge(info, on="machine_id", how="left")
    produced_good = [_counts(counts, calendars, m, lo, hi) for m in table["machine_id"]]
    table["produced"] = [p for p, _ in produced_good]
    table["good"] = [g for _, g in produced_good]
    table["availability"] = [_div(r.production_s, r.planned_busy_s) for r in table.itertuples()]
    table["performance"] = [_div(r.ideal_cycle_s * r.produced, r.production_s) if pd.notna(r.ideal_cycle_s) else None
                            for r in table.itertuples()]
    table["quality"] = [_div(r.good, r.produced) for r in table.itertuples()]
    table["oee"] = [_oee(r.availability, r.performance, r.quality) for r in table.itertuples()]
    return table.astype({k: object for k in ("availability", "performance", "quality", "oee")})


def oee_by_line(by_machine: pd.DataFrame) -> pd.DataFrame:
    """Per line, pooled over its machines: production_s, planned_busy_s, produced, good, availability,
    performance (over machines with an ideal cycle time), quality, oee. Input: `oee_by_machine` with `line`."""
    rows = []
    for line, m in by_machine.groupby("line", sort=True):
        timed = m[m["ideal_cycle_s"].notna()]
        a = _div(m["production_s"].sum(), m["planned_busy_s"].sum())
        p = _div((timed["ideal_cycle_s"] * timed["produced"]).sum(), timed["production_s"].sum())
        q = _div(m["good"].sum(), m["produced"].sum())
        rows.append({"line": line, "production_s": float(m["production_s"].sum()),
                     "planned_busy_s": float(m["planned_busy_s"].sum()), "produced": int(m["produced"].sum()),
                     "good": int(m["good"].sum()), "availability": a, "performance": p, "quality": q,
                     "oee": _oee(a, p, q)})
    cols = ["line", "production_s", "planned_busy_s", "produced", "good", "availability", "performance", "quality",
            "oee"]
    return pd.DataFrame(rows, columns=cols).astype({k: object for k in cols[-4:]})


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
