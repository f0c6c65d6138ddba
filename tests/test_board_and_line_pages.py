"""The plant board and the line page: who may see them, what their data says for a small seeded history, how
they render.

The board is read as of NOW = Wednesday 2026-11-18 10:00 UTC (18:00 on the plant clock, Asia/Shanghai), so the
plant's day is [Tue 16:00, Wed 16:00) UTC and its ISO week 2026-W47 began Sun 15 16:00 UTC. `board_day` seeds
(UTC; all on line RWA unless said):
  A  walks the 8 steps from 00:00, 20 min apart, each passing first time, and is accepted at 03:00.
  B  passes RWA-ASM Monday 02:00 (this week, not today), fails RWA-BAL at 04:30 (imbalance 0.60): an open NCR.
  C  passes RWA-ASM 05:00-05:30 and starts RWA-BAL on RWA-BAL1 at 09:00 (running; imbalance 0.62 at 09:10,
     its limit is 0.50: an in-step excursion).
  RWA-BAL1 (ASSEMBLY calendar, ideal cycle 1500 s): Execute 06:00, Idle 08:00, Execute 08:30, Held 09:30 (open);
     good counter 100 (baseline) 06:00, 101 06:30, 103 07:30; reject 5 (baseline) 06:00, 6 08:45.
  Adapters: every endpoint healthy but TVAC1 disconnected, VIB1 silent for 45 s, BAL1's spool at 85 %, RIR1's
     clock 5 s off (bound 2 s), and STR-SIM1 never reported. Gaps: TC1 02:00-02:10 today, TC1 yesterday (closed:
     no alarm), STR-SIM1 open since yesterday.
Worked by hand: FPY today = 9 passed of 10 first executions (A's 8, B's BAL, C's ASM); this week 10 of 11 (B's
Monday ASM too). BAL1 until 10:00: planned 00:00-10:00 = 36000 s, production 7200 + 3600, idle 1800, down 1800
(Held 09:30-10:00), so A = 10800 / 14400 = 0.75; P = 1500 x 4 / 10800 = 5/9; Q = 3/4; OEE = 5/16 = 0.3125.
"""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from dashboards import board_pages, board_queries
from mes import excursions, execution, signoff, telemetry
from mes.auth import create_token, revoke_token
from mes.models import EndpointHealth, Machine, StepExecution, TelemetryGap, Unit
from mes.telemetry import Reading
from tests.browser import VIEWPORTS, chromium, log_in, watch_console  # noqa: F401  (chromium is a fixture)
from tests.factories import fit_components, good_values, inspector_id, next_step, release, user_id
from tests.test_dashboard_pages import client_log_in
from tests.test_dashboard_queries import (  # noqa: F401  (history and balancer_day are fixtures)
    FRI,
    MON,
    USER,
    WED,
    H,
    M,
    balancer_day,
    buy_off,
    history,
    work,
)

NOW = WED + 10 * H
S = timedelta(seconds=1)
PACKML = {"Execute": 6, "Idle": 4, "Held": 11}


def walk(sessions, serial: str, start: datetime) -> None:  # type: ignore[no-untyped-def]
    """Every remaining step of the unit, 20 min apart, passing, bought off where the routing asks."""
    at = start
    while True:
        with sessions.begin() as session:
            unit = session.scalars(select(Unit).filter_by(serial=serial)).one()
            if unit.status != "in_work":
                return
            uid, step = user_id(session, USER), next_step(session, serial)
            execution.start_step(session, uid, serial, step.code, step.stations[0].code, at=at)
            fit_components(session, uid, serial, step)
            execution.complete_step(session, uid, serial, step.code, good_values(step), at=at + 10 * M)
            if step.signoff:
                signoff.buy_off(session, inspector_id(session), serial, step.code, "1234", at=at + 15 * M)
        at += 20 * M


def store(sessions, machine: str, *readings: tuple[str, datetime, float]) -> None:  # type: ignore[no-untyped-def]
    with sessions() as session:
        machine_id = session.scalars(select(Machine.id).filter_by(code=machine)).one()
        tags = telemetry.load_tags(session, [machine_id])
    by_name = {t.name: t.id for t in tags.values()}
    with sessions.begin() as session:
        telemetry.store(session, [Reading(by_name[n], at, float(v), None, 0, at) for n, at, v in readings], tags)


