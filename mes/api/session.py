"""Browser log-in for the JSON API: the pages' scripts use the session cookie plus its CSRF token."""
from __future__ import annotations

from flask import current_app, request

from mes import web_sessions
from mes.api import schemas as s
from mes.api.operation import Call, on_response, operation


def set_session_cookie(response, value: str) -> None:  # type: ignore[no-untyped-def]
    """HttpOnly so scripts cannot read it, SameSite so other sites cannot send it, Secure over TLS."""
    response.set_cookie(web_sessions.COOKIE, value, httponly=True, samesite="Lax", secure=request.is_secure,
                        path="/")


@operation("POST", "/session", summary="Log in with name and password; sets the session cookie (public)",
           body=s.LoginIn, response=s.SessionOut, permission=None)
def log_in(call: Call) -> s.SessionOut:
    value, user = web_sessions.log_in(call.session, call.body.name, call.body.password)
    on_response(lambda response: set_session_cookie(response, value))
    return s.SessionOut(user=user.name, display_name=user.display_name, roles=[r.name for r in user.roles],
                        csrf_token=web_sessions.csrf_token(current_app.config["SECRET_KEY"], value))


@operation("DELETE", "/session", summary="Log out: the session ends on the server", body=None,
           response=s.LoggedOut, permission="read")
def log_out(call: Call) -> s.LoggedOut:
    if value := request.cookies.get(web_sessions.COOKIE):
        web_sessions.log_out(call.session, value)
    on_response(lambda response: response.delete_cookie(web_sessions.COOKIE, path="/"))
    return s.LoggedOut(logged_out=True)
