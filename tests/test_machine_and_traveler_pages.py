"""The machine page and the unit traveler: who may see them, what their figures say for a small seeded history,
how they render.

The history, on one plant day D three days ago (Asia/Shanghai, UTC+8; times below in UTC, D starting at 16:00
the evening before): the balancer RWA-BAL1 is Idle from 14:00 the day before, Executes 01:00-02:30, is Held
02:30-02:45, Executes 02:45-04:00 and is Idle from then on (still open). Over D that is Idle 2 h + 7 h (from
16:00) + 12 h (to 16:00) = 21 h, Execute 2.75 h, Held 0.25 h. Its telemetry drops out 05:00-05:10.
A wheel ran RWA-BAL on it 01:00-04:00. Its spindle speed was sampled once a second 01:00:00-01:02:59 counting
up 0..179, and its imbalance read 0.12 at 01:30:00 and 0.18 at 01:30:30.
- The day's trend reads minute rollups (a day is too long for raw samples): spindle speed minutes 01:00, 01:01,
  01:02 with (min, max, mean) = (0, 59, 29.5), (60, 119, 89.5), (120, 179, 149.5); imbalance 01:30 with
  (0.12, 0.18, 0.15).
- The step's trace (3 h, raw samples, 2,000 points at most) buckets 10,800 s by ceil(10,800 / 2,000) = 6 s: spindle
  speed bucket k holds 6k..6k+5, mean 6k + 2.5, for k = 0..29; the imbalance values fall in buckets 300 and 305.
"""
from __future__ import annotations

import base64
import csv
import io
import json
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import select

from dashboards import i18n, machine_figures
from dashboards.machine_queries import window
from mes import telemetry, telemetry_rollups
from mes.models import (
    EndpointHealth,
    Machine,
    MachineState,
    ProcessSample,
    RoutingStep,
    Station,
    StepExecution,
    Tag,
    TelemetryGap,
)
from mes.models import Unit as UnitRow
from mes.telemetry import Reading
from tests.browser import VIEWPORTS, chromium, log_in, watch_console  # noqa: F401  (chromium is a fixture)
from tests.factories import pass_steps, release, user_id
from tests.test_dashboard_pages import client_log_in

ZONE = ZoneInfo("Asia/Shanghai")
DAY = datetime.now(ZONE).date() - timedelta(days=3)
MIDNIGHT = datetime.combine(DAY, time(0), ZONE).astimezone(UTC)  # 16:00 UTC the day before D


def utc(hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A time on D in UTC (D's plant midnight is 16:00 UTC the day before)."""
    return datetime.combine(DAY, time(hour, minute, second), UTC)


def wall(at: datetime) -> str:
    """`at` as the figures draw it: the plant's wall clock, no offset."""
    return at.astimezone(ZONE).replace(tzinfo=None).isoformat(timespec="seconds")


def wall_ms(at: datetime) -> float:
    """`at` as the trends' x values: the plant's wall clock as if it were UTC, in ms (plotly.js draws it as is)."""
    return datetime.fromisoformat(wall(at)).replace(tzinfo=UTC).timestamp() * 1000


def trace_of(figure: dict, key: str) -> dict:
    """The trace with meta `key`, its arrays as lists (plotly.py sends numpy arrays as base64 "bdata")."""
    found = next(t for t in figure["data"] if t.get("meta") == key)
    return {k: np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).tolist()
            if isinstance(v, dict) and "bdata" in v else v for k, v in found.items()}


@pytest.fixture
def history(sessions, make_user) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """The history above; returns the wheel's serial and the execution's id."""
    make_user("supervisor", name="sup.machine")
    serial = release(sessions, "sup.machine", "RWA", 1, at=MIDNIGHT - timedelta(days=2))[0]
    pass_steps(sessions, "sup.machine", serial, 1)  # RWA-ASM, bought off by the inspector: a signature to show
    with sessions.begin() as session:
        balancer = session.scalars(select(Machine).filter_by(code="RWA-BAL1")).one()
        unit = session.scalars(select(UnitRow).filter_by(serial=serial)).one()
        step = session.scalars(select(RoutingStep).filter_by(routing_revision_id=unit.routing_revision_id,
                                                             code="RWA-BAL")).one()
        execution = StepExecution(
            unit_id=unit.id, step_id=step.id, step_code="RWA-BAL", status="passed", machine_id=balancer.id,
            station_id=session.scalars(select(Station.id).filter_by(code="RWA-BAL")).one(),
            started_by_id=user_id(session, "sup.machine"), started_at=utc(1), ended_at=utc(4))
        session.add(execution)
        for state, start, end in (("Idle", utc(14) - timedelta(days=1), utc(1)), ("Execute", utc(1), utc(2, 30)),
                                  ("Held", utc(2, 30), utc(2, 45)), ("Execute", utc(2, 45), utc(4)),
                                  ("Idle", utc(4), None)):
            session.add(MachineState(machine_id=balancer.id, state=state, started_at=start, ended_at=end))
        session.add(TelemetryGap(machine_id=balancer.id, started_at=utc(5), ended_at=utc(5, 10), reason="disconnected"))
        session.add(EndpointHealth(endpoint=balancer.endpoint, connected=True, last_value_at=utc(12), spool_readings=0,
                                   spool_fill=0.0, clock_offset_s=0.25, error=None, updated_at=utc(12)))
        session.flush()
        execution_id = execution.id
        tags = {t.name: t.id for t in session.scalars(select(Tag).filter_by(machine_id=balancer.id))}
        known = telemetry.load_tags(session, [balancer.id])
        readings = [Reading(tags["spindle_speed"], utc(1) + timedelta(seconds=s), float(s), None, 0, utc(1))
                    for s in range(180)]
        readings += [Reading(tags["imbalance"], utc(1, 30), 0.12, None, 0, utc(1)),
                     Reading(tags["imbalance"], utc(1, 30, 30), 0.18, None, 0, utc(1))]
        telemetry.store(session, readings, known)
        telemetry_rollups.roll_up(session)
    return {"serial": serial, "execution": execution_id, "tags": tags, "known": known}


@pytest.fixture
def supervisor(client, make_user) -> str:  # type: ignore[no-untyped-def]
    name = make_user("supervisor", name="sup.pages", language="en")
    client_log_in(client, name)
    return name


def get_json(client, url: str, **args: str) -> dict:  # type: ignore[no-untyped-def]
    response = client.get(url, query_string=args)
    assert response.status_code == 200 and response.mimetype == "application/json", response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))


