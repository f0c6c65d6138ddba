"""Machine and traveler figures: tag trends with their min-max band, the PackML state timeline; no Flask or SQL.

As in `dashboards.figures`, each figure is drawn from the table that is also its CSV download, and its traces
carry a `meta` key to be found by. Times are shown on the plant clock: plotly.js has no time zones, so the
x values are the plant's wall-clock times and the CSV keeps the full ISO time with its offset.
"""
from __future__ import annotations

from datetime import datetime, tzinfo

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboards.figures import FONT, Translate
from mes.plant_config.schema import PACKML_STATES

# Andon colours by ISO 22400 time element: green producing, blues setting up, greys idle, amber to red stopped.
STATE_COLOURS: dict[str, str] = {
    "Execute": "#2e7d32",
    "Starting": "#64b5f6", "Resetting": "#42a5f5", "Completing": "#1e88e5", "Complete": "#1565c0",
    "Unholding": "#90caf9", "Unsuspending": "#bbdefb",
    "Idle": "#90a4ae",
    "Holding": "#ffb74d", "Held": "#ef6c00", "Suspending": "#fff176", "Suspended": "#f9a825",
    "Stopping": "#e57373", "Stopped": "#c62828", "Aborting": "#ba68c8", "Aborted": "#6a1b9a",
    "Clearing": "#8d6e63", "Undefined": "#d0d0d0",
}
GAP_COLOUR = "#37474f"
SPARSE = 100  # points: fewer, and each gets a marker
LANES = ("state", "gap")
LABELS = ("State", "Telemetry gap", "No telemetry in this range", "This machine has no numeric process values",
          "Mean", "Minimum", "Maximum", "Lower limit", "Upper limit", "Times on the plant clock", *PACKML_STATES)
TREND_CSV = ["tag", "unit", "t", "minimum", "maximum", "mean", "count"]
TIMELINE_CSV = ["lane", "label", "started_at", "ended_at", "seconds"]
EXECUTIONS_CSV = ["serial", "step", "name", "result", "rework", "run", "started_at", "ended_at", "minutes"]


def _same(text: str) -> str:
    return text


def _local(times: pd.Series, zone: tzinfo) -> pd.Series:
    """ISO times with their offset on the plant clock ("2027-01-31T14:05:09+08:00"); "" for NaT.

    Vectorised (numpy formats the wall clock, the few distinct offsets are formatted once): a per-value
    isoformat() cost a 4,000-point trend tens of milliseconds.
    """
    utc = times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[s]")
    wall = times.dt.tz_convert(zone).dt.tz_localize(None).to_numpy("datetime64[s]")
    minutes = pd.Series((wall - utc).astype("timedelta64[m]").astype("int64"), index=times.index)
    offsets = {m: f"{'+' if m >= 0 else '-'}{abs(m) // 60:02d}:{abs(m) % 60:02d}" for m in minutes.unique().tolist()}
    text = pd.Series(np.datetime_as_string(wall, unit="s"), index=times.index, dtype=object) + minutes.map(offsets)
    return text.where(times.notna(), "")


def _wall(iso: pd.Series | list[str]) -> list[str]:
    """The wall-clock part of ISO times, which is what plotly.js draws."""
    return [text[:19] for text in iso]


def _wall_ms(iso: pd.Series) -> np.ndarray:
    """The wall-clock part of ISO times as milliseconds since the epoch: plotly.js draws numbers on a date axis
    as UTC, so the plant's clock shows as it is; numeric arrays are cheap to copy and go out as binary in the JSON."""
    return pd.to_datetime(iso.str.slice(0, 19), format="%Y-%m-%dT%H:%M:%S").to_numpy("datetime64[ms]") \
        .astype("int64").astype(float)


def _layout(**extra: object) -> dict[str, object]:
    """The layout every figure here starts from (given whole to go.Figure: update_layout re-validates it all)."""
    return {"template": "none", "font": {"family": FONT, "size": 14}, "margin": {"l": 70, "r": 20, "t": 40, "b": 50},
            "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0}, "paper_bgcolor": "#fff",
            "plot_bgcolor": "#fff", **extra}


def message_figure(text: str) -> go.Figure:
    """An empty plot that says why it is empty."""
    return go.Figure(layout=_layout(xaxis={"visible": False}, yaxis={"visible": False}, annotations=[{
        "text": text, "showarrow": False, "font": {"size": 18}, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}]))


def trend_table(values: pd.DataFrame, tags: pd.DataFrame, zone: tzinfo) -> pd.DataFrame:
    """One row a tag and bucket: tag, unit, t (bucket start, plant clock), minimum, maximum, mean, count."""
    named = values.merge(tags.rename(columns={"id": "tag_id", "name": "tag"})[["tag_id", "tag", "unit"]], on="tag_id")
    named = named.sort_values(["tag", "t"], kind="stable")
    return pd.DataFrame({"tag": named["tag"], "unit": named["unit"], "t": _local(named["t"], zone),
                         "minimum": named["minimum"], "maximum": named["maximum"], "mean": named["mean"],
                         "count": named["count"]}, columns=TREND_CSV).reset_index(drop=True)