@pytest.fixture
def board_day(sessions, make_user, monkeypatch) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The history in the module docstring; the board's clock stands at NOW. Returns A, B, C -> serial."""
    make_user("supervisor", name=USER)
    monkeypatch.setattr(board_pages, "utcnow", lambda: NOW)
    units = dict(zip("ABC", release(sessions, USER, "RWA", 3, at=WED - 96 * H), strict=True))
    walk(sessions, units["A"], WED)
    with sessions.begin() as session:
        signoff.accept(session, inspector_id(session), units["A"], "1234", at=WED + 3 * H)
    work(sessions, units["B"], "RWA-ASM", MON + 7 * 24 * H + 2 * H, MON + 7 * 24 * H + 3 * H)
    buy_off(sessions, units["B"], "RWA-ASM", MON + 7 * 24 * H + 4 * H)
    assert work(sessions, units["B"], "RWA-BAL", WED + 4 * H, WED + 4.5 * H, residual_imbalance="0.60")
    work(sessions, units["C"], "RWA-ASM", WED + 5 * H, WED + 5.5 * H)
    buy_off(sessions, units["C"], "RWA-ASM", WED + 6 * H)
    with sessions.begin() as session:
        execution.start_step(session, user_id(session, USER), units["C"], "RWA-BAL", "RWA-BAL", "RWA-BAL1",
                             at=WED + 9 * H)
    state = [("state", WED + at * H, PACKML[s]) for at, s in ((6, "Execute"), (8, "Idle"), (8.5, "Execute"),
                                                              (9.5, "Held"))]
    counts = [("good_count", WED + 6 * H, 100), ("good_count", WED + 6.5 * H, 101), ("good_count", WED + 7.5 * H, 103),
              ("reject_count", WED + 6 * H, 5), ("reject_count", WED + 8.75 * H, 6)]
    store(sessions, "RWA-BAL1", *state, *counts, ("imbalance", WED + 9 * H + 10 * M, 0.62))
    with sessions.begin() as session:
        endpoint = dict(session.execute(select(Machine.code, Machine.endpoint)).all())
        machine_id = dict(session.execute(select(Machine.code, Machine.id)).all())
        for code, url in endpoint.items():
            if code != "STR-SIM1":
                session.add(EndpointHealth(endpoint=url, connected=code != "RWA-TVAC1", spool_fill=0.1,
                                           clock_offset_s=5.0 if code == "RWA-RIR1" else 0.1,
                                           error="connection refused" if code == "RWA-TVAC1" else None,
                                           updated_at=NOW - (45 if code == "RWA-VIB1" else 5) * S))
        session.get(EndpointHealth, endpoint["RWA-BAL1"]).spool_fill = 0.85  # type: ignore[union-attr]
        session.add_all([
            TelemetryGap(machine_id=machine_id["RWA-TC1"], started_at=WED + 2 * H, ended_at=WED + 2 * H + 10 * M,
                         reason="disconnected", declared_at=WED + 2 * H + 10 * M),
            TelemetryGap(machine_id=machine_id["RWA-TC1"], started_at=WED - 11 * H, ended_at=WED - 10 * H,
                         reason="adapter_restart", declared_at=WED - 10 * H),
            TelemetryGap(machine_id=machine_id["STR-SIM1"], started_at=WED - 20 * H, ended_at=None,
                         reason="disconnected", declared_at=WED - 19 * H)])
    return units


@pytest.fixture
def reader(client, make_user) -> str:  # type: ignore[no-untyped-def]
    name = make_user("quality", name="qe.board", language="en")
    client_log_in(client, name)
    return name


def get_json(client, path: str, **args: str) -> dict:  # type: ignore[no-untyped-def]
    response = client.get(path, query_string=args)
    assert response.status_code == 200 and response.mimetype == "application/json", response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))


def get_csv(client, path: str, **args: str) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    response = client.get(path, query_string=args)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert re.fullmatch(r'attachment; filename="[\w.-]+\.csv"', response.headers["Content-Disposition"])
    return list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def trace(figure: dict, key: str) -> dict:
    return next(t for t in figure["data"] if t.get("meta") == key)


