"""The unit traveler: a serial's as-built record (mes.as_built) with, for each step that ran on a machine, the
machine's process values while the unit was in it (bucketed in the database), as JSON and CSV."""
from __future__ import annotations

from flask import Response, render_template
from sqlalchemy import select

from dashboards import i18n, machine_figures, machine_queries
from dashboards.machine_pages import wall
from dashboards.views import csv_response, dashboards, data_caller, language, page_caller, render
from mes import as_built
from mes.api.access import read_sessions
from mes.api.operation import storable
from mes.errors import NotFound
from mes.models import Machine, StepExecution, Unit, utcnow
from mes.plant_time import plant_zone

TRACE_POINTS = 2000
MAX_SERIAL = 200  # longer than any serial; a longer one cannot exist


def _not_found(key: str | None) -> Response:
    return Response(render_template("error.html", status=404, kind="unit", key=key), 404)


@dashboards.get("/units/<serial>")
def traveler_page(serial: str) -> str | Response:
    caller = page_caller()
    if isinstance(caller, Response):
        return caller
    if len(serial) > MAX_SERIAL or not storable(serial):  # cannot exist, and not worth echoing back
        return _not_found(None)
    with read_sessions()() as session:
        lang = language(session, caller)
        try:
            record = as_built.unit_as_built(session, serial)
        except NotFound:
            return _not_found(serial)
        ids = machine_queries.unit_machine_executions(session, serial)
        zone = plant_zone(session)
    # The record lists executions by id, as `ids` does; zip them to know which ran on a machine.
    steps = [(e, execution_id if machine_id else None) for e, (execution_id, machine_id)
             in zip(record.executions, ids, strict=True)]
    return render("dashboards/traveler.html", lang, caller, unit=record, steps=steps, zone=zone)


@dashboards.get("/units/<serial>/executions/<int:execution_id>/trace.<any(json, csv):kind>")
def traveler_trace(serial: str, execution_id: int, kind: str) -> Response:
    caller = data_caller()
    now = utcnow()
    with read_sessions()() as session:
        lang = language(session, caller)
        found = session.execute(select(StepExecution.machine_id, StepExecution.step_code, Machine.code)
                                .join(Unit, Unit.id == StepExecution.unit_id)
                                .outerjoin(Machine, Machine.id == StepExecution.machine_id)
                                .where(StepExecution.id == execution_id, Unit.serial == serial)).one_or_none()
        if found is None:
            raise NotFound(f"{serial} has no step execution {execution_id}", "execution")
        machine_id, step_code, machine_code = found
        if machine_id is None:
            raise NotFound(f"step execution {execution_id} did not run on a machine", "execution")
        tags = machine_queries.process_tags(session, machine_id)
        trace = machine_queries.execution_trace(session, execution_id, tags["id"].tolist(), TRACE_POINTS, now)
        zone = plant_zone(session)
    table = machine_figures.trend_table(trace.values, tags, zone)
    if kind == "csv":
        return csv_response(table, f"trace-{serial}-{step_code}-{machine_code}-{execution_id}")
    drawn = machine_figures.trend_figure(table, tags, i18n.translator(lang), (wall(trace.start, zone),
                                                                              wall(trace.end, zone)))
    return Response(drawn.to_json(), mimetype="application/json")
