"""Figures of the line page: tables in, `go.Figure` out (as dashboards.figures: each figure is drawn from the
table that is also its CSV, traces carry a `meta` key, SVG traces only). Fractions stay fractions (0..1) in the
data and show as percentages through the axis format, so the JSON holds the KPI values themselves.
"""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboards.figures import Translate, _layout, _same

GREEN, BLUE, AMBER, RED, GREY = "#2e7d32", "#0b5cad", "#d9730d", "#b00020", "#5b6670"
PERCENT = {"tickformat": ".0%", "rangemode": "tozero"}
HOUR_S = 3600.0


def _values(series: pd.Series) -> list[float | None]:
    """A column as JSON-ready numbers, None (a gap in the plot) for no data."""
    return [None if v is None or pd.isna(v) else float(v) for v in series]


def empty_figure(tr: Translate = _same) -> go.Figure:
    """An empty plot that says there is nothing in the range."""
    figure = go.Figure()
    figure.add_annotation(text=tr("No data in this range"), showarrow=False, font={"size": 18},
                          xref="paper", yref="paper", x=0.5, y=0.5)
    return _layout(figure, xaxis={"visible": False}, yaxis={"visible": False})


def yield_trend_figure(table: pd.DataFrame, tr: Translate = _same) -> go.Figure:
    """FPY (pooled over the line's steps) and RTY (product of the step FPYs) by ISO week.
    Table: kpi.yield_by_week (week, executed, first_passed, fpy, rty)."""
    if table.empty:
        return empty_figure(tr)
    figure = go.Figure()
    for key, name, colour in (("fpy", tr("First-pass yield"), BLUE), ("rty", tr("Rolled throughput yield"), GREEN)):
        figure.add_trace(go.Scatter(meta=key, name=name, x=table["week"].tolist(), y=_values(table[key]),
                                    mode="lines+markers", line={"color": colour, "width": 2.5}, marker={"size": 8},
                                    customdata=table[["executed"]].values.tolist(),
                                    hovertemplate="%{x}: %{y:.1%} (n = %{customdata[0]})<extra>" + name + "</extra>"))
    figure.update_xaxes(title_text=tr("ISO week"), type="category")
    figure.update_yaxes(**PERCENT, range=[0, 1.05])
    return _layout(figure)


def step_yield_figure(table: pd.DataFrame, tr: Translate = _same) -> go.Figure:
    """FPY of each step in routing order. Table: kpi.fpy_by_step (step_code, executed, first_passed, fpy)."""
    if table.empty:
        return empty_figure(tr)
    figure = go.Figure(go.Bar(
        meta="fpy", name=tr("First-pass yield"), x=table["step_code"].tolist(), y=_values(table["fpy"]),
        marker={"color": BLUE}, texttemplate="%{y:.1%}", textposition="outside",
        customdata=table[["first_passed", "executed"]].values.tolist(),
        hovertemplate="%{x}: %{y:.1%} (%{customdata[0]} / %{customdata[1]})<extra></extra>"))
    figure.update_yaxes(**PERCENT, range=[0, 1.1])
    return _layout(figure, showlegend=False)


def _pareto(table: pd.DataFrame, key: str, value: str, scale: float, bar_name: str, colour: str,
            tr: Translate) -> go.Figure:
    """Bars of `value` / scale by `key` with the cumulative percentage as a line on a right-hand axis."""
    labels = ["—" if k is None or pd.isna(k) else tr(str(k)) for k in table[key]]
    figure = go.Figure()
    figure.add_trace(go.Bar(meta="bars", name=bar_name, x=labels, y=(table[value] / scale).tolist(),
                            marker={"color": colour}, hovertemplate="%{x}: %{y:.4g}<extra></extra>"))
    figure.add_trace(go.Scatter(meta="cumulative", name=tr("Cumulative %"), x=labels,
                                y=_values(table["cumulative_percent"]), yaxis="y2", mode="lines+markers",
                                line={"color": AMBER, "width": 2}, hovertemplate="%{y:.1f} %<extra></extra>"))
    figure.update_xaxes(type="category")
    _layout(figure, yaxis={"title": {"text": bar_name}, "rangemode": "tozero"},
            yaxis2={"overlaying": "y", "side": "right", "range": [0, 105], "dtick": 25, "ticksuffix": " %",
                    "showgrid": False})
    return figure.update_layout(margin={"r": 60})  # room for the right-hand axis's labels


def defect_figure(table: pd.DataFrame, tr: Translate = _same) -> go.Figure:
    """NCRs by defect code, most frequent first. Table: kpi.defect_pareto (defect_code, count, percent, ...)."""
    return empty_figure(tr) if table.empty else _pareto(table, "defect_code", "count", 1.0, tr("NCRs"), RED, tr)


