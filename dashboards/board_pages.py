"""The plant board (andon): every line at a glance, redrawn every few seconds; opens on a wall screen with a
display token. Routes: the page, its live body (HTML the page polls), and the same data as JSON and CSV.

A wall screen has nobody to log in: `/dashboards/board?token=<display token>` checks the token, keeps it in an
HttpOnly cookie scoped to /dashboards and redirects to the plain URL. Only the board and line pages read that
cookie, only for GET, and a display token carries the read permission alone (mes.auth), so the screen can
look and never change anything. A person's log-in session, if there is one, comes first.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

import pandas as pd
from flask import Response, redirect, render_template, request, url_for
from sqlalchemy.orm import Session

from dashboards import andon, board_queries, kpi, oee
from dashboards import queries as q
from dashboards import queries_machines as qm
from dashboards.views import PERMISSION, csv_response, dashboards, data_caller, language, page_caller, render
from mes.api.access import read_sessions, session_caller
from mes.auth import Caller, authenticate_token
from mes.errors import NotFound
from mes.models import utcnow
from mes.plant_time import plant_zone

DISPLAY_COOKIE = "mes_display"
DISPLAY_MAX_AGE_S = 400 * 24 * 3600  # browsers cap cookies at 400 days; the token itself never expires
REFRESH_S = 15


def display_caller() -> Caller | None:
    """The display token kept in this browser's display cookie, if it is still a valid display token."""
    token = request.cookies.get(DISPLAY_COOKIE)
    if not token:
        return None
    with read_sessions()() as session:
        caller = authenticate_token(session, token)
    return caller if caller is not None and caller.display and PERMISSION in caller.permissions else None


def viewer() -> Caller | Response:
    """Who looks at a page: a logged-in person, else a wall screen's display token; else the log-in page."""
    caller = session_caller() or display_caller()
    if caller is None or PERMISSION not in caller.permissions:
        return page_caller()  # the log-in page, or 403
    return caller


def data_viewer() -> Caller:
    """Who reads a figure or the board's data: a token, a session or a wall screen's display cookie; else 401."""
    if request.headers.get("Authorization") is None and session_caller() is None:
        caller = display_caller()
        if caller is not None:
            return caller
    return data_caller()


def _sign_in_display(token: str) -> Response:
    """Keep a valid display token in the screen's cookie and go to the same page without it in the URL."""
    with read_sessions()() as session:
        caller = authenticate_token(session, token)
    if caller is None or not caller.display:
        # Only display tokens belong in a URL: a full API token there would end up in logs and histories.
        return Response(render_template("error.html", status=403, kind=None, key=None), 403)
    args = {k: v for k, v in request.args.to_dict(flat=False).items() if k != "token"}
    response = redirect(url_for(request.endpoint or "dashboards.board_page", **(request.view_args or {}), **args))
    response.set_cookie(DISPLAY_COOKIE, token, max_age=DISPLAY_MAX_AGE_S, path=url_for("dashboards.index"),
                        secure=request.is_secure, httponly=True, samesite="Strict")
    return response


def page_viewer() -> Caller | Response:
    """`viewer()`, after turning a `?token=` into the display cookie."""
    if token := request.args.get("token", "").strip():
        return _sign_in_display(token)
    return viewer()


@dataclass(frozen=True)
class Board:
    """What the board shows: each line's LineBoard as of `now`, on the plant's day and ISO week."""

    now: datetime
    zone: tzinfo
    day: date
    week: str
    lines: list[andon.LineBoard]
    material_ncrs: int  # open NCRs on received material, which belong to no line

    def count(self, attribute: str) -> int:
        return sum(getattr(line, attribute) for line in self.lines)

    @property
    def alarms(self) -> int:
        return sum(len(line.alarms) for line in self.lines)


def _day_bounds(now: datetime, zone: tzinfo) -> tuple[datetime, datetime, datetime]:
    """Start of the plant's day, of the next day and of the ISO week (Monday), in UTC."""
    day = now.astimezone(zone).date()
    start = datetime.combine(day, time(0), zone)
    week = datetime.combine(day - timedelta(days=day.weekday()), time(0), zone)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC), week.astimezone(UTC)


def _lines_wanted(session: Session) -> pd.DataFrame:
    table = board_queries.lines(session)
    wanted = [code.strip() for value in request.args.getlist("line") for code in value.split(",") if code.strip()]
    if unknown := sorted(set(wanted) - set(table["code"])):
        raise NotFound(f"no line {', '.join(unknown)}", "line")
    return table[table["code"].isin(wanted)] if wanted else table


