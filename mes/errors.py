"""Domain errors. Services raise them; only the web layers turn them into HTTP statuses."""
from __future__ import annotations


class MesError(Exception):
    """A rule said no. `field` names the input at fault, where there is one."""

    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(MesError):
    status = 404


class Invalid(MesError):
    """Input that parses but breaks a rule on its value."""

    status = 422


class Conflict(MesError):
    """The record's state forbids it now (already started, on hold, changed by someone else)."""

    status = 409


class UnsupportedMedia(MesError):
    status = 415


class Unauthenticated(MesError):
    status = 401


class Forbidden(MesError):
    status = 403
