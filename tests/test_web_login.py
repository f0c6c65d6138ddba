"""Browser log-in: name and password, a server-side session, CSRF on writes, log-out that really ends it."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from mes import web_sessions
from mes.models import User, WebSession, utcnow


def form_token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def log_in(client, name: str, password: str = "correct-horse", next_: str = ""):  # type: ignore[no-untyped-def]
    page = client.get("/login").get_data(as_text=True)
    return client.post("/login", data={"name": name, "password": password, "next": next_,
                                       "csrf_token": form_token(page)})


def test_login_with_name_and_password_sets_a_protected_cookie_and_opens_the_home_page(client, make_user) -> None:
    name = make_user("viewer")
    response = log_in(client, name)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("mes_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert name in client.get("/").get_data(as_text=True)


def test_wrong_password_says_so_next_to_the_form_without_telling_which_part(client, make_user) -> None:
    name = make_user("viewer")
    wrong = log_in(client, name, "nope")
    unknown = log_in(client, "nobody", "nope")
    assert wrong.status_code == unknown.status_code == 401
    assert "wrong name or password" in wrong.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_a_form_post_without_its_csrf_token_is_refused(client, make_user) -> None:
    name = make_user("viewer")
    assert client.post("/login", data={"name": name, "password": "correct-horse"}).status_code == 400


def test_login_redirects_only_to_local_pages(client, make_user) -> None:
    name = make_user("viewer")
    assert log_in(client, name, next_="//evil.example/x").headers["Location"] == "/"
    client.post("/logout", data={"csrf_token": form_token(client.get("/").get_data(as_text=True))})
    assert log_in(client, name, next_="/api/v1/lines").headers["Location"] == "/api/v1/lines"


def test_the_api_accepts_the_session_cookie_and_wants_the_csrf_token_for_writes(client, make_user) -> None:
    name = make_user("supervisor")
    session = client.post("/api/v1/session", json={"name": name, "password": "correct-horse"})
    assert session.status_code == 200 and session.json["roles"] == ["supervisor"]
    assert client.get("/api/v1/lines").status_code == 200
    body = {"unit_type": "RWA", "quantity": 1, "due": "2027-01-31"}
    forged = client.post("/api/v1/work-orders", json=body)
    assert forged.status_code == 403 and "X-CSRF-Token" in forged.json["error"]
    ours = client.post("/api/v1/work-orders", json=body, headers={"X-CSRF-Token": session.json["csrf_token"]})
    assert ours.status_code == 201


def test_a_cookie_replayed_after_log_out_is_refused(client, make_user) -> None:
    name = make_user("viewer")
    log_in(client, name)
    cookie = client.get_cookie("mes_session").value
    client.post("/logout", data={"csrf_token": form_token(client.get("/").get_data(as_text=True))})
    client.set_cookie("mes_session", cookie)
    response = client.get("/api/v1/lines")
    assert response.status_code == 401 and "session has ended" in response.json["error"]
    assert client.get("/").status_code == 302


def test_disabling_a_user_ends_their_sessions(client, make_user, sessions) -> None:
    name = make_user("viewer")
    log_in(client, name)
    with sessions.begin() as session:
        session.scalars(select(User).filter_by(name=name)).one().active = False
    assert client.get("/api/v1/lines").status_code == 401


def test_an_idle_session_times_out(sessions, make_user) -> None:
    name = make_user("viewer")
    with sessions.begin() as session:
        value, _ = web_sessions.log_in(session, name, "correct-horse")
    with sessions() as session:
        assert web_sessions.session_caller(session, value, timedelta(minutes=30)) is not None
        later = utcnow() + timedelta(minutes=31)
        assert web_sessions.session_caller(session, value, timedelta(minutes=30), at=later) is None


def test_only_a_digest_of_the_cookie_is_stored(client, make_user, sessions) -> None:
    name = make_user("viewer")
    log_in(client, name)
    cookie = client.get_cookie("mes_session").value
    with sessions() as session:
        row = session.scalars(select(WebSession)).one()
        assert cookie not in row.token_hash and len(row.token_hash) == 64
