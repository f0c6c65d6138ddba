"""Who is calling (bearer token or session cookie), and the session factories views use."""
from __future__ import annotations

import hmac

from flask import current_app, request
from sqlalchemy.orm import Session, sessionmaker

from mes import web_sessions
from mes.auth import Caller, authenticate_token
from mes.errors import Forbidden, Unauthenticated


def sessions() -> sessionmaker[Session]:
    """The app's session factory; views open one transaction per use case with `.begin()`."""
    return current_app.extensions["mes"]["sessions"]


def read_sessions() -> sessionmaker[Session]:
    """Sessions for requests that only read (they never wait for SQLite's write lock)."""
    return current_app.extensions["mes"]["read_sessions"]


def session_caller() -> Caller | None:
    """Who the request's session cookie belongs to, if the session is live; its idle clock restarts."""
    cookie = request.cookies.get(web_sessions.COOKIE)
    if not cookie:
        return None
    settings = current_app.extensions["mes"]["settings"]
    with read_sessions()() as session:
        found = web_sessions.session_caller(session, cookie, settings.session_idle)
    if found is None:
        return None
    caller, stale = found
    if stale:
        with sessions().begin() as session:
            web_sessions.touch(session, cookie)
    return caller


def authenticate() -> Caller:
    """The caller behind the bearer token or the session cookie, or 401.

    A cookie-authenticated write must carry the session's X-CSRF-Token: a cookie alone is
    sent by the browser for any site, a header only by our own pages.
    """
    header = request.headers.get("Authorization")
    if header is not None:
        return _bearer(header)
    cookie = request.cookies.get(web_sessions.COOKIE)
    if not cookie:
        raise Unauthenticated("log in, or send 'Authorization: Bearer <token>'")
    caller = session_caller()
    if caller is None:
        raise Unauthenticated("your session has ended; log in again")
    if request.method not in ("GET", "HEAD"):
        expected = web_sessions.csrf_token(current_app.config["SECRET_KEY"], cookie)
        if not hmac.compare_digest(request.headers.get("X-CSRF-Token", ""), expected):
            raise Forbidden("missing or wrong X-CSRF-Token for a cookie-authenticated request")
    return caller


def _bearer(header: str) -> Caller:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("log in, or send 'Authorization: Bearer <token>'")
    with read_sessions()() as session:
        caller = authenticate_token(session, token.strip())
    if caller is None:
        raise Unauthenticated("the token is unknown, revoked or its user disabled")
    return caller