def downtime_figure(table: pd.DataFrame, tr: Translate = _same) -> go.Figure:
    """Planned hours lost by state, largest first. Table: oee.downtime_pareto (state, seconds, percent, ...)."""
    return empty_figure(tr) if table.empty else _pareto(table, "state", "seconds", HOUR_S, tr("Hours"), GREY, tr)


def wip_queue_table(wip: pd.DataFrame, queue: pd.DataFrame) -> pd.DataFrame:
    """WIP now and queue time in the range per step: step_code, sequence, wip, in_step, waiting, queued (executions
    timed), queue_median_s, queue_p90_s. Inputs: flow.wip_by_step and flow.queue_time_by_step."""
    timed = queue.rename(columns={"executions": "queued", "median_s": "queue_median_s", "p90_s": "queue_p90_s"})
    table = wip.merge(timed, on="step_code", how="left")
    table["queued"] = table["queued"].fillna(0).astype(int)
    return table[["step_code", "sequence", "wip", "in_step", "waiting", "queued", "queue_median_s", "queue_p90_s"]]


def wip_queue_figure(table: pd.DataFrame, tr: Translate = _same) -> go.Figure:
    """Above: units at each step now, in the step and waiting for it (stacked). Below: the median and 90th
    percentile of the queue time in front of each step over the range, in hours."""
    if table.empty:
        return empty_figure(tr)
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.55, 0.45])
    steps = table["step_code"].tolist()
    # Bars placed by hand (overlay mode): the WIP pair stacked in one slot (the waiting bar starts on top of the
    # in-step one), the two queue statistics side by side; plotly's grouping would share slots across both rows.
    in_step = table["in_step"].tolist()
    for key, name, colour, base in (("in_step", tr("In the step"), BLUE, None),
                                    ("waiting", tr("Waiting"), AMBER, in_step)):
        figure.add_trace(go.Bar(meta=key, name=name, x=steps, y=table[key].tolist(), base=base, width=0.6,
                                offset=-0.3, marker={"color": colour},
                                hovertemplate="%{x}: %{y}<extra>" + name + "</extra>"), row=1, col=1)
    for key, name, colour, offset in (("queue_median_s", tr("Queue time, median"), GREY, -0.35),
                                      ("queue_p90_s", tr("Queue time, 90th percentile"), "#9aa6b2", 0.0)):
        figure.add_trace(go.Bar(meta=key, name=name, x=steps, y=_values(table[key] / HOUR_S), width=0.35,
                                offset=offset, marker={"color": colour},
                                hovertemplate="%{x}: %{y:.3g} h<extra>" + name + "</extra>"), row=2, col=1)
    figure.update_yaxes(title_text=tr("Units"), rangemode="tozero", row=1, col=1)
    figure.update_yaxes(title_text=tr("Hours"), rangemode="tozero", row=2, col=1)
    figure.update_xaxes(type="category")
    return _layout(figure, barmode="overlay")


def oee_table(by_machine: pd.DataFrame) -> pd.DataFrame:
    """One row a machine: machine, its time elements (s), produced, good and the four OEE figures (None: no data).
    Input: oee.oee_by_machine with `code`."""
    columns = ["planned_s", "production_s", "setup_s", "down_s", "idle_s", "unknown_s", "produced", "good",
               "availability", "performance", "quality", "oee"]
    return by_machine.rename(columns={"code": "machine"})[["machine", *columns]]


def oee_figure(table: pd.DataFrame, tr: Translate = _same) -> go.Figure:
    """Availability, performance, quality and OEE of each machine, side by side."""
    ratios = table[["availability", "performance", "quality", "oee"]]
    if table.empty or ratios.isna().all().all():
        return empty_figure(tr)
    figure = go.Figure()
    machines = table["machine"].tolist()
    for key, name, colour in (("availability", tr("Availability"), "#8fb4dc"), ("performance", tr("Performance"),
                              "#b39ddb"), ("quality", tr("Quality"), "#a5d6a7"), ("oee", "OEE", BLUE)):
        figure.add_trace(go.Bar(meta=key, name=name, x=machines, y=_values(table[key]), marker={"color": colour},
                                hovertemplate="%{x}: %{y:.1%}<extra>" + name + "</extra>"))
    figure.update_xaxes(type="category")
    # Performance may pass 100 % (an ideal cycle time set too long): the axis grows to show it.
    top = max(1.0, max(float(v) for v in ratios.stack().dropna()))
    figure.update_yaxes(**PERCENT, range=[0, top * 1.05])
    return _layout(figure, barmode="group")
