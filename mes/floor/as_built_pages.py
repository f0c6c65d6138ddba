"""Printable as-built records of a unit and of a satellite, for a quality engineer to hand to a customer.

Each page parses its input, asks mes.as_built for the record (the same one the JSON API serves) and renders it;
the record's content is decided there, only its layout here.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo

from flask import redirect, render_template, request, url_for
from pydantic import BaseModel
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from mes import as_built
from mes.api.access import read_sessions, session_caller
from mes.api.operation import storable
from mes.errors import NotFound
from mes.floor import floor
from mes.models import utcnow
from mes.plant_time import plant_zone

Page = str | Response | tuple[str, int]
MAX_KEY = 200  # longer than any serial or build number; a longer one cannot exist


@floor.app_template_filter("plant_time")
def plant_time(at: datetime | None, zone: tzinfo) -> str:
    """`at` on the plant's clock, with its UTC offset ("2027-01-31 14:05:09 +08:00"); a dash for none."""
    if at is None:
        return "—"
    local = at.astimezone(zone)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]}"


def _record_page(template: str, kind: str, key: str, fetch: Callable[[Session, str], BaseModel]) -> Page:
    """The record `fetch` finds for `key`, rendered; the log-in page first, a 404 page for an unknown key."""
    caller = session_caller()
    if caller is None:
        return redirect(url_for("floor.login", next=request.path))
    if "read" not in caller.permissions:
        return render_template("error.html", status=403, kind=kind, key=None), 403
    if len(key) > MAX_KEY or not storable(key):  # cannot exist, and not worth echoing back
        return render_template("error.html", status=404, kind=kind, key=None), 404
    with read_sessions()() as session:
        try:
            record = fetch(session, key)
        except NotFound:
            return render_template("error.html", status=404, kind=kind, key=key), 404
        zone = plant_zone(session)
    return render_template(template, record=record, zone=zone, generated_at=utcnow(), generated_by=caller.name)


@floor.get("/units/<serial>/as-built")
def unit_as_built(serial: str) -> Page:
    return _record_page("as_built_unit.html", "unit", serial, as_built.unit_as_built)


@floor.get("/satellites/<build>/as-built")
def satellite_as_built(build: str) -> Page:
    return _record_page("as_built_satellite.html", "satellite", build, as_built.satellite_as_built)