def iso(at: datetime) -> str:
    return at.isoformat()



# --- the plant board -------------------------------------------------------------------------------------------

RWA_MACHINES = [  # code, state, category, since, stale (adapter down), good, reject, OEE today
    ("RWA-BAL1", "Held", "down", iso(WED + 9.5 * H), False, 3, 1, 0.3125),
    ("RWA-RIR1", None, "unknown", None, False, 0, 0, None),
    ("RWA-TC1", None, "unknown", None, False, 0, 0, None),
    ("RWA-TVAC1", None, "unknown", None, True, 0, 0, None),
    ("RWA-VIB1", None, "unknown", None, True, 0, 0, None)]


def test_the_board_json_has_the_hand_computed_figures_of_each_line(client, board_day, reader) -> None:
    board = get_json(client, "/dashboards/board.json")
    assert (board["as_of"], board["day"], board["week"], board["timezone"]) == (
        iso(NOW), "2026-11-18", "2026-W47", "Asia/Shanghai")
    assert [line["code"] for line in board["lines"]][:3] == ["RWA", "STR", "FOG"] and len(board["lines"]) == 15
    rwa = board["lines"][0]
    assert {k: rwa[k] for k in ("accepted", "good", "reject", "open_ncrs")} == {
        "accepted": 1, "good": 3, "reject": 1, "open_ncrs": 1}
    assert rwa["fpy_today"] == pytest.approx(9 / 10) and rwa["fpy_week"] == pytest.approx(10 / 11)
    assert rwa["oee"] == pytest.approx(0.75 * 5 / 9 * 0.75)  # = 0.3125, BAL1 alone has state records
    assert [(m["code"], m["state"], m["category"], m["since"], m["stale"], m["good"], m["reject"], m["oee"])
            for m in rwa["machines"]] == RWA_MACHINES
    assert [(a["kind"], a["machine"], a["since"], a["value"], a["detail"]) for a in rwa["alarms"]] == [
        ("adapter", "RWA-TVAC1", iso(NOW - 5 * S), None, "disconnected"),
        ("adapter", "RWA-VIB1", iso(NOW - 45 * S), None, "silent"),  # 45 s without a report; 30 s allowed
        ("held", "RWA-BAL1", iso(WED + 9.5 * H), 30.0, ""),  # 30 min, 15 allowed
        ("excursion", "RWA-BAL1", iso(WED + 9 * H + 10 * M), 0.62,
         f"imbalance high 0.50 · {board_day['C']} RWA-BAL"),
        ("gap", "RWA-TC1", iso(WED + 2 * H), 10.0, "disconnected"),  # yesterday's gap is not today's alarm
        ("spool", "RWA-BAL1", None, 0.85, ""),
        ("clock", "RWA-RIR1", None, 5.0, "2")]
    strr = board["lines"][1]
    assert [(a["kind"], a["machine"], a["value"], a["detail"]) for a in strr["alarms"]] == [
        ("adapter", "STR-SIM1", None, "no report"), ("gap", "STR-SIM1", None, "disconnected")]  # still open
    assert (strr["fpy_today"], strr["fpy_week"], strr["oee"], strr["accepted"]) == (None, None, None, 0)
    assert all(not line["alarms"] for line in board["lines"][2:])



def test_the_boards_excursions_are_the_ones_mes_excursions_finds_for_the_running_step(sessions, board_day) -> None:
    with sessions() as session:
        running = session.scalars(select(StepExecution).join(Unit, Unit.id == StepExecution.unit_id).where(
            Unit.serial == board_day["C"], StepExecution.status == "running")).one()
        found = excursions.live(session, running)
        board = board_queries.in_step_excursions(session, NOW)
    assert [(f.machine, f.tag, f.side, f.limit, f.extreme, f.first_at) for f in found] == [
        ("RWA-BAL1", "imbalance", "high", "0.50", 0.62, WED + 9 * H + 10 * M)]
    assert [(r.serial, r.step_code, r.tag, r.side, r.limit, r.extreme, r.first_at.to_pydatetime()) for r in
            board.itertuples()] == [(board_day["C"], "RWA-BAL", "imbalance", "high", "0.50", 0.62,
                                     WED + 9 * H + 10 * M)]