def _axis(name: str, row: int) -> str:
    """Plotly's name of row `row`'s axis: x, x2, x3 ... as trace references, xaxis, xaxis2 ... in the layout."""
    return name if row == 1 else f"{name}{row}"


def trend_figure(table: pd.DataFrame, tags: pd.DataFrame, tr: Translate = _same, x_range: tuple[str, str] | None = None,
                 live: bool = False) -> go.Figure:
    """A subplot a tag: the mean of each bucket as a line over the band from its minimum to its maximum, and
    the tag's alarm limits dashed. `x_range` (wall-clock ISO times) fixes the time axis.

    Built from plain dicts and numpy arrays: plotly.py validates lists value by value and its subplot and
    hline helpers rebuild the layout at each call, which cost a live refresh hundreds of milliseconds.
    """
    if tags.empty:
        return message_figure(tr("This machine has no numeric process values"))
    if table.empty and not live:
        return message_figure(tr("No telemetry in this range"))
    n, gap = len(tags), 0.1
    height = (1 - gap * (n - 1)) / n
    traces: list[dict[str, object]] = []
    layout: dict[str, object] = {"shapes": [], "annotations": []}
    for row, tag in enumerate(tags.itertuples(index=False), start=1):
        x_axis, y_axis, top = _axis("x", row), _axis("y", row), 1 - (row - 1) * (height + gap)
        mine = table[table["tag"] == tag.name]
        x = _wall_ms(mine["t"])
        low, high = mine["minimum"].to_numpy(float), mine["maximum"].to_numpy(float)
        band = {"type": "scatter", "x": x, "xaxis": x_axis, "yaxis": y_axis, "mode": "lines", "line": {"width": 0},
                "hoverinfo": "skip", "showlegend": False}
        traces += [{**band, "meta": f"{tag.name}:max", "name": tr("Maximum"), "y": high},
                   {**band, "meta": f"{tag.name}:min", "name": tr("Minimum"), "y": low, "fill": "tonexty",
                    "fillcolor": "rgba(11,92,173,0.18)"},
                   {"type": "scatter", "meta": tag.name, "name": tag.name, "x": x, "y": mine["mean"].to_numpy(float),
                    "xaxis": x_axis, "yaxis": y_axis, "showlegend": False, "marker": {"size": 4},
                    "mode": "lines" if len(mine) > SPARSE else "lines+markers",  # a lone bucket draws no line
                    "line": {"color": "#0b5cad", "width": 1.5}, "customdata": np.column_stack([low, high]),
                    "hovertemplate": f"{tag.name}: %{{y:.4g}} ({tr('Minimum')} %{{customdata[0]:.4g}}, "
                                     f"{tr('Maximum')} %{{customdata[1]:.4g}})<extra></extra>"}]
        layout[_axis("xaxis", row)] = {"type": "date", "anchor": y_axis, "range": list(x_range) if x_range else None,
                                       **({"matches": "x", "showticklabels": False} if row < n else
                                          {"title": {"text": tr("Times on the plant clock")}})}
        layout[_axis("yaxis", row)] = {"anchor": x_axis, "domain": [max(0.0, top - height), top]}
        layout["annotations"].append({"text": f"{tag.name} ({tag.unit})" if tag.unit else tag.name, "showarrow": False,
                                      "xref": "paper", "yref": "paper", "x": 0.5, "y": top, "xanchor": "center",
                                      "yanchor": "bottom", "font": {"size": 14}})
        for key, limit in (("low", tag.low), ("high", tag.high)):
            if pd.notna(limit):
                label = tr("Lower limit") if key == "low" else tr("Upper limit")
                layout["shapes"].append({"type": "line", "name": f"{tag.name}:{key}", "xref": f"{x_axis} domain",
                                         "x0": 0, "x1": 1, "yref": y_axis, "y0": float(limit), "y1": float(limit),
                                         "line": {"color": "#b00020", "dash": "dash", "width": 1.5}})
                layout["annotations"].append({"text": f"{label} {float(limit):g}", "showarrow": False,
                                              "xref": f"{x_axis} domain", "x": 0, "xanchor": "left", "yref": y_axis,
                                              "y": float(limit), "yanchor": "bottom", "font": {"color": "#b00020"}})
    # uirevision keeps a zoom the reader chose while the live figure redraws every few seconds.
    return go.Figure(data=traces, layout=_layout(**layout, hovermode="x unified", uirevision="live" if live else None))


