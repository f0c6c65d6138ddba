"""Plotly figures of the dashboards: tables and charts in, `go.Figure` out; no Flask, no SQLAlchemy.

Each figure is drawn from a DataFrame that is also its CSV download, so the two never disagree; its
traces carry a `meta` key ("points", "ucl", ...) to be found by (plotly.py drops `uid` from the JSON).
SVG traces only (`scatter`, `bar`): the WebGL ones build shaders with `new Function`, which the
Content-Security-Policy (`script-src 'self'`, no `unsafe-eval`) forbids.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboards.spc import Chart, Limits

Translate = Callable[[str], str]
FONT = "Noto Sans CJK SC, Microsoft YaHei, system-ui, sans-serif"
COLOURS = {"points": "#0b5cad", "violation": "#b00020", "limit": "#d9730d", "centre": "#2e7d32", "spec": "#b00020"}

# The standard wording (Nelson 1984; AIAG SPC manual); the numbers are those dashboards.spc reports.
NELSON_RULES: dict[int, str] = {
    1: "one point beyond 3σ",
    2: "nine points in a row on one side of the centre line",
    3: "six points in a row steadily increasing or decreasing",
    4: "fourteen points in a row alternating up and down",
    5: "two of three points beyond 2σ on the same side",
    6: "four of five points beyond 1σ on the same side",
    7: "fifteen points in a row within 1σ",
    8: "eight points in a row beyond 1σ on either side",
}


def _same(text: str) -> str:
    return text


def rule_text(rules: Sequence[int], tr: Translate = _same) -> str:
    """'Rule 1: one point beyond 3σ<br>Rule 5: ...' for a point's hover label."""
    return "<br>".join(f"{tr('Rule')} {rule}: {tr(NELSON_RULES[rule])}" for rule in rules)


def control_table(chart: Chart, times: Sequence[datetime], serials: Sequence[str], zone: tzinfo) -> pd.DataFrame:
    """One row a plotted point: sample number, time (plant clock), serial, value, range, limits, rules broken."""
    limits = chart.limits
    return pd.DataFrame({
        "sample": range(1, len(chart.points) + 1),
        "recorded_at": [t.astimezone(zone).isoformat(timespec="seconds") for t in times],
        "serial": list(serials),
        "value": list(chart.points),
        "range": list(chart.ranges),
        "centre": limits.centre, "ucl": limits.ucl, "lcl": limits.lcl,
        "range_centre": limits.range_centre, "range_ucl": limits.range_ucl, "range_lcl": limits.range_lcl,
        "rules": [" ".join(map(str, rules)) for rules in chart.violations],
    }, columns=["sample", "recorded_at", "serial", "value", "range", "centre", "ucl", "lcl", "range_centre",
                "range_ucl", "range_lcl", "rules"])


def _layout(figure: go.Figure, **extra: object) -> go.Figure:
    # An empty template: plotly.py's default one adds kilobytes of styling to every JSON response.
    figure.update_layout(template="none", font={"family": FONT, "size": 14},
                         margin={"l": 70, "r": 20, "t": 40, "b": 50}, hovermode="closest",
                         legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
                         paper_bgcolor="#fff", plot_bgcolor="#fff", **extra)
    return figure


def no_data_figure(tr: Translate = _same) -> go.Figure:
    """An empty plot that says so, for a range without (enough) values."""
    figure = go.Figure()
    figure.add_annotation(text=tr("No measurements in this range"), showarrow=False, font={"size": 18},
                          xref="paper", yref="paper", x=0.5, y=0.5)
    return _layout(figure, xaxis={"visible": False}, yaxis={"visible": False})


def _level(figure: go.Figure, key: str, name: str, y: float, n: int, colour: str, dash: str, row: int) -> None:
    figure.add_trace(go.Scatter(meta=key, name=f"{name} = {y:.4g}", x=[1, n], y=[y, y], mode="lines",
                                line={"color": colour, "dash": dash, "width": 1.5}, hoverinfo="name"), row=row, col=1)