def test_the_board_line_filter_shows_only_the_lines_asked_for(client, board_day, reader) -> None:
    board = get_json(client, "/dashboards/board.json", line="STR,RWA")
    assert [line["code"] for line in board["lines"]] == ["RWA", "STR"]
    assert client.get("/dashboards/board.json?line=XYZ").status_code == 404


def test_the_board_csv_has_a_row_a_machine(client, board_day, reader) -> None:
    rows = get_csv(client, "/dashboards/board.csv")
    assert len(rows) == 60
    bal = rows[0]
    assert {k: bal[k] for k in ("line", "machine", "state", "category", "since", "good_today", "reject_today",
                                "alarms")} == {
        "line": "RWA", "machine": "RWA-BAL1", "state": "Held", "category": "down", "since": "2026-11-18T17:30:00+08:00",
        "good_today": "3", "reject_today": "1", "alarms": "held excursion spool"}
    assert float(bal["oee_today"]) == pytest.approx(0.3125)


def test_the_board_page_shows_states_kpis_and_alarms_and_polls_its_body(client, board_day, reader) -> None:
    response = client.get("/dashboards/board")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<script>" not in page and 'src="/dashboards/static/board.js"' in page
    assert 'data-board-src="/dashboards/board/live"' in page and 'data-refresh="15"' in page
    assert page.count('class="line-card') == 15
    assert '<li class="machine state-down" title="Rotor balancer">' in page
    assert "<dd>90.0%</dd>" in page and "<dd>90.9%</dd>" in page and "<dd>31.2%</dd>" in page  # FPY, OEE
    # The three most urgent alarms of a line, then how many more (the JSON has them all).
    assert "<strong>RWA-TVAC1</strong>\nadapter: disconnected since 17:59" in page
    assert "<strong>RWA-BAL1</strong>\nHeld for 30 min" in page and "4 more alarms" in page
    assert "<strong>STR-SIM1</strong>\ntelemetry gap: disconnected 12:00 (still open)" in page
    live = client.get("/dashboards/board/live").get_data(as_text=True)
    assert live.count('class="line-card') == 15 and "<html" not in live


def test_dashboards_open_on_the_plant_board(client, plant) -> None:
    response = client.get("/dashboards/")
    assert response.status_code == 302 and response.headers["Location"] == "/dashboards/board"


