"""Numbers that are unique plant-wide and never reused: unit serials, work orders, NCRs."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mes.models import Plant
from mes.models.production import SerialCounter
from mes.plant_time import plant_date


def take_numbers(session: Session, name: str, year: int, count: int = 1) -> range:
    """Reserve `count` consecutive numbers for (`name`, `year`); the row lock keeps concurrent callers apart."""
    query = select(SerialCounter).filter_by(name=name, year=year).with_for_update()
    counter = session.scalars(query).one_or_none()
    if counter is None:
        try:
            with session.begin_nested():
                session.add(SerialCounter(name=name, year=year, last_value=0))
        except IntegrityError:
            pass  # another transaction created it first; lock theirs below
        counter = session.scalars(query).one()
    first = counter.last_value + 1
    counter.last_value += count
    return range(first, first + count)


def plant_year(session: Session, at: datetime) -> int:
    """The year at `at` on the plant's calendar (a unit released on 1 January in Shanghai is that year's)."""
    return plant_date(session, at).year


def unit_serials(session: Session, prefix: str, at: datetime, count: int) -> list[str]:
    """`count` new serials for a unit type, in the plant's serial format (e.g. RWA-26-00001)."""
    serial_format = session.scalar(select(Plant.serial_format)) or "{prefix}-{yy}-{seq:05d}"
    year = plant_year(session, at)
    return [serial_format.format(prefix=prefix, yy=f"{year % 100:02d}", yyyy=str(year), seq=n)
            for n in take_numbers(session, prefix, year, count)]


def document_number(session: Session, kind: str, at: datetime) -> str:
    """The next number of a document kind, e.g. WO-26-00012 or NCR-26-00003."""
    year = plant_year(session, at)
    (n,) = take_numbers(session, kind, year)
    return f"{kind}-{year % 100:02d}-{n:05d}"
