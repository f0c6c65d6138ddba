"""The people of the demo history: who holds which qualification until when, who is on duty, who inspects.

Operators are put only on steps they hold valid qualifications for on the day, so a lapsed qualification
shows in who does the work rather than in refused starts. The two quality engineers work the assembly
shifts (Chen early, Liu late): buy-offs, dispositions, MRB approvals and acceptances wait for one of them.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from mes.demo import DEMO_USERS
from mes.demo_calendar import WorkCalendar
from mes.models import Qualification
from mes.qualifications import qualify

log = logging.getLogger(__name__)

SUPERVISOR = "sup.wang"  # releases the work
SHIFT_CREWS = (("op.li", "op.sun"), ("op.zhao", "op.zhou"))  # by shift of the day: early, late
OFF_SHIFT_CREW = ("op.wu",)  # loads and unloads chambers at night and at weekends
INSPECTORS = ("qe.chen", "qe.liu")  # quality engineers, by shift of the day: early, late
ADMIN = "admin"  # records qualifications and instruments
OPERATORS = (*SHIFT_CREWS[0], *SHIFT_CREWS[1], *OFF_SHIFT_CREW)
EVERYONE = (SUPERVISOR, ADMIN, *OPERATORS, *INSPECTORS)
PINS = {name: pin for name, _, _, pin, _ in DEMO_USERS if pin}  # re-entered for every signature
# Lapsed qualifications: who, which, and how many days before the last seeded day it expired. Each crew
# keeps a colleague who holds it, so the lapse moves the work to them instead of stopping it.
LAPSED = (("op.zhou", "ESD", 23), ("op.sun", "CLEANROOM", 61))
INSPECTOR_QUALIFICATIONS = ("IPC610",)
DUTY_LEFT = timedelta(minutes=20)  # nobody starts a signature job in the last minutes of a shift


def minutes(n: float) -> timedelta:
    return timedelta(seconds=round(n * 60))


@dataclass
class Roster:
    """The demo's people as the simulation sees them: ids, qualifications held, the shift pattern."""

    users: dict[str, int]
    zone: ZoneInfo
    reference: WorkCalendar | None  # whose shifts say who is on duty
    rng: random.Random
    held: dict[int, dict[str, date]] = field(default_factory=dict)  # user id -> code -> valid until

    def qualified(self, user_id: int, codes: tuple[str, ...], at: datetime) -> bool:
        """Holds every code, valid on the plant's date at `at` (the service's own rule)."""
        today = at.astimezone(self.zone).date()
        held = self.held.get(user_id, {})
        return all(held.get(code, date.min) >= today for code in codes)

    def operator(self, calendar: WorkCalendar | None, at: datetime, codes: tuple[str, ...] = ()) -> int:
        """A qualified operator of the crew on duty at `at` (the night crew outside the shifts).

        `calendar` is the station's (None: the plant's shifts, for work that is not at a station).
        """
        shifts = self.reference if calendar is None or calendar.always else calendar
        shift = shifts.shift_at(at) if shifts is not None else None
        crew = SHIFT_CREWS[shift.index % len(SHIFT_CREWS)] if shift is not None else OFF_SHIFT_CREW
        ids = [self.users[name] for name in crew]
        # Nobody able is a gap in the demo's roster: the start is then refused, logged and counted.
        able = [user_id for user_id in ids if self.qualified(user_id, codes, at)] or ids
        return self.rng.choice(able)

    def on_duty(self, after: datetime, who: str | None = None) -> tuple[datetime, str] | None:
        """The first moment from `after` when a quality engineer (`who`, else the one on shift) is at work."""
        at = after.astimezone(UTC)  # records (and their audit hashes) are in UTC
        if self.reference is None:
            return at, who or INSPECTORS[0]
        for _ in range(64):  # a fortnight of shifts, more than any holiday
            shift = self.reference.shift_at(at)
            if shift is None:
                shift = self.reference.next_shift(at)
                if shift is None:
                    return None
                at = shift.start + minutes(self.rng.uniform(5, 30))
            name = INSPECTORS[shift.index % len(INSPECTORS)]
            if shift.end - at >= DUTY_LEFT and who in (None, name):
                return at, name
            at = shift.end + minutes(self.rng.uniform(5, 30))
        return None

    def pin(self, name: str) -> str:
        return PINS[name]


def other_inspector(name: str) -> str:
    """The second quality engineer: MRB approval needs someone other than the one who signed."""
    return next(n for n in INSPECTORS if n != name)


def grant_qualifications(session: Session, roster: Roster, last: date) -> int:
    """Qualify the operators for every qualification of the plant, the inspectors for inspection.

    Each stays valid a while past the seeded window (renewals fall on different days), except the lapses
    in LAPSED. Returns how many are expired on `last`.
    """
    codes = list(session.scalars(select(Qualification.code).order_by(Qualification.code)))
    lapsed = {(name, code): last - timedelta(days=days) for name, code, days in LAPSED}
    grants = [(name, code) for name in OPERATORS for code in codes]
    grants += [(name, code) for name in INSPECTORS for code in INSPECTOR_QUALIFICATIONS if code in codes]
    expired = 0
    for name, code in grants:
        until = lapsed.get((name, code)) or last + timedelta(days=roster.rng.randint(30, 400))
        qualify(session, roster.users[ADMIN], name, code, until)
        roster.held.setdefault(roster.users[name], {})[code] = until
        expired += until < last
    log.info("demo history: %d qualifications granted, %d expired", len(grants), expired)
    return expired