def control_figure(table: pd.DataFrame, limits: Limits, value_label: str, tr: Translate = _same) -> go.Figure:
    """The control chart (individuals or subgroup means) over its range chart, rule violations marked."""
    if table.empty:
        return no_data_figure(tr)
    individuals = limits.subgroup_size == 1
    range_name = tr("Moving range") if individuals else tr("Range")
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32], vertical_spacing=0.06)
    n = len(table)
    # One hover string a point: plotly.py validates nested customdata element by element, slowly.
    where = (table["serial"] + "<br>" + table["recorded_at"]).tolist()
    figure.add_trace(go.Scatter(
        meta="points", name=tr("Value") if individuals else tr("Subgroup mean"), x=table["sample"].tolist(),
        y=table["value"].tolist(), mode="lines+markers", hovertext=where, marker={"size": 6},
        line={"color": COLOURS["points"], "width": 1}, hovertemplate="#%{x} · %{hovertext}<br>%{y:.6g}<extra></extra>"),
        row=1, col=1)
    flagged = table[table["rules"] != ""]
    figure.add_trace(go.Scatter(
        meta="violations", name=tr("Rule violation"), x=flagged["sample"].tolist(), y=flagged["value"].tolist(),
        mode="markers", hovertext=(flagged["serial"] + "<br>" + flagged["recorded_at"]).tolist(),
        marker={"color": COLOURS["violation"], "size": 12, "symbol": "circle-open", "line": {"width": 2.5}},
        text=[rule_text([int(r) for r in rules.split()], tr) for rules in flagged["rules"]],
        hovertemplate="#%{x} · %{hovertext}<br>%{y:.6g}<br>%{text}<extra></extra>"), row=1, col=1)
    _level(figure, "ucl", "UCL", limits.ucl, n, COLOURS["limit"], "dash", 1)
    _level(figure, "centre", "CL", limits.centre, n, COLOURS["centre"], "solid", 1)
    _level(figure, "lcl", "LCL", limits.lcl, n, COLOURS["limit"], "dash", 1)
    ranges = table[table["range"].notna()]
    figure.add_trace(go.Scatter(
        meta="ranges", name=range_name, x=ranges["sample"].tolist(), y=ranges["range"].tolist(), mode="lines+markers",
        line={"color": COLOURS["points"], "width": 1}, marker={"size": 5}, showlegend=False,
        hovertemplate="#%{x}<br>%{y:.6g}<extra>" + range_name + "</extra>"), row=2, col=1)
    _level(figure, "range_ucl", "UCL", limits.range_ucl, n, COLOURS["limit"], "dash", 2)
    _level(figure, "range_centre", "R̄" if not individuals else "MR̄", limits.range_centre, n, COLOURS["centre"],
           "solid", 2)
    for trace in figure.data[-2:]:
        trace.showlegend = False
    figure.update_yaxes(title_text=value_label, row=1, col=1)
    figure.update_yaxes(title_text=range_name, rangemode="tozero", row=2, col=1)
    figure.update_xaxes(title_text=tr("Sample"), row=2, col=1)
    return _layout(figure)


def histogram_table(values: Sequence[float]) -> pd.DataFrame:
    """Counts in Sturges' bins (1 + log2 n of them): bin_start, bin_end, count."""
    if len(values) == 0:
        return pd.DataFrame(columns=["bin_start", "bin_end", "count"])
    counts, edges = np.histogram(np.asarray(values, dtype=float), bins="sturges")
    return pd.DataFrame({"bin_start": edges[:-1], "bin_end": edges[1:], "count": counts.astype(int)})


def histogram_figure(table: pd.DataFrame, limits: Limits | None, lsl: float | None, usl: float | None,
                     value_label: str, tr: Translate = _same) -> go.Figure:
    """The distribution of the values against the specification (LSL/USL) and the control limits."""
    if table.empty:
        return no_data_figure(tr)
    starts, ends = table["bin_start"].to_numpy(float), table["bin_end"].to_numpy(float)
    figure = go.Figure(go.Bar(
        meta="counts", name=tr("Count"), x=((starts + ends) / 2).tolist(), y=table["count"].tolist(),
        width=(ends - starts).tolist(), customdata=np.column_stack([starts, ends]).tolist(), showlegend=False,
        marker={"color": "#8fb4dc", "line": {"color": COLOURS["points"], "width": 1}},
        hovertemplate="[%{customdata[0]:.6g}, %{customdata[1]:.6g}]: %{y}<extra></extra>"))
    # Lower lines label to their left and upper ones to their right, so close neighbours stay readable.
    lines = [("LSL", lsl, COLOURS["spec"], "dash", "top left"), ("USL", usl, COLOURS["spec"], "dash", "top right")]
    if limits is not None:
        lines += [("LCL", limits.lcl, COLOURS["limit"], "dot", "top left"),
                  ("CL", limits.centre, COLOURS["centre"], "solid", "top"),
                  ("UCL", limits.ucl, COLOURS["limit"], "dot", "top right")]
    for name, x, colour, dash, position in lines:
        if x is not None:
            figure.add_vline(x=x, line={"color": colour, "dash": dash, "width": 2}, name=name,
                             annotation={"text": name, "font": {"color": colour}}, annotation_position=position)
    figure.update_xaxes(title_text=value_label)
    figure.update_yaxes(title_text=tr("Count"))
    return _layout(figure, bargap=0)
