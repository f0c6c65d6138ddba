"""When something happened: now, or a time a tablet or the demo gives, kept in order and never in the future."""
from __future__ import annotations

from datetime import datetime, timedelta

from mes.errors import Invalid
from mes.models import utcnow

CLOCK_SKEW = timedelta(minutes=5)  # a tablet's clock may run this far ahead of the server's


def event_time(at: datetime | None, not_before: datetime | None = None) -> datetime:
    """When it happened: now, or a given past time (history, backfill) that keeps the record in order."""
    now = utcnow()
    if at is None:
        return now if not_before is None or now >= not_before else not_before
    if at.tzinfo is None:
        raise Invalid("give times with a time zone", "at")
    if at > now + CLOCK_SKEW:
        raise Invalid("that time is in the future", "at")
    if not_before is not None and at < not_before:
        raise Invalid(f"that time is before the previous event ({not_before.isoformat()})", "at")
    return at
