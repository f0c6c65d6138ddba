"""The plant board (andon), pure: each line's machines, today's output, yields, OEE, open NCRs and alarms.

DataFrames in (`board_queries`, `queries_machines`, `kpi`, `oee`), dataclasses out; no Flask, no SQLAlchemy.
Alarms, one per machine and cause:
- adapter: no health report for the machine's endpoint, the endpoint disconnected, or its report older than
  ADAPTER_SILENT (the adapter writes one every 2 s, so silence means its process is gone);
- gap: a telemetry gap declared today, or one still open;
- spool: the adapter's store-and-forward spool fuller than SPOOL_ALARM;
- clock: the PLC's clock further off than the machine's configured bound (`Machine.clock_alarm_s`);
- held: the machine in PackML Held for longer than HELD_ALARM;
- excursion: a tag out of its limits during a step running on the machine now.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from dashboards.oee import DEFAULT_STATE_MAP, UNKNOWN

ADAPTER_SILENT = timedelta(seconds=30)
SPOOL_ALARM = 0.8
# No plant setting holds this yet: config/plant.toml has no board section and the plant row no column for it,
# and adding one means a migration. A constant until a plant asks to tune it.
HELD_ALARM = timedelta(minutes=15)
ALARM_ORDER = ("adapter", "held", "excursion", "gap", "spool", "clock")


@dataclass(frozen=True)
class Alarm:
    """Something on the floor that needs a person: kind (ALARM_ORDER), machine code, since when, a number
    (spool fill, clock offset, minutes held, a closed gap's minutes, the worst value) and plain detail (a reason
    code, the clock bound, tag and serial)."""

    kind: str
    machine: str
    since: datetime | None = None
    value: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class MachineTile:
    code: str
    name: str
    state: str | None  # None: no state recorded yet
    category: str  # production | setup | down | idle | unknown (oee.DEFAULT_STATE_MAP)
    since: datetime | None
    stale: bool  # the adapter is down: the state may be out of date
    good: int  # parts counted today
    reject: int
    oee: float | None


@dataclass(frozen=True)
class LineBoard:
    code: str
    name: str
    accepted: int  # units accepted today
    good: int  # machine counts today, all machines of the line
    reject: int
    fpy_today: float | None
    fpy_week: float | None
    oee: float | None  # today, pooled over the line's machines
    open_ncrs: int
    machines: list[MachineTile] = field(default_factory=list)
    alarms: list[Alarm] = field(default_factory=list)


def _stamp(value: Any) -> datetime | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()


def _float(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def machine_alarms(machines: pd.DataFrame, links: pd.DataFrame, health: pd.DataFrame, gaps: pd.DataFrame,
                   states: pd.DataFrame, excursions: pd.DataFrame, now: datetime) -> dict[int, list[Alarm]]:
    """Alarms by machine id. Frames: machines id, code; links machine_id, endpoint, clock_alarm_s; health as
    board_queries.endpoint_health; gaps machine_id, reason, started_at, ended_at; states machine_id, state,
    started_at, ended_at (as of now); excursions as board_queries.in_step_excursions."""
    now_ts = pd.Timestamp(now)
    code = dict(zip(machines["id"], machines["code"], strict=True))
    found: dict[int, list[Alarm]] = {m: [] for m in code}
    report = health.set_index("endpoint") if not health.empty else pd.DataFrame()
    for link in links[links["machine_id"].isin(list(code))].itertuples():
        m, add = link.machine_id, found[link.machine_id].append
        if link.endpoint not in report.index:
            add(Alarm("adapter", code[m], detail="no report"))
            continue
        r = report.loc[link.endpoint]
        if not r["connected"]:
            add(Alarm("adapter", code[m], _stamp(r["updated_at"]), detail="disconnected"))
        elif now_ts - r["updated_at"] > ADAPTER_SILENT:
            add(Alarm("adapter", code[m], _stamp(r["updated_at"]), detail="silent"))
        if r["spool_fill"] > SPOOL_ALARM:
            add(Alarm("spool", code[m], value=float(r["spool_fill"])))
        offset = _float(r["clock_offset_s"])
        if offset is not None and abs(offset) > link.clock_alarm_s:
            add(Alarm("clock", code[m], value=offset, detail=f"{link.clock_alarm_s:g}"))
    for g in gaps[gaps["machine_id"].isin(list(code))].itertuples():
        length = None if pd.isna(g.ended_at) else (g.ended_at - g.started_at).total_seconds() / 60
        found[g.machine_id].append(Alarm("gap", code[g.machine_id], _stamp(g.started_at), length, g.reason))
    held = states[(states["state"] == "Held") & (now_ts - states["started_at"] > HELD_ALARM)
                  & (states["ended_at"].isna() | (states["ended_at"] > now_ts))]
    for s in held[held["machine_id"].isin(list(code))].itertuples():
        found[s.machine_id].append(Alarm("held", code[s.machine_id], _stamp(s.started_at),
                                         value=(now_ts - s.started_at).total_seconds() / 60))
    for e in excursions[excursions["machine_id"].isin(list(code))].itertuples():
        found[e.machine_id].append(Alarm("excursion", code[e.machine_id], _stamp(e.first_at), value=float(e.extreme),
                                         detail=f"{e.tag} {e.side} {e.limit} · {e.serial} {e.step_code}"))
    return {m: sorted(a, key=lambda x: ALARM_ORDER.index(x.kind)) for m, a in found.items()}


def _by_line(table: pd.DataFrame, column: str) -> dict[str, Any]:
    return dict(zip(table["line"], table[column], strict=True)) if not table.empty else {}


def build(lines: pd.DataFrame, machines: pd.DataFrame, states: pd.DataFrame, counts: pd.DataFrame,
          oee_machines: pd.DataFrame, oee_lines: pd.DataFrame, accepted: pd.DataFrame, ncrs: pd.DataFrame,
          fpy_today: pd.DataFrame, fpy_week: pd.DataFrame, alarms: dict[int, list[Alarm]],
          now: datetime) -> list[LineBoard]:
    """One LineBoard a line, in the order of `lines` (code, name). Frames: machines as queries_machines.machines;
    states as of now; counts of today (machine_id, kind, delta); oee_* as oee.oee_by_machine / oee_by_line;
    accepted line, accepted; ncrs line, open; fpy_* as kpi.yield_by_line."""
    now_ts = pd.Timestamp(now)
    current = states[states["ended_at"].isna() | (states["ended_at"] > now_ts)]
    state = {m: (st, _stamp(at)) for m, st, at in zip(current["machine_id"], current["state"], current["started_at"],
                                                       strict=True)}
    made = counts.groupby(["machine_id", "kind"])["delta"].sum().to_dict() if not counts.empty else {}
    machine_oee = dict(zip(oee_machines["machine_id"], oee_machines["oee"], strict=True))
    accepted_, ncrs_ = _by_line(accepted, "accepted"), _by_line(ncrs, "open")
    today_, week_, line_oee = _by_line(fpy_today, "fpy"), _by_line(fpy_week, "fpy"), _by_line(oee_lines, "oee")
    on_line: dict[str, list[MachineTile]] = {}
    for m in machines.itertuples():
        name, since = state.get(m.id, (None, None))
        on_line.setdefault(m.line, []).append(MachineTile(
            m.code, m.name, name, UNKNOWN if name is None else DEFAULT_STATE_MAP.get(name, UNKNOWN), since,
            any(a.kind == "adapter" for a in alarms.get(m.id, [])), int(made.get((m.id, "good"), 0)),
            int(made.get((m.id, "reject"), 0)), _float(machine_oee.get(m.id))))
    ids = dict(zip(machines["code"], machines["id"], strict=True))
    boards = []
    for line in lines.itertuples():
        tiles = on_line.get(line.code, [])
        line_alarms = [a for t in tiles for a in alarms.get(ids[t.code], [])]
        boards.append(LineBoard(
            line.code, line.name, int(accepted_.get(line.code, 0)), sum(t.good for t in tiles),
            sum(t.reject for t in tiles), _float(today_.get(line.code)), _float(week_.get(line.code)),
            _float(line_oee.get(line.code)), int(ncrs_.get(line.code, 0)), tiles,
            sorted(line_alarms, key=lambda a: ALARM_ORDER.index(a.kind))))
    return boards
