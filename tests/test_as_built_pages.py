"""The printable as-built pages: a unit's and a satellite's record as HTML a quality engineer hands to a customer."""
from __future__ import annotations

import re
from datetime import date
from html import unescape

import pytest
from sqlalchemy import select

from mes import satellites
from mes.auth import create_user
from mes.models import RoutingStep, Unit
from tests.factories import INSPECTOR, build_accepted, user_id

SIGNER = "Wang Fang (Quality)"  # the printed name the acceptance signature carries


def log_in(client, name: str) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = client.post("/login", data={"name": name, "password": "correct-horse", "csrf_token": token})
    assert response.status_code == 302


def text_of(response) -> str:  # type: ignore[no-untyped-def]
    return unescape(response.get_data(as_text=True))


@pytest.fixture
def accepted(sessions, make_user) -> str:  # type: ignore[no-untyped-def]
    """An accepted magnetorquer rod, built by a supervisor, bought off and accepted by the named inspector."""
    builder = make_user("supervisor", name="sup.builder")
    with sessions.begin() as session:
        create_user(session, INSPECTOR, ["quality"], "correct-horse", pin="1234", display_name=SIGNER)
    return build_accepted(sessions, builder, "MTQ")


@pytest.fixture
def viewer(client, make_user) -> str:  # type: ignore[no-untyped-def]
    name = make_user("viewer", name="view.page")
    log_in(client, name)
    return name


def decimal_with_trailing_zero(sessions, serial: str) -> str:  # type: ignore[no-untyped-def]
    """A value the factory entered (a nominal) whose text a float would lose: '45.0', not '45'."""
    with sessions() as session:
        unit = session.scalars(select(Unit).filter_by(serial=serial)).one()
        steps: list[RoutingStep] = unit.routing_revision.steps
        return next(c.nominal for s in steps for c in s.characteristics
                    if c.nominal and re.fullmatch(r"-?\d+\.\d*0", c.nominal))


def test_the_unit_page_sends_a_visitor_who_is_not_logged_in_to_the_login_page(client, accepted) -> None:
    response = client.get(f"/units/{accepted}/as-built")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next=/units/{accepted}/as-built"
    assert client.get("/satellites/SAT-001/as-built").status_code == 302


def test_a_viewer_sees_the_unit_record_with_every_step_its_values_as_entered_and_the_acceptance_signer(
        client, sessions, accepted, viewer) -> None:
    response = client.get(f"/units/{accepted}/as-built")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = text_of(response)
    assert accepted in page
    with sessions() as session:
        unit = session.scalars(select(Unit).filter_by(serial=accepted)).one()
        codes = [s.code for s in sorted(unit.routing_revision.steps, key=lambda s: s.sequence)]
    positions = [page.index(f'<span class="code">{code}</span>') for code in codes]
    assert positions == sorted(positions), "the steps appear in routing order"
    value = decimal_with_trailing_zero(sessions, accepted)
    assert f'<td class="value">{value}</td>' in page
    acceptance = re.search(r"Final acceptance</dt><dd>(.*?)</dd>", page, re.S)
    assert acceptance and SIGNER in acceptance.group(1) and "(approved)" in acceptance.group(1)
    assert re.search(r"#[0-9a-f]{64}", acceptance.group(1)), "the signature's content hash is printed"


def test_the_record_shows_times_on_the_plant_clock_and_names_the_zone(client, accepted, viewer) -> None:
    page = text_of(client.get(f"/units/{accepted}/as-built"))
    assert "Asia/Shanghai" in page
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+08:00", page)


def test_the_record_is_styled_by_a_static_print_stylesheet_without_inline_style_or_script(
        client, accepted, viewer) -> None:
    page = text_of(client.get(f"/units/{accepted}/as-built"))
    assert "<script" not in page and "<style" not in page and " style=" not in page
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]*as_built\.css)"', page)
    assert stylesheet
    css = client.get(stylesheet.group(1)).get_data(as_text=True)
    assert "@media print" in css and "break-before: page" in css


def test_the_satellite_page_lists_missing_positions_the_allocated_serial_and_the_unit_record(
        client, sessions, accepted, viewer) -> None:
    with sessions.begin() as session:
        uid = user_id(session, "sup.builder")
        satellites.create_satellite(session, uid, "SAT-007", "CompSat", date(2027, 6, 30))
        satellites.allocate(session, uid, "SAT-007", accepted)
    response = client.get("/satellites/SAT-007/as-built")
    assert response.status_code == 200
    page = text_of(response)
    assert "CompSat" in page and "2027-06-30" in page
    rows = re.findall(r'<tr class="(filled|missing)">', page)
    assert rows.count("filled") == 1 and rows.count("missing") == len(rows) - 1 > 0
    assert page.count('<span class="missing-label">missing</span>') == rows.count("missing")
    assert f'href="#unit-{accepted}">{accepted}</a>' in page
    assert f'<article class="unit-record" id="unit-{accepted}">' in page
    assert "No containment holds a unit in this satellite." in page


def test_an_unknown_serial_or_build_is_a_404_html_page(client, viewer) -> None:
    for path, shown in (("/units/NOPE-26-99999/as-built", "NOPE-26-99999"), ("/satellites/SAT-404/as-built",
                                                                            "SAT-404")):
        response = client.get(path)
        assert response.status_code == 404 and response.mimetype == "text/html"
        assert "Not found" in text_of(response) and shown in text_of(response)
    assert client.get("/units/x%00y/as-built").status_code == 404
