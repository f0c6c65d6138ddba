"""The dashboards blueprint: who may look, in which language, plotly.js from the installed package.

The pages themselves live beside it (`spc_pages`) and register their routes on `dashboards`. A page is HTML
with empty `.figure` boxes; static/figures.js fetches each figure's JSON and draws it (no inline script).
"""
from __future__ import annotations

import gzip
import re
from functools import lru_cache
from importlib import resources
from typing import Any

import pandas as pd
from flask import Blueprint, abort, redirect, render_template, request, url_for
from plotly.offline import get_plotlyjs_version
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from dashboards import i18n
from mes.api.access import authenticate, session_caller
from mes.auth import Caller
from mes.errors import Forbidden

dashboards = Blueprint("dashboards", __name__, url_prefix="/dashboards", template_folder="templates",
                       static_folder="static")
PERMISSION = "read"
YEAR_S = 365 * 24 * 3600


def page_caller() -> Caller | Response:
    """The logged-in reader of a page, or the response to send instead (log-in page, or 403)."""
    caller = session_caller()
    if caller is None:
        here = request.path + (f"?{request.query_string.decode()}" if request.query_string else "")
        return redirect(url_for("floor.login", next=here))
    if PERMISSION not in caller.permissions:
        return Response(render_template("error.html", status=403, kind=None, key=None), 403)
    return caller


def data_caller() -> Caller:
    """The reader of a figure's JSON or CSV: 401/403 as JSON, since a script, not a person, asked."""
    caller = authenticate()
    if PERMISSION not in caller.permissions:
        raise Forbidden("your role does not allow reading production records")
    return caller


def language(session: Session, caller: Caller) -> str:
    browser = request.accept_languages.best_match(i18n.LANGUAGES)
    return i18n.choose(request.args.get("lang"), i18n.user_language(session, caller.user_id), browser)


def number(value: float | None, digits: int = 4) -> str:
    """`value` to `digits` significant digits; a dash for "no data"."""
    return "—" if value is None else f"{value:.{digits}g}"


def render(template: str, lang: str, caller: Caller, **context: Any) -> str:
    """A dashboard page in `lang`, with the helpers every template uses."""
    other = "en" if lang == "zh" else "zh"
    switch = url_for(request.endpoint or "dashboards.spc_page",
                     **{**(request.view_args or {}), **request.args.to_dict(), "lang": other})
    return render_template(template, lang=lang, html_lang=i18n.HTML_LANG[lang], _=i18n.translator(lang),
                           num=number, user=caller.name, other_lang=other, switch_url=switch,
                           plotly_url=url_for("dashboards.plotly_js", version=plotly_version()), **context)


def csv_response(table: pd.DataFrame, name: str) -> Response:
    """`table` as a CSV download; the BOM lets Excel on a Chinese Windows read it as UTF-8."""
    filename = re.sub(r"[^A-Za-z0-9._-]+", "_", name) + ".csv"
    return Response("\ufeff" + table.to_csv(index=False, lineterminator="\r\n"), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@lru_cache(maxsize=1)
def plotly_version() -> str:
    return get_plotlyjs_version()


@lru_cache(maxsize=2)
def _plotly_bytes(gzipped: bool) -> bytes:
    # The bundle plotly.py itself embeds in offline HTML: the plant may be air-gapped, so never a CDN.
    data = resources.files("plotly").joinpath("package_data", "plotly.min.js").read_bytes()
    return gzip.compress(data, 6) if gzipped else data


@dashboards.get("/vendor/plotly-<version>.min.js")
def plotly_js(version: str) -> Response:
    """plotly.js, cached for a year: its URL names the version, so an upgrade is a new URL."""
    if version != plotly_version():
        abort(404)
    gzipped = request.accept_encodings["gzip"] > 0  # about 1.4 MB instead of 4.8 to a tablet on Wi-Fi
    response = Response(_plotly_bytes(gzipped), mimetype="text/javascript")
    response.headers["Cache-Control"] = f"public, max-age={YEAR_S}, immutable"
    response.vary.add("Accept-Encoding")
    if gzipped:
        response.content_encoding = "gzip"
    return response


@dashboards.get("/")
def index() -> Response:
    return redirect(url_for("dashboards.board_page"))  # the plant board is where the dashboards open


# The pages register their routes on `dashboards`.
from dashboards import board_pages, line_pages, machine_pages, spc_pages, traveler_pages  # noqa: E402, F401