def get_csv(client, url: str, **args: str) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    response = client.get(url, query_string=args)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))


ONE_DAY = {"from": DAY.isoformat(), "to": DAY.isoformat()}


@pytest.mark.parametrize("path", ["/dashboards/machines/RWA-BAL1", "/dashboards/units/RWA-26-00001",
                                  "/dashboards/machines"])
def test_the_pages_send_a_visitor_who_is_not_logged_in_to_the_login_page(client, plant, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("path", ["/dashboards/machines/RWA-BAL1/live.json", "/dashboards/machines/RWA-BAL1/trend.csv",
                                  "/dashboards/machines/RWA-BAL1/timeline.json",
                                  "/dashboards/machines/RWA-BAL1/executions.csv",
                                  "/dashboards/units/RWA-26-00001/executions/1/trace.json"])
def test_figure_data_without_a_session_is_a_401_for_the_script(client, plant, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401 and "error" in response.get_json()


def test_unknown_machines_units_and_executions_are_404s(client, history, supervisor) -> None:
    assert client.get("/dashboards/machines/NOPE-1").status_code == 404
    assert client.get("/dashboards/machines/NOPE-1/live.json").status_code == 404
    assert client.get("/dashboards/units/NOPE-00001").status_code == 404
    serial, execution = history["serial"], history["execution"]
    assert client.get(f"/dashboards/units/{serial}/executions/{execution + 99}/trace.json").status_code == 404
    assert client.get(f"/dashboards/units/{serial}/executions/{execution - 1}/trace.json").status_code == 404, \
        "the assembly step ran on no machine"
    assert client.get("/dashboards/machines/RWA-BAL1/trend.json?from=yesterday").status_code == 422


def test_the_machine_page_lists_the_units_it_processed_its_gaps_health_and_time_in_state(
        client, history, supervisor) -> None:
    response = client.get("/dashboards/machines/RWA-BAL1", query_string=ONE_DAY)
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "<script>" not in page and "onload=" not in page
    for name in ("live", "trend", "timeline"):
        assert f'data-src="/dashboards/machines/RWA-BAL1/{name}.json?' in page
    assert 'data-refresh="5"' in page and page.count('data-refresh="') == 1, "only the live trend refreshes"
    assert page.count('class="csv"') == 4
    assert f'href="/dashboards/units/{history["serial"]}?lang=en"' in page and "RWA-BAL · Rotor balancing" in page
    assert "Units processed (1)" in page and "Telemetry gaps (1)" in page and "disconnected" in page
    assert "21.0 h</td><td>87.5 %" in page and "2.8 h</td><td>11.5 %" in page and "0.2 h</td><td>1.0 %" in page
    assert ">connected<" in page and "0.25 s" in page


def test_the_picker_form_lands_on_the_chosen_machine_keeping_the_range(client, history, supervisor) -> None:
    response = client.get("/dashboards/machines", query_string={"machine": "RWA-TVAC1", **ONE_DAY})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/dashboards/machines/RWA-TVAC1?from={DAY}&to={DAY}"


def test_the_state_timeline_json_has_a_bar_a_clipped_interval_in_packml_colours(client, history, supervisor) -> None:
    figure = get_json(client, "/dashboards/machines/RWA-BAL1/timeline.json", **ONE_DAY)
    assert [t["meta"] for t in figure["data"]] == ["Idle", "Execute", "Held", "gap"]
    idle, execute, held, gap = figure["data"]
    assert idle["base"] == [wall(MIDNIGHT), wall(utc(4))] and idle["x"] == [9 * 3600_000, 12 * 3600_000]
    assert execute["base"] == [wall(utc(1)), wall(utc(2, 45))] and execute["x"] == [5400_000, 4500_000]
    assert held["base"] == [wall(utc(2, 30))] and held["x"] == [900_000]
    assert gap["base"] == [wall(utc(5))] and gap["x"] == [600_000] and gap["y"] == ["Telemetry gap"]
    assert idle["marker"]["color"] == machine_figures.STATE_COLOURS["Idle"] and execute["orientation"] == "h"
    assert figure["layout"]["xaxis"]["range"] == [f"{DAY}T00:00:00", f"{DAY + timedelta(days=1)}T00:00:00"]
    assert all(t["type"] == "bar" for t in figure["data"]), "SVG traces only"


def test_the_timeline_csv_has_a_row_an_interval_with_plant_times_and_seconds(client, history, supervisor) -> None:
    rows = get_csv(client, "/dashboards/machines/RWA-BAL1/timeline.csv", **ONE_DAY)
    assert [(r["lane"], r["label"], float(r["seconds"])) for r in rows] == [
        ("state", "Idle", 32400.0), ("state", "Execute", 5400.0), ("state", "Held", 900.0),
        ("state", "Execute", 4500.0), ("state", "Idle", 43200.0), ("gap", "disconnected", 600.0)]
    assert rows[0]["started_at"] == f"{DAY}T00:00:00+08:00" and rows[-1]["ended_at"] == f"{DAY}T13:10:00+08:00"


def test_the_trend_over_a_day_reads_minute_rollups_with_min_max_and_mean(client, history, supervisor) -> None:
    figure = get_json(client, "/dashboards/machines/RWA-BAL1/trend.json", **ONE_DAY)
    speed = trace_of(figure, "spindle_speed")
    assert speed["x"] == [wall_ms(utc(1, m)) for m in range(3)] and speed["y"] == [29.5, 89.5, 149.5]
    assert trace_of(figure, "spindle_speed:min")["y"] == [0, 60, 120]
    assert trace_of(figure, "spindle_speed:max")["y"] == [59, 119, 179]
    imbalance = trace_of(figure, "imbalance")
    assert imbalance["x"] == [wall_ms(utc(1, 30))] and imbalance["y"] == [pytest.approx(0.15)]
    limits = {s["name"]: s["y0"] for s in figure["layout"]["shapes"]}
    assert limits == {"imbalance:high": 0.5, "spindle_speed:high": 3000.0}
    titles = [a["text"] for a in figure["layout"]["annotations"]]
    assert "imbalance (g·mm)" in titles and "spindle_speed (rpm)" in titles
    rows = get_csv(client, "/dashboards/machines/RWA-BAL1/trend.csv", **ONE_DAY)
    assert [(r["tag"], r["t"], float(r["mean"]), int(r["count"])) for r in rows] == [
        ("imbalance", f"{DAY}T09:30:00+08:00", pytest.approx(0.15), 2),
        ("spindle_speed", f"{DAY}T09:00:00+08:00", 29.5, 60), ("spindle_speed", f"{DAY}T09:01:00+08:00", 89.5, 60),
        ("spindle_speed", f"{DAY}T09:02:00+08:00", 149.5, 60)]


def test_the_live_trend_holds_only_the_last_minutes_of_raw_samples_and_is_never_cached(
        sessions, client, history, supervisor) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    recent = [Reading(history["tags"]["spindle_speed"], now - timedelta(seconds=100 - i), 10.0 * (i + 1), None, 0, now)
              for i in range(5)]
    older = Reading(history["tags"]["spindle_speed"], now - timedelta(minutes=11), 99.0, None, 0, now)
    with sessions.begin() as session:
        telemetry.store(session, [*recent, older], history["known"])
    response = client.get("/dashboards/machines/RWA-BAL1/live.json")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    figure = json.loads(response.get_data(as_text=True))
    speed = trace_of(figure, "spindle_speed")
    assert speed["y"] == [10.0, 20.0, 30.0, 40.0, 50.0], "one-second buckets; the sample 11 minutes ago is out"
    assert speed["x"] == [wall_ms(r.source_time) for r in recent]
    assert trace_of(figure, "imbalance")["y"] == [] and figure["layout"]["uirevision"] == "live"
    rows = get_csv(client, "/dashboards/machines/RWA-BAL1/live.csv")
    assert [float(r["mean"]) for r in rows] == [10.0, 20.0, 30.0, 40.0, 50.0]


def test_the_executions_csv_has_every_step_the_machine_ran_in_the_range(client, history, supervisor) -> None:
    rows = get_csv(client, "/dashboards/machines/RWA-BAL1/executions.csv", **ONE_DAY)
    assert rows == [{"serial": history["serial"], "step": "RWA-BAL", "name": "Rotor balancing", "result": "passed",
                     "rework": "False", "run": "", "started_at": f"{DAY}T09:00:00+08:00",
                     "ended_at": f"{DAY}T12:00:00+08:00", "minutes": "180.0"}]
    assert get_csv(client, "/dashboards/machines/RWA-BAL1/executions.csv", **{"from": "2020-01-01",
                                                                             "to": "2020-01-02"}) == []


def test_the_traveler_shows_the_record_with_signatures_and_a_trace_for_the_machine_step(
        client, history, supervisor) -> None:
    serial, execution = history["serial"], history["execution"]
    page = client.get(f"/dashboards/units/{serial}").get_data(as_text=True)
    assert "Unit traveler" in page and "RWA-ASM" in page and "RWA-BAL" in page
    assert "<strong>qe.inspector</strong> (inspected)" in page, "who bought off the assembly step"
    assert page.count('class="figure') == 1, "only the step on a machine has a trace"
    assert f'data-src="/dashboards/units/{serial}/executions/{execution}/trace.json?lang=en"' in page
    assert 'href="/dashboards/machines/RWA-BAL1?lang=en"' in page
    assert f'href="/units/{serial}/as-built"' in page


def test_the_trace_json_buckets_the_steps_raw_samples_to_at_most_2000_points(client, history, supervisor) -> None:
    serial, execution = history["serial"], history["execution"]
    figure = get_json(client, f"/dashboards/units/{serial}/executions/{execution}/trace.json")
    speed = trace_of(figure, "spindle_speed")
    assert speed["y"] == [6 * k + 2.5 for k in range(30)]
    assert speed["x"] == [wall_ms(utc(1) + timedelta(seconds=6 * k)) for k in range(30)]
    assert trace_of(figure, "spindle_speed:min")["y"] == [6 * k for k in range(30)]
    imbalance = trace_of(figure, "imbalance")
    assert imbalance["y"] == [0.12, 0.18] and imbalance["x"] == [wall_ms(utc(1, 30)), wall_ms(utc(1, 30, 30))]
    assert figure["layout"]["xaxis"]["range"] == [wall(utc(1)), wall(utc(4))]
    rows = get_csv(client, f"/dashboards/units/{serial}/executions/{execution}/trace.csv")
    assert len(rows) == 32 and rows[0]["tag"] == "imbalance" and rows[-1]["count"] == "6"


def test_every_label_of_the_machine_figures_and_stored_values_has_a_chinese_translation() -> None:
    stored = {"running", "paused", "passed", "failed", "aborted", "in_work", "ready", "accepted", "scrapped", "open",
              "awaiting_mrb", "closed", "disconnected", "spool_full", "adapter_restart", "manual", "machine"}
    assert (set(machine_figures.LABELS) | stored) - set(i18n.ZH) == set()


def test_the_pages_speak_chinese_to_a_chinese_user(client, history, make_user) -> None:
    client_log_in(client, make_user("supervisor", language="zh"))
    page = client.get("/dashboards/machines/RWA-BAL1", query_string=ONE_DAY).get_data(as_text=True)
    assert "实时趋势" in page and "状态时间线" in page and "空闲" in page
    traveler = client.get(f"/dashboards/units/{history['serial']}").get_data(as_text=True)
    assert "产品履历" in traveler and 'lang="zh-CN"' in traveler
    figure = get_json(client, "/dashboards/machines/RWA-BAL1/timeline.json", **ONE_DAY)
    assert [t["name"] for t in figure["data"]] == ["空闲", "执行", "已保持", "数据中断"]


@pytest.mark.parametrize(("width", "height"), VIEWPORTS)
def test_the_machine_page_and_the_traveler_draw_in_chromium_without_console_errors(
        chromium, live_server, history, make_user, width: int, height: int) -> None:  # noqa: F811
    name = make_user("supervisor", name=f"sup.browser.{width}")
    context = chromium.new_context(viewport={"width": width, "height": height})
    try:
        log_in(context, live_server, name, "correct-horse")
        page = context.new_page()
        problems = watch_console(page)
        assert page.goto(f"{live_server}/dashboards/machines/RWA-BAL1?from={DAY}&to={DAY}").status == 200
        # Locators, not wait_for_function: that evaluates a string, which the page's CSP rightly refuses.
        page.locator(".figure svg.main-svg .barlayer .point").first.wait_for(timeout=15_000)
        page.locator(".figure.tall").nth(1).locator(".scatterlayer .js-line[d*='L']").first.wait_for(timeout=15_000)
        page.locator(".figure[aria-busy]").first.wait_for(state="detached", timeout=15_000)  # all three drawn
        assert page.locator(".figure.js-plotly-plot").count() == 3 and page.locator(".figure-error").count() == 0
        assert page.locator(".figure .barlayer .point").count() == 6, "five state intervals and a gap"
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "no sideways scrolling"
        page.locator(f"a[href^='/dashboards/units/{history['serial']}']").first.click()
        page.locator(".figure svg.main-svg .scatterlayer .js-line[d*='L']").first.wait_for(timeout=15_000)
        assert page.locator(".figure.js-plotly-plot").count() == 1 and page.locator(".figure-error").count() == 0
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "no sideways scrolling"
        assert problems == []
    finally:
        context.close()


def test_the_live_trend_redraws_by_itself(chromium, live_server, history, sessions, make_user) -> None:  # noqa: F811
    name = make_user("supervisor", name="sup.browser.live")
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    try:
        log_in(context, live_server, name, "correct-horse")
        page = context.new_page()
        problems = watch_console(page)
        fetched: list[str] = []
        page.on("requestfinished", lambda r: fetched.append(r.url) if "/live.json" in r.url else None)
        page.goto(f"{live_server}/dashboards/machines/RWA-BAL1")
        page.wait_for_timeout(6_500)  # the refresh is every 5 s
        assert len(fetched) >= 2 and problems == []
    finally:
        context.close()


NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("ago", "span", "source", "width"), [
    (timedelta(minutes=10), timedelta(minutes=10), "raw", 1),  # the live trend
    (timedelta(days=1), timedelta(hours=6), "raw", 11),  # ceil(21,600 s / 2,000)
    (timedelta(days=1), timedelta(days=1), "minute", 60),  # a day of raw samples is too many rows
    (timedelta(days=14), timedelta(days=14), "minute", 600),
    (timedelta(days=15), timedelta(days=15), "hour", 3600),
    (timedelta(days=40), timedelta(hours=1), "minute", 60),  # past the raw samples
    (timedelta(days=100), timedelta(hours=1), "hour", 3600),  # past the minute rollups
])
def test_a_trend_reads_the_finest_store_whose_rows_a_page_can_afford(ago, span, source: str, width: int) -> None:
    found = window(NOW - ago, NOW - ago + span, 2000, NOW)
    assert (found.source, found.width) == (source, width)


def test_an_old_steps_trace_reads_the_samples_kept_with_the_unit(sessions, client, history, supervisor) -> None:
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(days=40)
    with sessions.begin() as session:
        done = session.get(StepExecution, history["execution"])
        old = StepExecution(unit_id=done.unit_id, step_id=done.step_id, step_code=done.step_code, status="aborted",
                            machine_id=done.machine_id, station_id=done.station_id, started_by_id=done.started_by_id,
                            started_at=started, ended_at=started + timedelta(minutes=10))
        session.add(old)
        session.flush()
        session.add_all([ProcessSample(execution_id=old.id, tag_id=history["tags"]["spindle_speed"],
                                       source_time=started + timedelta(seconds=s), value=float(s), status=0)
                         for s in range(600)])
        old_id = old.id
    figure = get_json(client, f"/dashboards/units/{history['serial']}/executions/{old_id}/trace.json")
    speed = trace_of(figure, "spindle_speed")
    assert speed["y"] == [float(s) for s in range(600)], "one-second buckets of the kept samples"
    assert speed["x"][0] == wall_ms(started)
