"""Users, roles and API tokens: creating them and checking who is calling."""
from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mes import audit
from mes.errors import Conflict, Invalid, NotFound
from mes.models import ApiToken, Line, Machine, Role, User, utcnow

log = logging.getLogger(__name__)
# argon2id with the library's recommended parameters. MES_FAST_HASHING=1 (the test suite only) uses
# the cheapest ones, since tests create hundreds of users and must stay fast.
_hasher = (PasswordHasher(time_cost=1, memory_cost=64, parallelism=1) if os.environ.get("MES_FAST_HASHING") == "1"
           else PasswordHasher())
NAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
SCOPE = re.compile(r"^(line|machine):(.+)$")
DISPLAY = "display"  # a wall-board token: reads only, never expires


def hash_secret(secret: str) -> str:
    """An argon2id hash of a password or PIN."""
    return _hasher.hash(secret)


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    """True when `secret` matches `stored_hash`; any malformed hash is a plain no."""
    if not stored_hash:
        return False
    try:
        return _hasher.verify(stored_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    """SHA-256 of a token: tokens are 256-bit random, so a fast hash is enough and keeps API calls quick."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(session: Session, name: str, roles: list[str], password: str, *, pin: str | None = None,
                badge: str | None = None, display_name: str | None = None, language: str = "zh",
                actor_id: int | None = None) -> User:
    """Add a user with the named roles; passwords and PINs are stored only as argon2id hashes."""
    if not NAME.match(name):
        raise Invalid("a user name is 2-64 lower-case letters, digits, '.', '_' or '-', starting with a letter",
                      "name")
    if len(password) < 8:
        raise Invalid("the password needs at least 8 characters", "password")
    if pin is not None and not re.fullmatch(r"\d{4,8}", pin):
        raise Invalid("a PIN is 4 to 8 digits", "pin")
    if language not in ("zh", "en"):
        raise Invalid("language is zh or en", "language")
    if not roles:
        raise Invalid("a user needs at least one role", "role")
    found = list(session.scalars(select(Role).where(Role.name.in_(roles))))
    if missing := sorted(set(roles) - {r.name for r in found}):
        raise Invalid(f"unknown role(s) {', '.join(missing)}; load the plant first (mes plant load)", "role")
    if session.scalar(select(User.id).filter_by(name=name)) is not None:
        raise Conflict(f"user {name!r} already exists", "name")
    if badge is not None and session.scalar(select(User.id).filter_by(badge=badge)) is not None:
        raise Conflict(f"badge {badge!r} belongs to another user", "badge")
    user = User(name=name, display_name=display_name or name, badge=badge, password_hash=hash_secret(password),
                pin_hash=hash_secret(pin) if pin else None, language=language, roles=found)
    session.add(user)
    session.flush()
    audit.record(session, actor_id, "user.create", "user", name, new={
        "display_name": user.display_name, "roles": sorted(roles), "badge": badge, "language": language,
        "pin": pin is not None})
    return user


def get_user(session: Session, name: str) -> User:
    user = session.scalars(select(User).filter_by(name=name)).one_or_none()
    if user is None:
        raise NotFound(f"no user {name!r}", "user")
    return user


def _check_scopes(session: Session, scopes: list[str]) -> None:
    for scope in scopes:
        if scope == DISPLAY:
            continue
        match = SCOPE.match(scope)
        if match is None:
            raise Invalid(f"scope {scope!r} is not display, line:<number or code> or machine:<code>", "scope")
        kind, value = match.groups()
        if kind == "line":
            condition = Line.code == value
            if value.isdigit():
                condition = condition | (Line.number == int(value))
            query = select(Line.id).where(condition)
        else:
            query = select(Machine.id).where(Machine.code == value)
        if session.scalar(query) is None:
            raise Invalid(f"scope {scope!r} names no configured {kind}", "scope")


TOKEN_PREFIX = "mes_"


def create_token(session: Session, user_name: str, scopes: list[str] | None = None, name: str = "",
                 actor_id: int | None = None) -> str:
    """Create an API token for a user and return it; only its digest is stored, so it is shown once."""
    user = get_user(session, user_name)
    scopes = scopes or []
    _check_scopes(session, scopes)
    # The prefix keeps a token from starting with "-" (read as an option on a command line)
    # and lets secret scanners recognise a leaked one.
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)  # 256 bits
    digest = token_digest(token)
    session.add(ApiToken(user_id=user.id, name=name, token_hash=digest, scopes=scopes))
    session.flush()
    audit.record(session, actor_id, "token.create", "api_token", digest[:12],
                 new={"user": user.name, "scopes": scopes, "name": name})
    return token


def revoke_token(session: Session, token: str, actor_id: int | None = None) -> ApiToken:
    """Revoke a token, given the token itself or the first characters of its digest (at least 8)."""
    row = session.scalars(select(ApiToken).filter_by(token_hash=token_digest(token))).one_or_none()
    if row is None and re.fullmatch(r"[0-9a-f]{8,64}", token):
        matches = list(session.scalars(select(ApiToken).where(ApiToken.token_hash.startswith(token))))
        if len(matches) > 1:
            raise Invalid("that digest prefix matches several tokens; give more characters", "token")
        row = matches[0] if matches else None
    if row is None:
        raise NotFound("no such token", "token")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(session, actor_id, "token.revoke", "api_token", row.token_hash[:12],
                     old={"revoked": False}, new={"revoked": True})
    return row


@dataclass(frozen=True)
class Caller:
    """Who is calling and what they may do, detached from the session that found them."""

    user_id: int
    name: str
    permissions: frozenset[str]
    scopes: tuple[str, ...] = ()

    @property
    def display(self) -> bool:
        return DISPLAY in self.scopes


def authenticate_token(session: Session, token: str) -> Caller | None:
    """The caller a bearer token stands for, or None if it is unknown, revoked or its user disabled."""
    row = session.scalars(
        select(ApiToken).options(selectinload(ApiToken.user).selectinload(User.roles))
        .filter_by(token_hash=token_digest(token))
    ).one_or_none()
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    permissions = row.user.permissions
    if DISPLAY in row.scopes:
        permissions = permissions & {"read"}
    return Caller(row.user.id, row.user.name, permissions, tuple(row.scopes))
