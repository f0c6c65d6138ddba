"""Write a validated plant configuration to the database, idempotently.

Rows are matched on their codes and updated in place; rows no longer configured are
deactivated, never deleted, because production records point at them. A routing whose
content changed becomes a new routing revision; units released earlier keep theirs.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from mes import audit
from mes.models import (
    BomItem,
    Calendar,
    Characteristic,
    DefectCode,
    Line,
    Machine,
    Part,
    Plant,
    Qualification,
    Role,
    RoutingRevision,
    RoutingStep,
    Station,
    Tag,
    UnitType,
)
from mes.plant_config import PlantConfig
from mes.plant_config.schema import PACKML_CODES, LineFile, RoutingConfig

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class LoadReport:
    """What a load changed: rows created or updated by table, and new routing revisions."""

    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    deactivated: dict[str, int] = field(default_factory=dict)
    new_revisions: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deactivated or self.new_revisions)

    def count(self, kind: str, table: str) -> None:
        counter = getattr(self, kind)
        counter[table] = counter.get(table, 0) + 1

    def summary(self) -> str:
        if not self.changed:
            return "plant unchanged"
        parts = [f"{kind} " + ", ".join(f"{n} {t}" for t, n in sorted(counts.items()))
                 for kind, counts in (("created", self.created), ("updated", self.updated),
                                      ("deactivated", self.deactivated)) if counts]
        if self.new_revisions:
            parts.append("new routing revisions: " + ", ".join(self.new_revisions))
        return "; ".join(parts)


class _Loader:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.report = LoadReport()

    def upsert(self, model: type[T], key: dict[str, Any], values: dict[str, Any]) -> T:
        """Find the row by `key`, create it or update the fields in `values` that differ."""
        row = self.session.scalars(select(model).filter_by(**key)).one_or_none()
        table = model.__tablename__  # type: ignore[attr-defined]
        if row is None:
            row = model(**key, **values)
            self.session.add(row)
            self.report.count("created", table)
            return row
        if any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            self.report.count("updated", table)
        return row

    def deactivate_missing(self, rows: list[Any], keep: set[int]) -> None:
        for row in rows:
            if row.id not in keep and row.active:
                row.active = False
                self.report.count("deactivated", row.__tablename__)


def routing_hash(routing: RoutingConfig) -> str:
    """The identity of a routing's content; a new revision is made only when it changes."""
    content = routing.model_dump(mode="json")
    for step in content["steps"]:
        if step["recipe"] is None:
            del step["recipe"]  # likewise a step without a recipe
        for c in step["characteristics"]:
            if c["source"] is None:
                del c["source"]  # a typed characteristic hashes as before sources existed: no needless revision
    payload = json.dumps(content, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _load_plant_wide(loader: _Loader, config: PlantConfig) -> dict[str, Calendar]:
    p = config.plant.plant
    loader.upsert(Plant, {"id": 1}, {
        "name": p.name, "timezone": p.timezone, "target_satellites_per_year": p.target_satellites_per_year,
        "spares_allowance": str(p.spares_allowance), "serial_format": p.serial_format,
        "config_hash": config.content_hash(),
    })
    calendars = {
        c.name: loader.upsert(Calendar, {"name": c.name}, {
            "around_the_clock": c.around_the_clock,
            "shifts": [s.model_dump(mode="json") for s in c.shifts],
            "days_off": [d.isoformat() for d in c.days_off],
        })
        for c in config.plant.calendars
    }
    for q in config.plant.qualifications:
        loader.upsert(Qualification, {"code": q.code}, {"name": q.name, "validity_days": q.validity_days})
    kept = {loader.upsert(DefectCode, {"code": d.code},
                          {"description": d.description, "category": d.category, "active": True})
            for d in config.plant.defect_codes}
    loader.session.flush()
    loader.deactivate_missing(list(loader.session.scalars(select(DefectCode))), {d.id for d in kept})
    for name, role in config.plant.roles.items():
        loader.upsert(Role, {"name": name}, {"description": role.description, "permissions": role.permissions})
    # Deny by default: a role taken out of the configuration keeps its name but grants nothing.
    for role in loader.session.scalars(select(Role).where(Role.name.not_in(config.plant.roles))):
        if role.permissions:
            role.permissions = []
            loader.report.count("updated", "roles")
    return calendars


def _load_parts(loader: _Loader, config: PlantConfig) -> dict[str, Part]:
    parts = {p.part_number: loader.upsert(Part, {"part_number": p.part_number},
                                          {"name": p.name, "tracking": p.tracking, "active": True})
             for p in config.parts}
    loader.session.flush()
    loader.deactivate_missing(list(loader.session.scalars(select(Part))), {p.id for p in parts.values()})
    return parts


def _load_line(loader: _Loader, cfg: LineFile, calendars: dict[str, Calendar]) -> tuple[UnitType, dict[str, Station]]:
    line = loader.upsert(Line, {"number": cfg.line.number}, {"code": cfg.line.code, "name": cfg.line.name,
                                                               "active": True})
    loader.session.flush()
    u = cfg.unit_type
    unit_type = loader.upsert(UnitType, {"line_id": line.id}, {
        "part_number": u.part_number, "name": u.name, "qty_per_satellite": u.qty_per_satellite,
        "serial_prefix": u.serial_prefix,
    })
    stations = {
        s.code: loader.upsert(Station, {"code": s.code}, {
            "line_id": line.id, "name": s.name, "calendar_id": calendars[s.calendar].id,
            "self_checks": s.self_checks, "active": True,
        })
        for s in cfg.stations
    }
    loader.session.flush()
    loader.deactivate_missing(list(loader.session.scalars(select(Station).filter_by(line_id=line.id))),
                              {s.id for s in stations.values()})
    machine_ids = set()
    for m in cfg.machines:
        machine = loader.upsert(Machine, {"code": m.code}, {
            "line_id": line.id, "station_id": stations[m.station].id if m.station else None, "name": m.name,
            "kind": m.kind, "endpoint": m.endpoint, "calendar_id": calendars[m.calendar].id,
            "positions": m.positions, "ideal_cycle_s": m.ideal_cycle_s,
            "subscription": m.subscription.model_dump(mode="json", exclude_none=True),
            "state_map": m.state_map if m.state_map is not None else dict(PACKML_CODES),
            "security": m.security.model_dump(mode="json", exclude_none=True) if m.security else None,
            "clock_alarm_s": m.clock_alarm_s, "active": True,
        })
        loader.session.flush()
        machine_ids.add(machine.id)
        tags = [loader.upsert(Tag, {"machine_id": machine.id, "name": t.name}, {
            "node_id": t.node, "meaning": t.meaning, "data_type": t.data_type, "eng_unit": t.unit,
            "scale": str(t.scale), "offset": str(t.offset), "low_limit": _text(t.low), "high_limit": _text(t.high),
            "on_excursion": t.on_excursion,
            "subscription": t.subscription.model_dump(mode="json", exclude_none=True), "active": True,
        }) for t in m.tags]
        loader.session.flush()
        loader.deactivate_missing(list(loader.session.scalars(select(Tag).filter_by(machine_id=machine.id))),
                                  {t.id for t in tags})
    loader.deactivate_missing(list(loader.session.scalars(select(Machine).filter_by(line_id=line.id))),
                              machine_ids)
    return unit_type, stations


def _load_routing(loader: _Loader, unit_type: UnitType, routing: RoutingConfig, stations: dict[str, Station],
                  materials: dict[str, Part | UnitType]) -> None:
    content_hash = routing_hash(routing)
    latest = loader.session.scalars(
        select(RoutingRevision).filter_by(unit_type_id=unit_type.id).order_by(RoutingRevision.revision.desc())
    ).first()
    if latest is not None and latest.content_hash == content_hash:
        return
    revision = RoutingRevision(unit_type_id=unit_type.id, revision=(latest.revision + 1) if latest else 1,
                               content_hash=content_hash)
    loader.session.add(revision)
    for seq, s in enumerate(routing.steps, start=1):
        step = RoutingStep(
            sequence=seq, code=s.code, name=s.name, standard_minutes=s.standard_minutes, machine_run=s.machine_run,
            signoff=s.signoff, qualifications=s.qualifications, instruction=s.instruction, recipe=s.recipe,
            stations=[stations[code] for code in s.stations],
        )
        step.characteristics = [
            Characteristic(sequence=i, name=c.name, kind=c.kind, unit=c.unit, nominal=_text(c.nominal),
                           lower=_text(c.lower), upper=_text(c.upper), key=c.key,
                           source_tag=c.source.tag if c.source else None,
                           source_aggregate=c.source.aggregate if c.source else None)
            for i, c in enumerate(s.characteristics, start=1)
        ]
        step.bom = [
            BomItem(sequence=i, quantity=b.qty,
                    part=m if isinstance(m := materials[b.part_number], Part) else None,
                    unit_type=m if isinstance(m, UnitType) else None)
            for i, b in enumerate(s.consumes, start=1)
        ]
        revision.steps.append(step)
    loader.report.new_revisions.append(f"{unit_type.part_number} rev {revision.revision}")
    log.info("routing of %s: new revision %d", unit_type.part_number, revision.revision)


def load_plant(session: Session, config: PlantConfig, user_id: int | None = None) -> LoadReport:
    """Make the database match `config`; loading the same configuration twice changes nothing."""
    loader = _Loader(session)
    calendars = _load_plant_wide(loader, config)
    loader.session.flush()
    materials: dict[str, Part | UnitType] = dict(_load_parts(loader, config))
    configured = set()
    built = []
    for loaded in config.lines:
        unit_type, stations = _load_line(loader, loaded.config, calendars)
        materials[unit_type.part_number] = unit_type
        built.append((loaded.config, unit_type, stations))
        configured.add(loaded.config.line.number)
    loader.session.flush()
    # Routings last: a step may consume a unit type built on a line loaded after its own.
    for cfg, unit_type, stations in built:
        _load_routing(loader, unit_type, cfg.routing, stations, materials)
    loader.deactivate_missing(
        list(session.scalars(select(Line))),
        {line.id for line in session.scalars(select(Line).where(Line.number.in_(configured)))},
    )
    session.flush()
    if loader.report.changed:
        audit.record(session, user_id, "plant.load", "plant", config.path.parent.name,
                     new={"config_hash": config.content_hash(), "changes": loader.report.summary()})
    return loader.report
