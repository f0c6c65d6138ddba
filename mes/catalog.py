"""Read the configured plant back: lines, unit types, stations, machines."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mes.models import Line


def active_lines(session: Session) -> list[Line]:
    """The active lines by number, with their unit types loaded."""
    return list(session.scalars(
        select(Line).where(Line.active).options(selectinload(Line.unit_type)).order_by(Line.number)
    ))
