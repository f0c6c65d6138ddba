"""Browser log-ins kept on the server: log in with name and password, look up, log out.

The cookie holds a random value; the database holds only its SHA-256, so a leaked
database gives no usable session, and revoking the row ends the session at once.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mes.auth import Caller, token_digest, verify_secret
from mes.errors import Unauthenticated
from mes.models import User, WebSession, utcnow

COOKIE = "mes_session"
TOUCH_EVERY = timedelta(minutes=1)  # how stale last_seen_at may get before we write it again


def log_in(session: Session, name: str, password: str, at: datetime | None = None) -> tuple[str, User]:
    """Check name and password and open a session; returns the cookie value and the user."""
    user = session.scalars(select(User).filter_by(name=name).options(selectinload(User.roles))).one_or_none()
    # One message for both cases, so the form does not tell which user names exist.
    if user is None or not user.active or not verify_secret(user.password_hash, password):
        raise Unauthenticated("wrong name or password")
    value = secrets.token_urlsafe(32)
    at = at or utcnow()
    session.add(WebSession(user_id=user.id, token_hash=token_digest(value), created_at=at, last_seen_at=at))
    session.flush()
    return value, user


def session_caller(session: Session, value: str, idle_limit: timedelta, at: datetime | None = None,
                   ) -> tuple[Caller, bool] | None:
    """The caller of a live session and whether its last-seen time is due a refresh; None if ended."""
    row = session.scalars(
        select(WebSession).options(selectinload(WebSession.user).selectinload(User.roles))
        .filter_by(token_hash=token_digest(value))
    ).one_or_none()
    at = at or utcnow()
    if row is None or row.revoked_at is not None or not row.user.active or at - row.last_seen_at > idle_limit:
        return None
    caller = Caller(row.user.id, row.user.name, row.user.permissions)
    return caller, at - row.last_seen_at > TOUCH_EVERY


def touch(session: Session, value: str, at: datetime | None = None) -> None:
    """Record activity, so an idle session times out from the last use, not from log-in."""
    row = session.scalars(select(WebSession).filter_by(token_hash=token_digest(value))).one_or_none()
    if row is not None:
        row.last_seen_at = at or utcnow()


def log_out(session: Session, value: str, at: datetime | None = None) -> None:
    """End the session; its cookie is refused from now on, even if replayed."""
    row = session.scalars(select(WebSession).filter_by(token_hash=token_digest(value))).one_or_none()
    if row is not None and row.revoked_at is None:
        row.revoked_at = at or utcnow()


def csrf_token(secret_key: str, value: str) -> str:
    """The anti-forgery token that must accompany a cookie-authenticated write to the API."""
    return hmac.new(secret_key.encode(), b"csrf:" + value.encode(), hashlib.sha256).hexdigest()