def build_board(session: Session, now: datetime) -> Board:
    """Query and compute the whole board as of `now` (the `line` parameters choose lines; default all)."""
    zone = plant_zone(session)
    day_start, day_end, week_start = _day_bounds(now, zone)
    lines = _lines_wanted(session)
    machines = qm.machines(session)
    machines = machines[machines["line"].isin(lines["code"])].reset_index(drop=True)
    states = board_queries.states_at(session, now)
    alarms = andon.machine_alarms(
        machines, board_queries.machine_links(session), board_queries.endpoint_health(session),
        board_queries.gaps(session, day_start), states, board_queries.in_step_excursions(session, now), now)
    ids = [int(i) for i in machines["id"]]  # named, so the queries walk each machine's index from today on
    counts = qm.production_counts(session, machine=ids, start=day_start, end=now)
    today = board_queries.states_between(session, ids, day_start, now)
    by_machine = oee.oee_by_machine(today, counts, machines, qm.calendars(session, day_start, day_end),
                                    (day_start, day_end), now)
    ncrs = board_queries.open_ncrs_by_line(session)
    # Today's first executions are this week's whose result came today: the first of a unit's tries at a step
    # does not depend on the window, so one query serves both.
    week = q.first_executions(session, None, week_start, day_end)
    boards = andon.build(
        lines, machines, states, counts, by_machine, oee.oee_by_line(by_machine),
        board_queries.accepted_by_line(session, day_start, day_end), ncrs,
        kpi.yield_by_line(week[week["ended_at"] >= day_start]), kpi.yield_by_line(week), alarms, now)
    material = int(ncrs.loc[ncrs["line"].isna(), "open"].sum()) if not ncrs.empty else 0
    label = kpi.iso_week(pd.Series([pd.Timestamp(now)]), str(zone)).iloc[0]
    return Board(now, zone, now.astimezone(zone).date(), label, boards, material)


def board_data(board: Board) -> dict[str, Any]:
    """The board as JSON-ready data: times in ISO 8601 UTC, fractions 0..1, None for no data."""
    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value
    return {"as_of": plain(board.now), "timezone": str(board.zone), "day": board.day.isoformat(), "week": board.week,
            "material_ncrs": board.material_ncrs, "lines": [plain(asdict(line)) for line in board.lines]}


def board_table(board: Board) -> pd.DataFrame:
    """One row a machine: line, machine, state, since (plant clock), good, reject, oee, alarms (kinds)."""
    rows = [{"line": line.code, "machine": m.code, "state": m.state, "category": m.category,
             "since": m.since.astimezone(board.zone).isoformat(timespec="seconds") if m.since else None,
             "stale": m.stale, "good_today": m.good, "reject_today": m.reject, "oee_today": m.oee,
             "alarms": " ".join(a.kind for a in line.alarms if a.machine == m.code)}
            for line in board.lines for m in line.machines]
    return pd.DataFrame(rows, columns=["line", "machine", "state", "category", "since", "stale", "good_today",
                                       "reject_today", "oee_today", "alarms"])


def percent(value: float | None) -> str:
    """A fraction as a percentage with one decimal ("99.6%"): rounding to whole ones would show 100 % too soon."""
    return "—" if value is None else f"{value * 100:.1f}%"


def _refresh() -> int:
    """Seconds between redraws: `refresh` (2 to 3600) where a screen wants its own pace, else REFRESH_S."""
    text = request.args.get("refresh", "").strip()
    return min(max(int(text), 2), 3600) if text.isdigit() else REFRESH_S


def _context(board: Board) -> dict[str, Any]:
    args = {k: v for k, v in request.args.to_dict(flat=False).items() if k in ("line", "lang")}
    return {"board": board, "live_url": url_for("dashboards.board_live", **args), "refresh": _refresh(),
            "csv_url": url_for("dashboards.board_file", kind="csv", **args), "pct": percent,
            "held_minutes": int(andon.HELD_ALARM.total_seconds() // 60),
            "minutes": lambda t: int((board.now - t).total_seconds() // 60) if t else None,
            "local": lambda t: t.astimezone(board.zone).strftime("%H:%M") if t else ""}


@dashboards.get("/board")
def board_page() -> str | Response:
    caller = page_viewer()
    if isinstance(caller, Response):
        return caller
    with read_sessions()() as session:
        lang = language(session, caller)
        try:
            board = build_board(session, utcnow())
        except NotFound:
            return Response(render_template("error.html", status=404, kind=None, key=None), 404)
    return render("dashboards/board.html", lang, caller, display=caller.display, **_context(board))


@dashboards.get("/board/live")
def board_live() -> str:
    """The board's body alone, which static/board.js swaps in every REFRESH_S seconds."""
    caller = data_viewer()
    with read_sessions()() as session:
        lang = language(session, caller)
        board = build_board(session, utcnow())
    return render("dashboards/_board_body.html", lang, caller, **_context(board))


@dashboards.get("/board.<any(json, csv):kind>")
def board_file(kind: str) -> Response:
    """The board's data: JSON (board_data) or CSV, one row a machine (board_table)."""
    data_viewer()
    with read_sessions()() as session:
        board = build_board(session, utcnow())
    if kind == "csv":
        return csv_response(board_table(board), f"plant-board-{board.now.astimezone(board.zone):%Y-%m-%dT%H%M}")
    return Response(json.dumps(board_data(board), ensure_ascii=False), mimetype="application/json")
