"""The dashboard pages: who may see them, what their figures say for a small seeded history, how they render.

The seeded series is nine bearing preloads of the reaction wheel's assembly step, 30.0 and 30.2 in turn and
then 31.0. Worked by hand: mean 271.8 / 9 = 30.2; moving ranges seven of 0.2 and one of 0.8, MR̄ = 2.2 / 8 =
0.275; σ = 0.275 / 1.128; UCL = 30.2 + 3σ = 30.93138, LCL = 29.46862; MR UCL = 3.267 × 0.275 = 0.898425.
Only the last point (31.0) lies beyond the UCL: Nelson rule 1, nothing else.
"""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from dashboards import figures, i18n
from mes import execution
from mes.models import Characteristic, RoutingStep
from tests.browser import VIEWPORTS, chromium, log_in, watch_console  # noqa: F401  (chromium is a fixture)
from tests.factories import fit_components, good_values, next_step, release, user_id

PRELOADS = [30.0, 30.2, 30.0, 30.2, 30.0, 30.2, 30.0, 30.2, 31.0]
SIGMA = 0.275 / 1.128
CENTRE, UCL, LCL = 30.2, 30.2 + 3 * SIGMA, 30.2 - 3 * SIGMA
MR_CENTRE, MR_UCL = 0.275, 3.267 * 0.275
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
TEMPLATES = Path(__file__).resolve().parents[1] / "dashboards" / "templates"


def client_log_in(client, name: str) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = client.post("/login", data={"name": name, "password": "correct-horse", "csrf_token": token})
    assert response.status_code == 302


@pytest.fixture
def preload(sessions, make_user) -> int:  # type: ignore[no-untyped-def]
    """The nine preloads above, entered at RWA-ASM on nine new wheels; returns the characteristic's id."""
    builder = make_user("supervisor", name="sup.spc")
    for serial, value in zip(release(sessions, builder, "RWA", len(PRELOADS)), PRELOADS, strict=True):
        with sessions.begin() as session:
            uid, step = user_id(session, builder), next_step(session, serial)
            execution.start_step(session, uid, serial, step.code, step.stations[0].code)
            fit_components(session, uid, serial, step)
            values = {**good_values(step), "bearing_preload": str(value)}
            execution.complete_step(session, uid, serial, step.code, values)
    with sessions() as session:
        return session.scalars(select(Characteristic.id).join(RoutingStep)
                               .where(RoutingStep.code == "RWA-ASM", Characteristic.name == "bearing_preload")).one()


@pytest.fixture
def engineer(client, make_user) -> str:  # type: ignore[no-untyped-def]
    name = make_user("quality", name="qe.spc", language="en")
    client_log_in(client, name)
    return name


def figure_json(client, preload: int, figure: str, **args: str) -> dict:  # type: ignore[no-untyped-def]
    response = client.get(f"/dashboards/spc/{figure}.json", query_string={"characteristic": preload, **args})
    assert response.status_code == 200 and response.mimetype == "application/json"
    return json.loads(response.get_data(as_text=True))


def trace(figure: dict, key: str) -> dict:
    return next(t for t in figure["data"] if t.get("meta") == key)


