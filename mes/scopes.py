"""Token scopes: a token limited to a line or a machine may change only what belongs to it."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mes.auth import Caller
from mes.errors import Forbidden
from mes.models import Line, Machine, UnitType
from mes.models.production import StepExecution, Unit


def _limits(caller: Caller) -> tuple[set[str], set[str]]:
    lines = {s.split(":", 1)[1] for s in caller.scopes if s.startswith("line:")}
    machines = {s.split(":", 1)[1] for s in caller.scopes if s.startswith("machine:")}
    return lines, machines


def _line_in(lines: set[str], line: Line) -> bool:
    return line.code in lines or str(line.number) in lines


def check_unit(session: Session, caller: Caller, serial: str, machine_code: str | None = None) -> None:
    """Refuse a scoped token acting on a unit outside its line, unless on one of its machines."""
    lines, machines = _limits(caller)
    if not lines and not machines:
        return
    row = session.execute(
        select(Line, Unit.current_execution_id).join(UnitType, UnitType.line_id == Line.id)
        .join(Unit, Unit.unit_type_id == UnitType.id).where(Unit.serial == serial)
    ).one_or_none()
    if row is None:
        return  # the service answers 404
    line, execution_id = row
    if _line_in(lines, line) or (machine_code is not None and machine_code in machines):
        return
    if execution_id is not None:
        code = session.scalar(select(Machine.code).join(StepExecution, StepExecution.machine_id == Machine.id)
                              .where(StepExecution.id == execution_id))
        if code in machines:
            return
    raise Forbidden(f"this token is limited to {', '.join(sorted(caller.scopes))}")


def check_machine(session: Session, caller: Caller, machine_code: str) -> None:
    """Refuse a scoped token acting on a machine that is neither its own nor on its line."""
    lines, machines = _limits(caller)
    if (not lines and not machines) or machine_code in machines:
        return
    line = session.scalar(select(Line).join(Machine, Machine.line_id == Line.id).where(Machine.code == machine_code))
    if line is None or _line_in(lines, line):
        return
    raise Forbidden(f"this token is limited to {', '.join(sorted(caller.scopes))}")


def check_unit_type(session: Session, caller: Caller, line: Line) -> None:
    """Refuse a line-scoped token releasing work for another line."""
    lines, machines = _limits(caller)
    if (lines or machines) and not _line_in(lines, line):
        raise Forbidden(f"this token is limited to {', '.join(sorted(caller.scopes))}")
