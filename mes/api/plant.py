"""Health and the configured plant."""
from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from mes import catalog, link_health
from mes.api import schemas as s
from mes.api.operation import Call, operation
from mes.models import utcnow


@operation("GET", "/health", summary="Is the app up, can it reach its database, are the machines connected (public)",
           response=s.Health, permission=None)
def health(call: Call) -> s.Health:
    try:
        call.session.execute(text("SELECT 1"))
        database = s.DatabaseHealth(ok=True, dialect=call.session.get_bind().dialect.name)
    except SQLAlchemyError as exc:
        database = s.DatabaseHealth(ok=False, error=type(exc).__name__)
        return s.Health(status="degraded", database=database)
    adapters = [s.EndpointHealthOut(**{**vars(e), "machines": list(e.machines), "problems": list(e.problems)})
                for e in link_health.endpoint_statuses(call.session, utcnow())]
    link = "ok" if all(not a.problems for a in adapters) else "degraded"
    return s.Health(status="ok", database=database, link=link, adapters=adapters)


@operation("GET", "/lines", summary="The lines, the unit type each builds and its quantity per satellite",
           response=s.LinesOut, permission="read")
def lines(call: Call) -> s.LinesOut:
    return s.LinesOut(lines=[
        s.LineOut(number=line.number, code=line.code, name=line.name,
                  unit_type=s.UnitTypeOut(part_number=line.unit_type.part_number, name=line.unit_type.name,
                                          qty_per_satellite=line.unit_type.qty_per_satellite))
        for line in catalog.active_lines(call.session)
    ])