@pytest.mark.parametrize("path", ["/dashboards/board", "/dashboards/lines/RWA"])
def test_a_visitor_who_is_not_logged_in_is_sent_to_log_in(client, plant, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("path", ["/dashboards/board.json", "/dashboards/board.csv", "/dashboards/board/live",
                                  "/dashboards/lines/RWA/oee.json", "/dashboards/lines/RWA/steps.csv"])
def test_data_without_a_session_or_token_is_a_401(client, plant, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401 and "error" in response.get_json()


@pytest.fixture
def display_token(sessions, make_user) -> str:  # type: ignore[no-untyped-def]
    name = make_user("supervisor", name="sup.wall")  # a role that may write: the token still only reads
    with sessions.begin() as session:
        return create_token(session, name, ["display"], "hall 1 screen")


def test_a_display_token_opens_the_board_on_a_wall_screen_and_only_reads(client, board_day, display_token,
                                                                          sessions) -> None:
    response = client.get(f"/dashboards/board?token={display_token}&line=RWA")
    assert response.status_code == 302 and response.headers["Location"] == "/dashboards/board?line=RWA"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"mes_display={display_token};") and "HttpOnly" in cookie
    assert "Path=/dashboards/" in cookie and "SameSite=Strict" in cookie
    page = client.get("/dashboards/board?line=RWA")
    assert page.status_code == 200 and page.get_data(as_text=True).count('class="line-card') == 1
    assert 'class="dashboard board wall"' in page.get_data(as_text=True)
    assert get_json(client, "/dashboards/board.json")["lines"][0]["oee"] == pytest.approx(0.3125)
    assert client.get("/dashboards/board/live").status_code == 200
    assert client.get("/dashboards/lines/RWA").status_code == 200
    # The cookie is no session: other pages and the API do not take it, and the token itself only reads.
    assert client.get("/dashboards/spc").status_code == 302
    assert client.get("/api/v1/work-orders").status_code == 401
    headers = {"Authorization": f"Bearer {display_token}"}
    refused = client.post("/api/v1/work-orders", json={"unit_type": "RWA", "quantity": 1, "due": "2027-01-31"},
                          headers=headers)
    assert refused.status_code == 403 and "a display token only reads" in str(refused.get_json())
    with sessions.begin() as session:
        revoke_token(session, display_token)
    assert client.get("/dashboards/board").status_code == 302  # revoked: back to the log-in page


def test_only_a_display_token_may_sit_in_the_url(client, board_day, sessions, make_user) -> None:
    name = make_user("supervisor", name="sup.api")
    with sessions.begin() as session:
        token = create_token(session, name)
    response = client.get(f"/dashboards/board?token={token}")
    assert response.status_code == 403 and "Set-Cookie" not in response.headers
    assert client.get("/dashboards/board?token=mes_nonsense").status_code == 403


# --- the line page ---------------------------------------------------------------------------------------------
# `history` (tests/test_dashboard_queries.py): five wheels U1..U5 between Friday 2026-11-06 and Tuesday 11-10;
# `balancer_day`: RWA-BAL1's states and counts and RWA-TVAC1's executions on Wednesday 11-18.

HISTORY_RANGE = {"from": "2026-11-02", "to": "2026-11-15"}
WEDNESDAY = {"from": "2026-11-18", "to": "2026-11-18"}  # [Tue 16:00, Wed 16:00) UTC
RWA_STEPS = ["RWA-ASM", "RWA-BAL", "RWA-FT", "RWA-TC", "RWA-VIB", "RWA-TVAC", "RWA-RUNIN", "RWA-ACC"]


def test_the_yield_trend_has_fpy_and_rty_by_iso_week(client, history, reader) -> None:  # noqa: F811
    figure = get_json(client, "/dashboards/lines/RWA/yield.json", **HISTORY_RANGE)
    fpy, rty = trace(figure, "fpy"), trace(figure, "rty")
    # W45: U3's Friday assembly, 1 of 1. W46: ASM U2, U1 pass, U4 fails; BAL U3, U1 pass, U2 fails: FPY 4/6,
    # RTY = 2/3 (ASM) x 2/3 (BAL) = 4/9.
    assert fpy["x"] == rty["x"] == ["2026-W45", "2026-W46"]
    assert fpy["y"] == pytest.approx([1.0, 4 / 6]) and rty["y"] == pytest.approx([1.0, 4 / 9])
    assert fpy["customdata"] == [[1], [6]] and figure["layout"]["yaxis"]["tickformat"] == ".0%"
    assert all(t["type"] in ("scatter", "bar") for t in figure["data"])


def test_step_yield_bars_follow_the_routing(client, history, reader) -> None:  # noqa: F811
    bars = trace(get_json(client, "/dashboards/lines/RWA/steps.json", **HISTORY_RANGE), "fpy")
    # ASM: U3, U2, U1 pass first, U4 fails first: 3/4. BAL: U3, U1 pass, U2 fails: 2/3.
    assert bars["x"] == ["RWA-ASM", "RWA-BAL"] and bars["y"] == pytest.approx([0.75, 2 / 3])
    assert bars["customdata"] == [[3, 4], [2, 3]]
    rows = get_csv(client, "/dashboards/lines/RWA/steps.csv", **HISTORY_RANGE)
    assert [(r["step_code"], r["executed"], r["first_passed"]) for r in rows] == [("RWA-ASM", "4", "3"),
                                                                                  ("RWA-BAL", "3", "2")]


def test_the_defect_pareto_counts_ncrs_by_code(client, history, reader) -> None:  # noqa: F811
    figure = get_json(client, "/dashboards/lines/RWA/defects.json", **HISTORY_RANGE)
    assert trace(figure, "bars")["x"] == ["OOT", "WKM"] and trace(figure, "bars")["y"] == [2, 1]
    assert trace(figure, "cumulative")["y"] == pytest.approx([200 / 3, 100.0])
    rows = get_csv(client, "/dashboards/lines/RWA/defects.csv", **HISTORY_RANGE)
    assert [(r["defect_code"], r["count"]) for r in rows] == [("OOT", "2"), ("WKM", "1")]


def test_wip_now_and_queue_times_by_step(client, history, reader) -> None:  # noqa: F811
    figure = get_json(client, "/dashboards/lines/RWA/wip.json", **HISTORY_RANGE)
    # Now: U5 in RWA-ASM, U1 and U3 waiting for RWA-FT (U2, U4 scrapped). Queues (hand-computed in
    # test_dashboard_queries): ASM 40 and 140 min -> median 1.5 h, p90 2 h 10 min; BAL 23, 25.5 and 74 h.
    assert trace(figure, "in_step")["x"] == RWA_STEPS
    assert trace(figure, "in_step")["y"] == [1, 0, 0, 0, 0, 0, 0, 0]
    assert trace(figure, "waiting")["y"] == [0, 0, 2, 0, 0, 0, 0, 0]
    assert trace(figure, "queue_median_s")["y"] == pytest.approx([1.5, 25.5] + [None] * 6)
    assert trace(figure, "queue_p90_s")["y"] == pytest.approx([7800 / 3600, 231480 / 3600] + [None] * 6)
    rows = get_csv(client, "/dashboards/lines/RWA/wip.csv", **HISTORY_RANGE)
    assert [(r["step_code"], r["wip"], r["queued"], r["queue_median_s"]) for r in rows[:3]] == [
        ("RWA-ASM", "1", "2", "5400.0"), ("RWA-BAL", "0", "3", "91800.0"), ("RWA-FT", "2", "0", "")]


def test_oee_by_machine_on_the_balancers_wednesday(client, balancer_day, reader) -> None:  # noqa: F811
    figure = get_json(client, "/dashboards/lines/RWA/oee.json", **WEDNESDAY)
    # BAL1 planned 00:00-16:00 UTC: Stopped 12-13, Idle 13-14:30, Execute 14:30-15:30, Held 15:30-15:45,
    # Execute 15:45-16:00: A = 4500 / 14400; P = 1500 x 3 / 4500 = 1; Q = 2/3. TVAC1 (no counters, no
    # states) made 3 parts by its step records, 1 good: Q = 1/3 and nothing else.
    machines = ["RWA-BAL1", "RWA-RIR1", "RWA-TC1", "RWA-TVAC1", "RWA-VIB1"]
    expected = {"availability": [0.3125, None, None, None, None], "performance": [1.0, None, None, None, None],
                "quality": [2 / 3, None, None, 1 / 3, None], "oee": [0.3125 * 2 / 3, None, None, None, None]}
    for key, values in expected.items():
        assert trace(figure, key)["x"] == machines and trace(figure, key)["y"] == pytest.approx(values), key
    rows = get_csv(client, "/dashboards/lines/RWA/oee.csv", **WEDNESDAY)
    bal = rows[0]
    assert (bal["machine"], bal["planned_s"], bal["production_s"], bal["down_s"], bal["idle_s"], bal["produced"],
            bal["good"]) == ("RWA-BAL1", "57600.0", "4500.0", "4500.0", "5400.0", "3", "2")
    assert rows[1]["availability"] == "" and float(rows[3]["quality"]) == pytest.approx(1 / 3)


def test_the_downtime_pareto_ranks_planned_losses_by_state(client, balancer_day, reader) -> None:  # noqa: F811
    figure = get_json(client, "/dashboards/lines/RWA/downtime.json", **WEDNESDAY)
    assert trace(figure, "bars")["x"] == ["Idle", "Stopped", "Held"]
    assert trace(figure, "bars")["y"] == pytest.approx([1.5, 1.0, 0.25])
    assert trace(figure, "cumulative")["y"] == pytest.approx([5400 / 99, 9000 / 99, 100.0])
    rows = get_csv(client, "/dashboards/lines/RWA/downtime.csv", **WEDNESDAY)
    assert [(r["state"], r["seconds"]) for r in rows] == [("Idle", "5400.0"), ("Stopped", "3600.0"),
                                                         ("Held", "900.0")]


def test_the_line_page_has_filters_and_six_figures_each_with_json_and_csv(client, history, reader) -> None:  # noqa: F811
    response = client.get("/dashboards/lines/RWA", query_string=HISTORY_RANGE)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count('class="figure') == 6 and page.count('class="csv"') == 6 and "data-refresh" not in page
    for name in ("yield", "steps", "defects", "wip", "oee", "downtime"):
        assert f'data-src="/dashboards/lines/RWA/{name}.json?from=2026-11-02&amp;to=2026-11-15&amp;lang=en"' in page
    assert page.count("<option value=") == 15 and '<option value="RWA" selected>' in page
    chosen = client.get("/dashboards/lines", query_string={"line": "STR", **HISTORY_RANGE})
    assert chosen.headers["Location"] == "/dashboards/lines/STR?from=2026-11-02&to=2026-11-15"
    assert client.get("/dashboards/lines/XYZ").status_code == 404
    assert client.get("/dashboards/lines/XYZ/oee.json").status_code == 404
    assert client.get("/dashboards/lines/RWA/oee.json?from=yesterday").status_code == 422


def test_an_empty_range_draws_figures_that_say_so_in_chinese(client, history, make_user) -> None:  # noqa: F811
    client_log_in(client, make_user("supervisor", language="zh"))
    figure = get_json(client, "/dashboards/lines/RWA/steps.json", **{"from": "2020-01-01", "to": "2020-01-31"})
    assert figure["data"] == [] and figure["layout"]["annotations"][0]["text"] == "此时间范围内没有数据"
    assert trace(get_json(client, "/dashboards/lines/RWA/wip.json"), "waiting")["name"] == "等待中"


def test_every_label_of_the_figures_states_and_alarms_has_a_chinese_translation() -> None:
    from pathlib import Path

    from dashboards import i18n, line_figures
    from mes.plant_config.schema import PACKML_STATES

    labels = set(re.findall(r'tr\("([^"]+)"\)', Path(line_figures.__file__).read_text()))
    labels |= set(PACKML_STATES) | {"no report", "silent", "disconnected", "spool_full", "adapter_restart"}
    assert len(labels) > 30 and labels - set(i18n.ZH) == set()


# --- in Chromium -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("width", "height"), VIEWPORTS)
def test_a_wall_screen_shows_the_board_with_a_display_token_and_redraws_it(
        chromium, live_server, board_day, display_token, width: int, height: int) -> None:  # noqa: F811
    context = chromium.new_context(viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        problems = watch_console(page)
        assert page.goto(f"{live_server}/dashboards/board?token={display_token}&refresh=2").status == 200
        assert page.url == f"{live_server}/dashboards/board?refresh=2", "the token leaves the address bar"
        assert page.locator(".line-card").count() == 15
        assert page.locator(".machine.state-down").count() == 1 and page.locator(".machine.stale").count() == 3
        with page.expect_response(lambda r: "/dashboards/board/live" in r.url and r.status == 200, timeout=8_000):
            pass
        page.locator("#board:not(.board-stale) .line-card").first.wait_for(timeout=5_000)
        assert page.locator(".line-card").count() == 15
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "no sideways scrolling"
        size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.kpis dd')).fontSize)")
        assert size >= (18 if width >= 1920 else 16), "KPI figures readable across the room on a wall screen"
        assert problems == []
    finally:
        context.close()


@pytest.mark.parametrize(("width", "height"), VIEWPORTS)
def test_the_line_page_draws_its_six_figures_in_chromium_without_console_errors(
        chromium, live_server, history, make_user, width: int, height: int) -> None:  # noqa: F811
    name = make_user("supervisor", name=f"sup.line.{width}")
    context = chromium.new_context(viewport={"width": width, "height": height})
    try:
        log_in(context, live_server, name, "correct-horse")
        page = context.new_page()
        problems = watch_console(page)
        assert page.goto(f"{live_server}/dashboards/lines/RWA?from=2026-11-02&to=2026-11-15").status == 200
        page.locator(".figure.js-plotly-plot").nth(5).wait_for(timeout=20_000)
        page.locator(".figure .barlayer .point").first.wait_for(timeout=15_000)
        assert page.locator(".figure.js-plotly-plot").count() == 6 and page.locator(".figure-error").count() == 0
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "no sideways scrolling"
        assert problems == []
    finally:
        context.close()
