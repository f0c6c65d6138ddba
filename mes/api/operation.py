"""One decorator per API route: authenticate, parse and validate input, run one transaction, answer JSON.

Each decorated view is also recorded in OPERATIONS, from which the OpenAPI document is built, so
the document cannot drift from the routes.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import wraps
from typing import Any

from flask import Response, g, jsonify, request
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from mes.api import api
from mes.api.access import authenticate, read_sessions, sessions
from mes.auth import Caller
from mes.errors import Conflict, Forbidden, Invalid, MesError, NotFound
from mes.models.production import IdempotencyRecord

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_ID = 2**31 - 1  # ids are 32-bit on every database; larger path ids name nothing


@dataclass(frozen=True)
class Operation:
    """What the OpenAPI document says about one route."""

    method: str
    rule: str
    endpoint: str
    summary: str
    permission: str | None
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel]
    status: int
    upload: tuple[str, ...] = ()  # media types of a raw (non-JSON) body, e.g. a photo


OPERATIONS: list[Operation] = []


@dataclass
class Call:
    """What a view gets: the open session, the caller, and the validated body and query."""

    session: Session
    caller: Caller | None
    body: Any
    query: Any

    @property
    def user_id(self) -> int:
        assert self.caller is not None
        return self.caller.user_id


def _field(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validate(model: type[BaseModel], data: Any) -> BaseModel:
    """Validate input against `model`; the first problem becomes a 422 naming its field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise Invalid(err["msg"].removeprefix("Value error, "), _field(err["loc"]) or None) from None


def on_response(hook: Callable[[Response], None]) -> None:
    """Have `hook` adjust this request's response (set or clear a cookie) once the view has answered."""
    g.setdefault("response_hooks", []).append(hook)


def storable(value: Any) -> bool:
    """False when a string inside `value` holds NUL or broken Unicode, which PostgreSQL cannot store."""
    if isinstance(value, str):
        if "\x00" in value:
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(storable(k) and storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(storable(v) for v in value)
    return True


def _json_body() -> Any:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        # Decimal keeps a measurement exactly as typed: 1.10 stays 1.10.
        data = json.loads(raw, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MesError("the body is not valid JSON") from None
    if not storable(data):
        raise Invalid("text may not contain NUL characters or invalid Unicode", "body")
    return data


def _replay_or_run(key: str, caller: Caller, run: Callable[[Session], tuple[dict[str, Any], int]],
                   ) -> tuple[dict[str, Any], int]:
    """Answer a keyed POST once: the stored answer is written in the same transaction as the effect."""
    if len(key) > 128:
        raise Invalid("an Idempotency-Key is at most 128 characters", IDEMPOTENCY_HEADER)
    fingerprint = hashlib.sha256(request.method.encode() + request.path.encode() + b"\0"
                                 + request.get_data(cache=True)).hexdigest()

    def stored(session: Session) -> tuple[dict[str, Any], int] | None:
        record = session.scalars(select(IdempotencyRecord).filter_by(user_id=caller.user_id, key=key)).one_or_none()
        if record is None:
            return None
        if record.request_hash != fingerprint:
            raise Invalid("this Idempotency-Key was used with a different request", IDEMPOTENCY_HEADER)
        return record.response, record.status_code

    try:
        with sessions().begin() as session:
            if (answer := stored(session)) is not None:
                return answer
            # Claim the key before doing the work: a twin request now waits on this row's unique
            # index until we commit, then finds our answer instead of racing us to the unit.
            record = IdempotencyRecord(user_id=caller.user_id, key=key, request_hash=fingerprint,
                                       status_code=0, response={})
            session.add(record)
            session.flush()
            record.response, record.status_code = run(session)
            return record.response, record.status_code
    except IntegrityError:
        # A twin request with the same key committed first; answer with its result.
        with read_sessions()() as session:
            if (answer := stored(session)) is not None:
                return answer
        raise


def _authorize(permission: str | None) -> Caller | None:
    """The caller, if the route needs one, holding `permission`; else 401 or 403."""
    if permission is None:
        return None
    caller = authenticate()
    if permission not in caller.permissions:
        if caller.display:
            raise Forbidden("a display token only reads")
        raise Forbidden(f"your role does not allow this ({permission})")
    return caller


def _parse(path: dict[str, Any], query: type[BaseModel] | None, body: type[BaseModel] | None,
           ) -> tuple[BaseModel | None, BaseModel | None]:
    """Check path values, then validate the query string and the JSON body."""
    if any(isinstance(v, int) and v > MAX_ID for v in path.values()) or not storable(path):
        raise NotFound("no such record")
    parsed_query = None
    if query:
        args = request.args.to_dict()
        if not storable(args):
            raise Invalid("text may not contain NUL characters or invalid Unicode", "query")
        parsed_query = validate(query, args)
    return parsed_query, validate(body, _json_body()) if body else None


def _execute(run: Callable[[Session], tuple[dict[str, Any], int]], writes: bool, caller: Caller | None,
             ) -> tuple[dict[str, Any], int]:
    """One transaction for the use case (a read-only one for GET), replayed for a known Idempotency-Key."""
    try:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if writes and key and caller is not None:
            return _replay_or_run(key.strip(), caller, run)
        if writes:
            with sessions().begin() as session:
                return run(session)
        with read_sessions()() as session:
            return run(session)
    except StaleDataError:
        raise Conflict("someone else changed this record at the same moment; reload and try again") from None
    except IntegrityError:
        raise Conflict("this conflicts with a record saved at the same moment; reload and try again") from None


def operation(method: str, rule: str, *, summary: str, response: type[BaseModel], permission: str | None,
              body: type[BaseModel] | None = None, query: type[BaseModel] | None = None, status: int = 200,
              upload: tuple[str, ...] = (), max_body: int | None = None,
              ) -> Callable[[Callable[..., BaseModel]], Callable[..., Response]]:
    """Register `view` at `method rule` on the API blueprint, with the checks every route shares.

    `upload` names the media types of a raw body the view reads itself (up to `max_body` bytes).
    """
    writes = method != "GET"

    def decorator(view: Callable[..., BaseModel]) -> Callable[..., Response]:
        @wraps(view)
        def handler(**path: Any) -> tuple[Response, int]:
            if max_body is not None:
                request.max_content_length = max_body
            caller = _authorize(permission)
            parsed_query, parsed_body = _parse(path, query, body)

            def run(session: Session) -> tuple[dict[str, Any], int]:
                result = view(Call(session, caller, parsed_body, parsed_query), **path)
                return result.model_dump(mode="json"), status

            answer, code = _execute(run, writes, caller)
            reply = jsonify(answer)
            for hook in g.pop("response_hooks", []):
                hook(reply)
            return reply, code

        handler.permission = permission  # type: ignore[attr-defined]
        api.add_url_rule(rule, endpoint=view.__name__, view_func=handler, methods=[method])
        OPERATIONS.append(Operation(method, rule, view.__name__, summary, permission, body, query, response, status,
                                    upload=upload))
        return handler

    return decorator
