"""Server-rendered pages: log-in and the home page (the tablet and supervisor pages grow here)."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from mes import web_sessions
from mes.api.access import session_caller, sessions
from mes.api.session import set_session_cookie
from mes.errors import Unauthenticated

floor = Blueprint("floor", __name__, template_folder="templates", static_folder="static",
                  static_url_path="/static/floor")


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect would let a phishing link bounce through our log-in.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("floor.home")


@floor.get("/")
def home() -> str | Response:
    caller = session_caller()
    if caller is None:
        return redirect(url_for("floor.login", next=request.path))
    return render_template("home.html", user=caller.name)


@floor.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    if request.method == "GET":
        return render_template("login.html", error=None, name="", next=request.args.get("next", ""))
    name = request.form.get("name", "").strip()
    try:
        with sessions().begin() as session:
            value, _ = web_sessions.log_in(session, name, request.form.get("password", ""))
    except Unauthenticated as exc:
        return render_template("login.html", error=exc.message, name=name, next=request.form.get("next", "")), 401
    response = redirect(_safe_next(request.form.get("next")))
    set_session_cookie(response, value)
    return response


@floor.post("/logout")
def logout() -> Response:
    if cookie := request.cookies.get(web_sessions.COOKIE):
        with sessions().begin() as session:
            web_sessions.log_out(session, cookie)
    response = redirect(url_for("floor.login"))
    response.delete_cookie(web_sessions.COOKIE, path="/")
    return response


from mes.floor import as_built_pages  # noqa: E402, F401  (its routes register on `floor`)
