"""The machine page: a live trend of its process values, their trend and its PackML states over a date range,
the step executions it ran, its telemetry gaps and its endpoint's health; figures as JSON and CSV."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import groupby
from typing import Any

import pandas as pd
from flask import Response, redirect, render_template, request, url_for
from sqlalchemy.orm import Session

from dashboards import i18n, machine_figures, machine_queries, queries_machines
from dashboards.views import csv_response, dashboards, data_caller, language, page_caller, render
from mes.api.access import read_sessions
from mes.errors import Invalid, NotFound
from mes.models import utcnow
from mes.plant_time import plant_zone

DEFAULT_DAYS = 7
LIVE_SPAN = timedelta(minutes=10)
LIVE_POINTS = 600  # one a second over the live span
LIVE_REFRESH_S = 5
TREND_POINTS = 2000
EXECUTIONS_SHOWN = 200  # the rest are in the CSV


@dataclass(frozen=True)
class Range:
    """The plant days a page shows, as a UTC window [start, end)."""

    first_day: date
    last_day: date
    zone: tzinfo
    start: datetime
    end: datetime

    def args(self) -> dict[str, str]:
        return {"from": self.first_day.isoformat(), "to": self.last_day.isoformat()}

    def wall(self) -> tuple[str, str]:
        """The window's ends on the plant clock, as the time axis shows them."""
        return wall(self.start, self.zone), wall(self.end, self.zone)


def wall(at: datetime, zone: tzinfo) -> str:
    """`at` on the plant clock without its offset: what plotly.js draws (it has no time zones)."""
    return at.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds")


def _day(name: str) -> date | None:
    text = request.args.get(name, "").strip()
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise Invalid(f"{name} is a date like 2027-01-31", name) from None


def day_range(session: Session, now: datetime, default_days: int = DEFAULT_DAYS) -> Range:
    """The `from` and `to` plant days of the request (default: the last week up to today), in either order."""
    zone = plant_zone(session)
    last = _day("to") or now.astimezone(zone).date()
    first = _day("from") or last - timedelta(days=default_days - 1)
    first, last = min(first, last), max(first, last)
    start, end = (datetime.combine(d, time(0), zone).astimezone(UTC) for d in (first, last + timedelta(days=1)))
    return Range(first, last, zone, start, end)


def records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows for a template, None where pandas has NaT or NaN."""
    return table.astype(object).where(table.notna(), None).to_dict("records")


def _not_found() -> Response:
    return Response(render_template("error.html", status=404, kind=None, key=None), 404)


def _urls(code: str, r: Range, lang: str) -> dict[str, str]:
    args = {**r.args(), "lang": lang}
    urls = {f"{name}_{kind}": url_for("dashboards.machine_figure", code=code, figure=name, kind=kind, **args)
            for name in ("trend", "timeline") for kind in ("json", "csv")}
    urls |= {f"live_{kind}": url_for("dashboards.machine_figure", code=code, figure="live", kind=kind, lang=lang)
             for kind in ("json", "csv")}
    return urls | {"executions_csv": url_for("dashboards.machine_executions_csv", code=code, **r.args())}


@dashboards.get("/machines")
def machines_index() -> Response:
    """Where the machine picker's form lands: the page of the machine chosen (else the first one)."""
    caller = page_caller()
    if isinstance(caller, Response):
        return caller
    code = request.args.get("machine", "").strip()
    if not code:
        with read_sessions()() as session:
            choices = machine_queries.machine_choices(session)
        if not choices:
            return _not_found()
        code = choices[0][1]
    args = {k: v for k, v in request.args.items() if k in ("from", "to", "lang") and v}
    return redirect(url_for("dashboards.machine_page", code=code, **args))


@dashboards.get("/machines/<code>")
def machine_page(code: str) -> str | Response:
    caller = page_caller()
    if isinstance(caller, Response):
        return caller
    now = utcnow()
    with read_sessions()() as session:
        lang = language(session, caller)
        try:
            info = machine_queries.machine(session, code)
        except NotFound:
            return _not_found()
        r = day_range(session, now)
        gaps = machine_queries.gaps(session, info.id, r.start, r.end)
        states = queries_machines.machine_states(session, machine=info.id, start=r.start, end=r.end)
        timeline = machine_figures.timeline_table(states, gaps, r.start, r.end, now, r.zone)
        executions = machine_queries.executions(session, info.id, r.start, r.end, EXECUTIONS_SHOWN)
        total = (len(executions) if len(executions) < EXECUTIONS_SHOWN
                 else machine_queries.execution_count(session, info.id, r.start, r.end))
        health = machine_queries.health(session, info.endpoint)
        tags = machine_queries.process_tags(session, info.id)
        choices = machine_queries.machine_choices(session)
    groups = [(line, list(items)) for line, items in groupby(choices, key=lambda c: c[0])]
    return render("dashboards/machine.html", lang, caller, machine=info, range=r, groups=groups, tags=tags,
                  urls=_urls(code, r, lang), live_refresh=LIVE_REFRESH_S, live_minutes=LIVE_SPAN.seconds // 60,
                  in_state=machine_figures.time_in_state(timeline), colours=machine_figures.STATE_COLOURS,
                  executions=records(executions), total=total, gaps=records(gaps), health=health, zone=r.zone)


@dashboards.get("/machines/<code>/<any(trend, timeline, live):figure>.<any(json, csv):kind>")
def machine_figure(code: str, figure: str, kind: str) -> Response:
    caller = data_caller()
    now = utcnow()
    with read_sessions()() as session:
        lang = language(session, caller)
        info = machine_queries.machine(session, code)
        r = day_range(session, now)
        if figure == "timeline":
            states = queries_machines.machine_states(session, machine=info.id, start=r.start, end=r.end)
            gaps = machine_queries.gaps(session, info.id, r.start, r.end)
        else:
            tags = machine_queries.process_tags(session, info.id)
            start, end = (now - LIVE_SPAN, now) if figure == "live" else (r.start, min(r.end, now))
            points = LIVE_POINTS if figure == "live" else TREND_POINTS
            _, values = machine_queries.trends(session, tags["id"].tolist(), start, max(start, end), points, now)
    tr = i18n.translator(lang)
    if figure == "timeline":
        table = machine_figures.timeline_table(states, gaps, r.start, r.end, now, r.zone)
        drawn = machine_figures.timeline_figure(table, r.wall(), tr)
    else:
        table = machine_figures.trend_table(values, tags, r.zone)
        x_range = (wall(start, r.zone), wall(end, r.zone)) if figure == "live" else r.wall()
        drawn = machine_figures.trend_figure(table, tags, tr, x_range, live=figure == "live")
    if kind == "csv":
        span = "live" if figure == "live" else f"{r.first_day}-{r.last_day}"
        return csv_response(table, f"machine-{code}-{figure}-{span}")
    response = Response(drawn.to_json(), mimetype="application/json")
    if figure == "live":
        response.headers["Cache-Control"] = "no-store"  # it changes every second
    return response


@dashboards.get("/machines/<code>/executions.csv")
def machine_executions_csv(code: str) -> Response:
    """Every step execution the machine ran in the range (the page lists the newest few hundred)."""
    data_caller()
    now = utcnow()
    with read_sessions()() as session:
        info = machine_queries.machine(session, code)
        r = day_range(session, now)
        rows = machine_queries.executions(session, info.id, r.start, r.end)
    table = machine_figures.executions_table(rows, r.zone)
    return csv_response(table, f"machine-{code}-executions-{r.first_day}-{r.last_day}")