def timeline_table(states: pd.DataFrame, gaps: pd.DataFrame, start: datetime, end: datetime, now: datetime,
                   zone: tzinfo) -> pd.DataFrame:
    """State intervals and telemetry gaps clipped to [start, min(end, now)): lane (state | gap), label (the
    PackML state or the gap's reason), started_at, ended_at (plant clock), seconds."""
    stop = pd.Timestamp(min(end, now))
    parts = []
    for order, (lane, rows, label) in enumerate((("state", states, "state"), ("gap", gaps, "reason"))):
        if rows.empty:
            continue
        begin = rows["started_at"].clip(lower=pd.Timestamp(start))
        finish = rows["ended_at"].fillna(stop).clip(upper=stop)
        kept = finish > begin
        parts.append(pd.DataFrame({"order": order, "lane": lane, "label": rows.loc[kept, label],
                                   "begin": begin[kept], "finish": finish[kept]}))
    if not parts:
        return pd.DataFrame(columns=TIMELINE_CSV)
    table = pd.concat(parts, ignore_index=True).sort_values(["order", "begin"], kind="stable")
    return pd.DataFrame({"lane": table["lane"], "label": table["label"], "started_at": _local(table["begin"], zone),
                         "ended_at": _local(table["finish"], zone),
                         "seconds": (table["finish"] - table["begin"]).dt.total_seconds()},
                        columns=TIMELINE_CSV).reset_index(drop=True)


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 1440}d {minutes % 1440 // 60}h {minutes % 60:02d}m" if minutes >= 1440 else \
        f"{minutes // 60}h {minutes % 60:02d}m"


def timeline_figure(table: pd.DataFrame, x_range: tuple[str, str], tr: Translate = _same) -> go.Figure:
    """A Gantt-like bar a state interval on the state lane (PackML colours, a legend entry a state) and the
    telemetry gaps on a lane below; bars are durations in ms from a date base, as plotly draws timelines."""
    lanes = {"state": tr("State"), "gap": tr("Telemetry gap")}
    states = table[table["lane"] == "state"]
    present = set(states["label"])
    traces = [_bars(states[states["label"] == state], state, tr(state), lanes["state"],
                    {"color": STATE_COLOURS.get(state, "#d0d0d0")})
              for state in [s for s in PACKML_STATES if s in present] + sorted(present - set(PACKML_STATES))]
    gaps = table[table["lane"] == "gap"]
    if not gaps.empty:
        traces.append(_bars(gaps, "gap", tr("Telemetry gap"), lanes["gap"],
                            {"color": "#fff", "line": {"color": GAP_COLOUR, "width": 1},
                             "pattern": {"shape": "/", "fgcolor": GAP_COLOUR}}))
    return go.Figure(data=traces, layout=_layout(
        barmode="overlay", bargap=0.25, hovermode="closest",
        xaxis={"type": "date", "range": list(x_range), "title": {"text": tr("Times on the plant clock")}},
        yaxis={"type": "category", "categoryorder": "array", "categoryarray": [lanes["gap"], lanes["state"]],
               "range": [-0.6, 1.6], "fixedrange": True, "automargin": True}))


def _bars(rows: pd.DataFrame, key: str, name: str, lane: str, marker: dict[str, object]) -> dict[str, object]:
    starts, ends = _wall(rows["started_at"]), _wall(rows["ended_at"])
    return {"type": "bar", "meta": key, "name": name, "orientation": "h", "y": [lane] * len(rows), "base": starts,
            "x": (rows["seconds"] * 1000).tolist(), "marker": marker,
            "customdata": [[s, e, _duration(d)] for s, e, d in zip(starts, ends, rows["seconds"], strict=True)],
            "hovertemplate": f"{name}<br>%{{customdata[0]}} – %{{customdata[1]}}<br>%{{customdata[2]}}<extra></extra>"}


def time_in_state(table: pd.DataFrame) -> pd.DataFrame:
    """Seconds and share of the observed time in each state, longest first: state, seconds, share."""
    states = table[table["lane"] == "state"]
    if states.empty:
        return pd.DataFrame(columns=["state", "seconds", "share"])
    sums = states.groupby("label", sort=False)["seconds"].sum().sort_values(ascending=False, kind="stable")
    return pd.DataFrame({"state": sums.index, "seconds": sums.to_numpy(), "share": (sums / sums.sum()).to_numpy()})


def executions_table(rows: pd.DataFrame, zone: tzinfo) -> pd.DataFrame:
    """The step executions a machine ran, as listed and downloaded: serial, step, name, result, rework, run,
    started_at, ended_at (plant clock; "" while running), minutes."""
    if rows.empty:
        return pd.DataFrame(columns=EXECUTIONS_CSV)
    return pd.DataFrame({
        "serial": rows["serial"], "step": rows["step_code"], "name": rows["step_name"], "result": rows["status"],
        "rework": rows["rework"].astype(bool), "run": rows["run_id"].astype("Int64"),
        "started_at": _local(rows["started_at"], zone), "ended_at": _local(rows["ended_at"], zone),
        "minutes": ((rows["ended_at"] - rows["started_at"]).dt.total_seconds() / 60).round(1),
    })
