"""The machine link's health as the adapters last reported it: per endpoint, connected, fresh, spool, clock, gaps.

The adapter process writes `endpoint_health` every couple of seconds (line_adapters.writer); a report older
than STALE means no adapter is looking after that endpoint any more, whatever the row last said.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mes.models import EndpointHealth, Machine, TelemetryGap
from mes.plant_time import plant_date, plant_zone

STALE = timedelta(seconds=30)
SPOOL_ALARM = 0.8


@dataclass(frozen=True)
class EndpointStatus:
    endpoint: str
    machines: tuple[str, ...]
    connected: bool  # the adapter reports it connected, and reported recently
    reported_at: datetime | None
    last_value_at: datetime | None
    spool_readings: int
    spool_fill: float
    clock_offset_s: float | None
    gaps_today: int
    problems: tuple[str, ...]


def endpoint_statuses(session: Session, now: datetime) -> list[EndpointStatus]:
    """Every active machine endpoint with what its adapter last reported and today's gaps (plant time)."""
    machines: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for machine_id, code, endpoint in session.execute(
            select(Machine.id, Machine.code, Machine.endpoint).where(Machine.active.is_(True)).order_by(Machine.code)):
        machines[endpoint].append((machine_id, code))
    reports = {h.endpoint: h for h in session.scalars(select(EndpointHealth))}
    midnight = datetime.combine(plant_date(session, now), time(), plant_zone(session))
    gaps = dict(session.execute(select(TelemetryGap.machine_id, func.count()).where(
        TelemetryGap.declared_at >= midnight).group_by(TelemetryGap.machine_id)).all())
    statuses = []
    for endpoint, members in sorted(machines.items()):
        report = reports.get(endpoint)
        fresh = report is not None and now - report.updated_at <= STALE
        problems = []
        if report is None:
            problems.append("no adapter has reported this endpoint")
        elif not fresh:
            problems.append(f"no report from its adapter since {report.updated_at:%Y-%m-%d %H:%M:%S} UTC")
        elif not report.connected:
            problems.append("the adapter cannot reach it")
        if report is not None and report.spool_fill >= SPOOL_ALARM:
            problems.append(f"the spool is {100 * report.spool_fill:.0f} % full")
        if report is not None and report.error:
            problems.append(report.error)
        statuses.append(EndpointStatus(
            endpoint, tuple(code for _, code in members), bool(fresh and report and report.connected),
            report.updated_at if report else None, report.last_value_at if report else None,
            report.spool_readings if report else 0, report.spool_fill if report else 0.0,
            report.clock_offset_s if report else None, sum(gaps.get(m, 0) for m, _ in members), tuple(problems)))
    return statuses
