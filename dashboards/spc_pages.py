"""The SPC page: a characteristic's I-MR chart, histogram and capability over a date range; figures as JSON and CSV."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import groupby

import pandas as pd
from flask import Response, render_template, request, url_for
from sqlalchemy.orm import Session

from dashboards import figures, i18n, spc, spc_queries
from dashboards.spc_queries import CharacteristicChoice
from dashboards.views import csv_response, dashboards, data_caller, language, page_caller, render
from mes.api.access import read_sessions
from mes.errors import Invalid, NotFound
from mes.models import utcnow
from mes.plant_time import plant_zone

DEFAULT_DAYS = 90
REFRESH_S = 300  # a range that ends today is still growing


@dataclass(frozen=True)
class SpcAnalysis:
    """What the page and its figures show for one characteristic over one range."""

    choice: CharacteristicChoice
    first_day: date
    last_day: date
    zone: tzinfo
    series: pd.DataFrame
    limits: spc.Limits | None  # from the characteristic's first values ever, whatever the range
    chart: spc.Chart | None
    capability: spc.Capability

    @property
    def flagged(self) -> int:
        """How many plotted points break at least one Nelson rule."""
        return sum(1 for rules in self.chart.violations if rules) if self.chart else 0


def _day(name: str) -> date | None:
    text = request.args.get(name, "").strip()
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise Invalid(f"{name} is a date like 2027-01-31", name) from None


def _characteristic_id() -> int | None:
    text = request.args.get("characteristic", "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise Invalid("characteristic is the number of a characteristic", "characteristic")
    return int(text)


def _pick(choices: list[CharacteristicChoice], wanted: int | None) -> CharacteristicChoice | None:
    """The characteristic asked for; by default the first key one (they are the ones SPC is kept on)."""
    if wanted is not None:
        found = next((c for c in choices if c.id == wanted), None)
        if found is None:
            raise NotFound(f"no charted characteristic {wanted}", "characteristic")
        return found
    return next((c for c in choices if c.key), choices[0] if choices else None)


def _analyse(session: Session, choice: CharacteristicChoice) -> SpcAnalysis:
    zone = plant_zone(session)
    last = _day("to") or utcnow().astimezone(zone).date()
    first = _day("from") or last - timedelta(days=DEFAULT_DAYS - 1)
    first, last = min(first, last), max(first, last)
    start, end = (datetime.combine(day, time(0), zone).astimezone(UTC) for day in (first, last + timedelta(days=1)))
    data = spc_queries.series(session, choice.id, start, end)
    limits = spc.imr_limits(spc_queries.baseline_values(session, choice.id, spc.DEFAULT_BASELINE))
    chart = spc.imr_chart(data["value"], limits) if limits is not None and len(data) else None
    capability = spc.capability(data["value"], choice.lsl, choice.usl, limits.sigma if limits else None)
    return SpcAnalysis(choice, first, last, zone, data, limits, chart, capability)


def _figure_urls(analysis: SpcAnalysis, lang: str) -> dict[str, str]:
    args = {"characteristic": analysis.choice.id, "from": analysis.first_day.isoformat(),
            "to": analysis.last_day.isoformat(), "lang": lang}
    return {f"{name}_{kind}": url_for("dashboards.spc_figure", figure=name, kind=kind, **args)
            for name in ("control", "histogram") for kind in ("json", "csv")}


@dashboards.get("/spc")
def spc_page() -> str | Response:
    caller = page_caller()
    if isinstance(caller, Response):
        return caller
    with read_sessions()() as session:
        lang = language(session, caller)
        choices = spc_queries.variable_characteristics(session)
        try:
            choice = _pick(choices, _characteristic_id())
        except NotFound:
            return Response(render_template("error.html", status=404, kind=None, key=None), 404)
        analysis = _analyse(session, choice) if choice else None
    groups = [(line, list(items)) for line, items in groupby(choices, key=lambda c: f"{c.line_code} · {c.line_name}")]
    live = analysis is not None and analysis.last_day >= utcnow().astimezone(analysis.zone).date()
    return render("dashboards/spc.html", lang, caller, groups=groups, analysis=analysis,
                  urls=_figure_urls(analysis, lang) if analysis else {}, refresh=REFRESH_S if live else None,
                  baseline=spc.DEFAULT_BASELINE)


@dashboards.get("/spc/<any(control, histogram):figure>.<any(json, csv):kind>")
def spc_figure(figure: str, kind: str) -> Response:
    caller = data_caller()
    with read_sessions()() as session:
        lang = language(session, caller)
        wanted = _characteristic_id()
        choice = _pick(spc_queries.variable_characteristics(session, wanted), wanted)
        if choice is None:
            raise NotFound("no characteristic with numeric limits is configured", "characteristic")
        analysis = _analyse(session, choice)
    label = choice.name + (f" ({choice.unit})" if choice.unit else "")
    chart = analysis.chart
    if figure == "control":
        table = (figures.control_table(chart, analysis.series["recorded_at"], analysis.series["serial"], analysis.zone)
                 if chart else pd.DataFrame())
    else:
        table = figures.histogram_table(analysis.series["value"].tolist())
    if kind == "csv":
        return csv_response(table, f"spc-{figure}-{choice.step_code}-{choice.name}-{analysis.first_day}-"
                                   f"{analysis.last_day}")
    tr = i18n.translator(lang)
    if figure == "histogram":
        drawn = figures.histogram_figure(table, analysis.limits, choice.lsl, choice.usl, label, tr)
    else:
        drawn = figures.control_figure(table, chart.limits, label, tr) if chart else figures.no_data_figure(tr)
    return Response(drawn.to_json(), mimetype="application/json")