def test_the_spc_page_sends_a_visitor_who_is_not_logged_in_to_the_login_page(client, plant) -> None:
    response = client.get("/dashboards/spc?characteristic=1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/dashboards/spc?characteristic%3D1"


@pytest.mark.parametrize("path", ["/dashboards/spc/control.json", "/dashboards/spc/histogram.csv"])
def test_figure_data_without_a_session_is_a_401_for_the_script(client, plant, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401 and "error" in response.get_json()


def test_an_unknown_characteristic_is_a_404_page_and_a_404_for_the_script(client, preload, engineer) -> None:
    assert client.get("/dashboards/spc?characteristic=999999").status_code == 404
    assert client.get("/dashboards/spc/control.json?characteristic=999999").status_code == 404
    assert client.get("/dashboards/spc/control.json?characteristic=x").status_code == 422


def test_a_quality_engineer_sees_the_spc_page_with_its_capability_and_the_csp_header(
        client, preload, engineer) -> None:
    response = client.get("/dashboards/spc", query_string={"characteristic": preload})
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"] == CSP
    page = response.get_data(as_text=True)
    assert "<script>" not in page and "onload=" not in page, "no inline script under script-src 'self'"
    assert 'data-src="/dashboards/spc/control.json?' in page and 'data-src="/dashboards/spc/histogram.json?' in page
    assert page.count('class="csv"') == 2
    # Cp = 6 / 6σ = 1.128 / 0.275 = 4.10; Cpk = (33 − 30.2) / 3σ = 3.83; Pp = 6 / (6 × √0.1) = 3.16; Ppk = 2.95.
    for shown in ("<th>Cp</th><td class=\"index\">4.1</td>", "<th>Cpk</th><td class=\"index\">3.83</td>",
                  "<th>Pp</th><td class=\"index\">3.16</td>", "<th>Ppk</th><td class=\"index\">2.95</td>"):
        assert shown in page
    assert "Points breaking a Nelson rule: <strong>1</strong>" in page


def test_the_control_chart_json_has_the_hand_computed_limits_and_flags_only_the_last_point(
        client, preload, engineer) -> None:
    chart = figure_json(client, preload, "control")
    assert trace(chart, "points")["y"] == PRELOADS
    for key, level in (("centre", CENTRE), ("ucl", UCL), ("lcl", LCL), ("range_centre", MR_CENTRE),
                       ("range_ucl", MR_UCL)):
        assert trace(chart, key)["y"] == [pytest.approx(level, abs=1e-9)] * 2, key
    assert trace(chart, "ranges")["x"] == list(range(2, 10))
    assert trace(chart, "ranges")["y"] == pytest.approx([0.2] * 7 + [0.8])
    flagged = trace(chart, "violations")
    assert flagged["x"] == [9] and flagged["y"] == [31.0]
    assert flagged["text"] == ["Rule 1: one point beyond 3σ"]
    assert all(t["type"] in ("scatter", "bar") for t in chart["data"]), "SVG traces only: WebGL needs unsafe-eval"


def test_the_histogram_json_counts_sturges_bins_against_the_specification_and_control_limits(
        client, preload, engineer) -> None:
    histogram = figure_json(client, preload, "histogram")
    # Sturges: 1 + log2(9) rounded up = 5 bins over 30.0 .. 31.0, each 0.2 wide.
    bars = trace(histogram, "counts")
    assert bars["y"] == [4, 4, 0, 0, 1]
    assert bars["x"] == pytest.approx([30.1, 30.3, 30.5, 30.7, 30.9])
    lines = {shape["name"]: shape["x0"] for shape in histogram["layout"]["shapes"]}
    assert lines == {"LSL": 27.0, "USL": 33.0, "LCL": pytest.approx(LCL), "CL": pytest.approx(CENTRE),
                     "UCL": pytest.approx(UCL)}


def test_the_control_chart_csv_has_a_row_a_point_with_serial_limits_and_rules(client, preload, engineer) -> None:
    response = client.get("/dashboards/spc/control.csv", query_string={"characteristic": preload})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert re.fullmatch(r'attachment; filename="spc-control-RWA-ASM-bearing_preload-[\d-]+\.csv"',
                        response.headers["Content-Disposition"])
    rows = list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert [float(r["value"]) for r in rows] == PRELOADS
    assert [r["rules"] for r in rows] == [""] * 8 + ["1"]
    assert rows[0]["range"] == "" and float(rows[-1]["range"]) == pytest.approx(0.8)
    assert float(rows[0]["ucl"]) == pytest.approx(UCL) and all(r["serial"].startswith("RWA") for r in rows)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", rows[0]["recorded_at"]), "plant clock, with offset"


def test_a_range_without_measurements_draws_an_empty_figure_that_says_so(client, preload, engineer) -> None:
    chart = figure_json(client, preload, "control", **{"from": "2020-01-01", "to": "2020-01-31"})
    assert chart["data"] == []
    assert chart["layout"]["annotations"][0]["text"] == "No measurements in this range"


@pytest.mark.parametrize(("language", "query", "expected"), [
    ("en", {}, "Control chart"), ("zh", {}, "控制图"), ("zh", {"lang": "en"}, "Control chart"),
    ("en", {"lang": "zh"}, "控制图"),
])
def test_the_page_speaks_the_users_language_unless_the_lang_parameter_says_otherwise(
        client, preload, make_user, language: str, query: dict[str, str], expected: str) -> None:
    client_log_in(client, make_user("supervisor", language=language))
    page = client.get("/dashboards/spc", query_string={"characteristic": preload, **query}).get_data(as_text=True)
    assert expected in page
    assert f'lang="{i18n.HTML_LANG[query.get("lang", language)]}"' in page


def test_every_label_of_the_templates_and_figures_has_a_chinese_translation() -> None:
    keys = {m for path in TEMPLATES.rglob("*.html")
            for m in re.findall(r"""_\((?:"([^"]+)"|'([^']+)')\)""", path.read_text()) for m in m if m}
    keys |= set(figures.NELSON_RULES.values())
    assert keys - set(i18n.ZH) == set()


def test_plotly_js_comes_from_the_installed_package_with_a_long_cache(client, preload, engineer) -> None:
    page = client.get("/dashboards/spc").get_data(as_text=True)
    src = re.search(r'<script src="(/dashboards/vendor/plotly-[\d.]+\.min\.js)"', page).group(1)  # type: ignore[union-attr]
    response = client.get(src)
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert "max-age=31536000" in response.headers["Cache-Control"] and "immutable" in response.headers["Cache-Control"]
    assert b"plotly.js" in response.get_data()[:200]
    zipped = client.get(src, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip" and len(zipped.get_data()) < len(response.get_data()) / 2
    assert client.get("/dashboards/vendor/plotly-0.0.1.min.js").status_code == 404


@pytest.mark.parametrize(("width", "height"), VIEWPORTS)
def test_the_spc_page_draws_its_figures_in_chromium_without_console_errors(
        chromium, live_server, preload, make_user, width: int, height: int) -> None:  # noqa: F811
    name = make_user("quality", name=f"qe.browser.{width}")
    context = chromium.new_context(viewport={"width": width, "height": height})
    try:
        log_in(context, live_server, name, "correct-horse")
        page = context.new_page()
        problems = watch_console(page)
        assert page.goto(f"{live_server}/dashboards/spc?characteristic={preload}").status == 200
        # A locator, not wait_for_function: that evaluates a string, which the page's CSP rightly refuses.
        page.locator(".figure.tall svg.main-svg .scatterlayer .point").first.wait_for(timeout=15_000)
        page.locator(".figure:not(.tall) svg.main-svg .barlayer .point").first.wait_for(timeout=15_000)
        assert page.locator(".figure.js-plotly-plot").count() == 2 and page.locator(".figure-error").count() == 0
        assert page.locator(".figure.tall .scatterlayer .point").count() >= len(PRELOADS)
        assert page.locator(".figure:not(.tall) .barlayer .point").count() == 5
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "no sideways scrolling"
        assert problems == []
    finally:
        context.close()
