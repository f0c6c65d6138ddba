"""The line page: a line's yields, defects, WIP and queues, OEE and downtime over a date range; each figure as
JSON and CSV. Days are the plant's calendar days; the range is [from 00:00, to + 1 day 00:00) on the plant clock.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

import pandas as pd
import plotly.graph_objects as go
from flask import Response, redirect, render_template, request, url_for
from sqlalchemy.orm import Session

from dashboards import board_pages, board_queries, flow, i18n, kpi, oee
from dashboards import line_figures as lf
from dashboards import queries as q
from dashboards import queries_machines as qm
from dashboards.views import csv_response, dashboards, language, render
from mes.api.access import read_sessions
from mes.errors import Invalid, NotFound
from mes.models import utcnow
from mes.plant_time import plant_zone

DEFAULT_WEEKS = 12
REFRESH_S = 300  # a range that ends today is still growing
FIGURES = ("yield", "steps", "defects", "wip", "oee", "downtime")


@dataclass(frozen=True)
class LineRange:
    """One line over [start, end) (UTC bounds of the plant days first_day .. last_day), looked at `now`."""

    code: str
    name: str
    first_day: date
    last_day: date
    zone: tzinfo
    now: datetime

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time(0), self.zone).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), time(0), self.zone).astimezone(UTC)

    @property
    def live(self) -> bool:
        return self.end > self.now


def _day(name: str) -> date | None:
    text = request.args.get(name, "").strip()
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise Invalid(f"{name} is a date like 2027-01-31", name) from None


def line_range(session: Session, code: str, now: datetime) -> LineRange:
    """The line and the days asked for; by default the last DEFAULT_WEEKS ISO weeks, this one included."""
    lines = board_queries.lines(session)
    found = lines[lines["code"] == code]
    if found.empty:
        raise NotFound(f"no line {code}", "line")
    zone = plant_zone(session)
    last = _day("to") or now.astimezone(zone).date()
    first = _day("from") or last - timedelta(days=last.weekday() + 7 * (DEFAULT_WEEKS - 1))
    first, last = min(first, last), max(first, last)
    return LineRange(code, str(found["name"].iloc[0]), first, last, zone, now)


def _yields(session: Session, r: LineRange) -> pd.DataFrame:
    return q.first_executions(session, r.code, r.start, r.end)


def _machine_frames(session: Session, r: LineRange) -> tuple[pd.DataFrame, pd.DataFrame, dict[int, pd.DataFrame]]:
    """The line's machines, their state intervals in the range and their calendars."""
    machines = qm.machines(session, r.code)
    states = board_queries.states_between(session, [int(i) for i in machines["id"]], r.start, min(r.end, r.now))
    return machines, states, qm.calendars(session, r.start, r.end, line=r.code)


def _oee(session: Session, r: LineRange) -> pd.DataFrame:
    machines, states, calendars = _machine_frames(session, r)
    counts = qm.production_counts(session, machine=[int(i) for i in machines["id"]], start=r.start,
                                  end=min(r.end, r.now))
    return lf.oee_table(oee.oee_by_machine(states, counts, machines, calendars, (r.start, r.end), r.now))


def _wip(session: Session, r: LineRange) -> pd.DataFrame:
    # WIP is now, whatever the range: the units still open (none ended in [now, ...)).
    wip = flow.wip_by_step(q.units(session, r.code, start=r.now), q.routing_steps(session, r.code))
    queue = flow.queue_time_by_step(q.executions(session, r.code, r.start, r.end, previous=True))
    return lf.wip_queue_table(wip, queue)


def _downtime(session: Session, r: LineRange) -> pd.DataFrame:
    _, states, calendars = _machine_frames(session, r)
    return oee.downtime_pareto(states, calendars, (r.start, r.end), r.now)


Figure = Callable[[pd.DataFrame, lf.Translate], go.Figure]
TABLES: dict[str, tuple[Callable[[Session, LineRange], pd.DataFrame], Figure]] = {
    "yield": (lambda s, r: kpi.yield_by_week(_yields(s, r), str(r.zone)), lf.yield_trend_figure),
    "steps": (lambda s, r: kpi.fpy_by_step(_yields(s, r)), lf.step_yield_figure),
    "defects": (lambda s, r: kpi.defect_pareto(q.ncrs(s, r.code, r.start, r.end)), lf.defect_figure),
    "wip": (_wip, lf.wip_queue_figure),
    "oee": (_oee, lf.oee_figure),
    "downtime": (_downtime, lf.downtime_figure),
}


def _urls(r: LineRange, lang: str) -> dict[str, str]:
    args = {"from": r.first_day.isoformat(), "to": r.last_day.isoformat(), "lang": lang}
    return {f"{name}_{kind}": url_for("dashboards.line_figure", code=r.code, figure=name, kind=kind, **args)
            for name in FIGURES for kind in ("json", "csv")}


@dashboards.get("/lines")
def lines_index() -> Response:
    """The line chooser's target: /lines?line=RWA&from=...&to=... goes to /lines/RWA?from=...&to=..."""
    caller = board_pages.page_viewer()
    if isinstance(caller, Response):
        return caller
    args = {k: v for k, v in request.args.items() if k in ("from", "to", "lang")}
    code = request.args.get("line", "").strip()
    if not code:
        with read_sessions()() as session:
            codes = board_queries.lines(session)["code"]
        if codes.empty:
            return redirect(url_for("dashboards.board_page"))
        code = str(codes.iloc[0])
    return redirect(url_for("dashboards.line_page", code=code, **args))


@dashboards.get("/lines/<code>")
def line_page(code: str) -> str | Response:
    caller = board_pages.page_viewer()  # a wall screen's display token opens it too
    if isinstance(caller, Response):
        return caller
    with read_sessions()() as session:
        lang = language(session, caller)
        try:
            r = line_range(session, code, utcnow())
        except NotFound:
            return Response(render_template("error.html", status=404, kind=None, key=None), 404)
        lines = board_queries.lines(session)
    return render("dashboards/line.html", lang, caller, r=r, lines=lines.itertuples(), urls=_urls(r, lang),
                  refresh=REFRESH_S if r.live else None)


@dashboards.get(f"/lines/<code>/<any({', '.join(FIGURES)}):figure>.<any(json, csv):kind>")
def line_figure(code: str, figure: str, kind: str) -> Response:
    caller = board_pages.data_viewer()
    with read_sessions()() as session:
        lang = language(session, caller)
        r = line_range(session, code, utcnow())
        compute, draw = TABLES[figure]
        table = compute(session, r)
    if kind == "csv":
        return csv_response(table, f"line-{r.code}-{figure}-{r.first_day}-{r.last_day}")
    return Response(draw(table, i18n.translator(lang)).to_json(), mimetype="application/json")
