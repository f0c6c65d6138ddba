"""`mes plant load`: idempotent, routing revisions on change, deactivation instead of deletion."""
from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import func, select

from mes.models import Characteristic, Line, Machine, Role, RoutingRevision, RoutingStep, Tag, UnitType
from mes.plant_config import load_plant_config
from mes.plant_loader import load_plant
from tests.conftest import CONFIG_DIR
from tests.test_plant_config import RWA, edit


def _counts(session) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {m.__tablename__: session.scalar(select(func.count()).select_from(m))
            for m in (Line, Machine, Tag, RoutingRevision, RoutingStep, Characteristic)}


def _changed_config(tmp_path: Path, *edits: tuple[str, str, str]):  # type: ignore[no-untyped-def]
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    for name, old, new in edits:
        edit(config, name, old, new)
    return load_plant_config(config)


def test_loading_the_plant_writes_every_line_step_and_characteristic(sessions, plant_config) -> None:
    with sessions.begin() as session:
        report = load_plant(session, plant_config)
        assert report.created["lines"] == 15
        assert len(report.new_revisions) == 15
        steps = sum(len(ln.config.routing.steps) for ln in plant_config.lines)
        assert session.scalar(select(func.count()).select_from(RoutingStep)) == steps
        nut = session.scalars(select(Characteristic).filter_by(name="retaining_nut_torque")).one()
        assert (nut.lower, nut.nominal, nut.upper, nut.unit) == ("2.40", "2.50", "2.60", "N·m")


def test_loading_the_same_configuration_twice_changes_nothing(sessions, plant_config) -> None:
    with sessions.begin() as session:
        load_plant(session, plant_config)
        before = _counts(session)
    with sessions.begin() as session:
        report = load_plant(session, plant_config)
        assert not report.changed, report.summary()
        assert _counts(session) == before


def test_changed_routing_makes_a_new_revision_and_keeps_the_old_one(sessions, plant_config, tmp_path) -> None:
    with sessions.begin() as session:
        load_plant(session, plant_config)
    changed = _changed_config(tmp_path,
                              (RWA, 'nominal = "0.10"\n  upper = "0.50"', 'nominal = "0.10"\n  upper = "0.40"'))
    with sessions.begin() as session:
        report = load_plant(session, changed)
        assert report.new_revisions == ["RWA-100 rev 2"]
        rwa = session.scalars(select(UnitType).filter_by(part_number="RWA-100")).one()
        old, new = rwa.revisions
        limit = {r.revision: next(c.upper for s in r.steps if s.code == "RWA-BAL" for c in s.characteristics)
                 for r in (old, new)}
        assert limit == {1: "0.50", 2: "0.40"}
        # Step codes are stable across revisions.
        assert [s.code for s in old.steps] == [s.code for s in new.steps]
        other = session.scalars(select(UnitType).filter_by(serial_prefix="STR")).one()
        assert [r.revision for r in other.revisions] == [1]


def test_machine_dropped_from_configuration_is_deactivated_not_deleted(sessions, plant_config, tmp_path) -> None:
    with sessions.begin() as session:
        load_plant(session, plant_config)
    text = (CONFIG_DIR / RWA).read_text()
    start = text.index('[[machines]]\ncode = "RWA-RIR1"')
    end = text.index("[[routing.steps]]")
    run_in = 'stations = ["RWA-RUN"]\nstandard_minutes = 10080'
    # The rack goes, and with it the run-in step's machine run.
    changed = _changed_config(tmp_path, (RWA, text[start:end], ""), (RWA, run_in + "\nmachine_run = true", run_in))
    with sessions.begin() as session:
        load_plant(session, changed)
        rack = session.scalars(select(Machine).filter_by(code="RWA-RIR1")).one()
        assert rack.active is False
        assert session.scalars(select(Machine).filter_by(code="RWA-BAL1")).one().active is True


def test_role_dropped_from_configuration_grants_nothing(sessions, plant_config, tmp_path) -> None:
    with sessions.begin() as session:
        load_plant(session, plant_config)
    viewer = '[roles.viewer]\ndescription = "Reads everything, changes nothing"\npermissions = ["read"]\n'
    changed = _changed_config(tmp_path, ("plant.toml", viewer, ""))
    with sessions.begin() as session:
        load_plant(session, changed)
        assert session.scalars(select(Role).filter_by(name="viewer")).one().permissions == []
