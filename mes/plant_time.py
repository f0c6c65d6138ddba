"""The plant's own calendar day: shift boundaries and expiry dates are read in the plant's time zone."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from mes.models import Plant


def plant_zone(session: Session) -> ZoneInfo:
    return ZoneInfo(session.scalar(select(Plant.timezone)) or "UTC")


def plant_date(session: Session, at: datetime) -> date:
    """The date at `at` on the plant's calendar (Asia/Shanghai by default)."""
    return at.astimezone(plant_zone(session)).date()
