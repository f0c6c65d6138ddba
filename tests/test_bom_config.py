"""Bills of material in the plant configuration: what each routing step consumes, and the parts catalogue.

A step's `consumes` names purchased parts (config/parts.toml) or another line's unit type; every wrong
reference is refused naming the file, the key and the part number.
"""
from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from mes.plant_config import PlantConfigError, load_plant_config
from tests.conftest import CONFIG_DIR
from tests.test_plant_config import RWA, edit

AIC = "lines/15-ai-compute-module.toml"
# Steps that only test, condition or inspect a unit: nothing goes into it there.
NON_CONSUMING_WORDS = ("test", "thermal", "vibration", "vacuum", "burn-in", "run-in", "acceptance", "calibration",
                       "inspection", "cycling", "tuning", "screening")


@pytest.fixture
def config_copy(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target)
    return target


def refused(config: Path) -> str:
    with pytest.raises(PlantConfigError) as raised:
        load_plant_config(config)
    return str(raised.value)


def add_part(config: Path, part_number: str, tracking: str = "lot") -> None:
    with (config / "parts.toml").open("a", encoding="utf-8") as f:
        f.write(f'\n[[parts]]\npart_number = "{part_number}"\nname = "Test part"\ntracking = "{tracking}"\n')


# --- the default configuration ----------------------------------------------------------------

def test_default_plant_has_a_parts_catalogue_of_lot_and_serial_parts(plant_config) -> None:
    parts = plant_config.parts
    assert 30 <= len(parts) <= 45
    numbers = [p.part_number for p in parts]
    assert len(numbers) == len(set(numbers))
    assert {p.tracking for p in parts} == {"lot", "serial"}
    assert not set(numbers) & {ln.config.unit_type.part_number for ln in plant_config.lines}


def test_every_line_has_a_step_that_consumes_parts(plant_config) -> None:
    for ln in plant_config.lines:
        assert any(step.consumes for step in ln.config.routing.steps), f"{ln.path.name}: no step consumes anything"


def test_every_consumed_part_is_in_the_parts_catalogue(plant_config) -> None:
    catalogue = {p.part_number for p in plant_config.parts}
    consumed = {(step.code, item.part_number) for ln in plant_config.lines for step in ln.config.routing.steps
                for item in step.consumes}
    assert consumed
    assert not {pair for pair in consumed if pair[1] not in catalogue}, "default lines consume only purchased parts"


def test_every_consumed_quantity_is_a_whole_positive_number(plant_config) -> None:
    for ln in plant_config.lines:
        for step in ln.config.routing.steps:
            for item in step.consumes:
                assert isinstance(item.qty, int) and item.qty >= 1, f"{step.code} {item.part_number}"


def test_most_lines_build_in_at_least_one_serial_tracked_part(plant_config) -> None:
    serial = {p.part_number for p in plant_config.parts if p.tracking == "serial"}
    lines = [ln.config.line.code for ln in plant_config.lines
             if any(item.part_number in serial for step in ln.config.routing.steps for item in step.consumes)]
    assert len(lines) >= 8, lines


def test_test_and_environmental_steps_consume_nothing(plant_config) -> None:
    for ln in plant_config.lines:
        for step in ln.config.routing.steps:
            if step.machine_run or any(w in step.name.lower() for w in NON_CONSUMING_WORDS):
                assert not step.consumes, f"{step.code} ({step.name}) consumes {step.consumes}"


def test_some_parts_are_shared_by_several_lines(plant_config) -> None:
    users: dict[str, set[str]] = {}
    for ln in plant_config.lines:
        for step in ln.config.routing.steps:
            for item in step.consumes:
                users.setdefault(item.part_number, set()).add(ln.config.line.code)
    assert any(len(codes) >= 3 for codes in users.values())


def test_the_parts_file_is_plain_toml_with_only_parts() -> None:
    data = tomllib.loads((CONFIG_DIR / "parts.toml").read_text(encoding="utf-8"))
    assert set(data) == {"parts"}


# --- what is refused --------------------------------------------------------------------------

def test_a_step_consuming_an_unknown_part_is_refused_naming_file_key_and_part(config_copy: Path) -> None:
    edit(config_copy, RWA, 'part_number = "BRG-7002-P"', 'part_number = "BRG-9999-X"')
    message = refused(config_copy)
    assert RWA in message
    assert "routing.steps[0].consumes[0].part_number" in message
    assert "unknown part 'BRG-9999-X'" in message


def test_a_part_listed_twice_in_the_catalogue_is_refused(config_copy: Path) -> None:
    count = len(load_plant_config(config_copy).parts)
    add_part(config_copy, "BRG-7002-P")
    message = refused(config_copy)
    assert f"parts.toml: parts[{count}].part_number" in message
    assert "part number 'BRG-7002-P' is already used at" in message


def test_a_catalogue_part_with_a_unit_type_part_number_is_refused(config_copy: Path) -> None:
    add_part(config_copy, "RWA-100", tracking="serial")
    message = refused(config_copy)
    assert "parts.toml" in message
    assert "RWA-100 is also a unit type a line builds" in message


def test_a_catalogue_part_with_unknown_tracking_is_refused(config_copy: Path) -> None:
    add_part(config_copy, "XYZ-1", tracking="batch")
    message = refused(config_copy)
    assert "parts.toml" in message
    assert "tracking" in message


def test_the_same_part_twice_in_one_step_is_refused(config_copy: Path) -> None:
    edit(config_copy, RWA, 'part_number = "CON-MDM-25S"', 'part_number = "MOT-BLDC-RW40"')
    message = refused(config_copy)
    assert RWA in message
    assert "routing.steps[0]" in message
    assert "part number(s) named twice in consumes: MOT-BLDC-RW40" in message


def test_a_line_consuming_its_own_unit_type_is_refused(config_copy: Path) -> None:
    edit(config_copy, RWA, 'part_number = "CON-MDM-25S"', 'part_number = "RWA-100"')
    message = refused(config_copy)
    assert RWA in message
    assert "routing.steps[0].consumes[2].part_number" in message
    assert "cannot consume its own type 'RWA-100'" in message


def test_a_line_consuming_another_lines_unit_type_loads(config_copy: Path) -> None:
    edit(config_copy, AIC, 'part_number = "TPD-GAP-5"', 'part_number = "GNSS-1300"')
    config = load_plant_config(config_copy)
    aic = next(ln.config for ln in config.lines if ln.config.line.code == "AIC")
    integration = next(s for s in aic.routing.steps if s.code == "AIC-INT")
    assert "GNSS-1300" in [item.part_number for item in integration.consumes]


def test_a_quantity_of_zero_is_refused(config_copy: Path) -> None:
    edit(config_copy, RWA, 'part_number = "BRG-7002-P"\n  qty = 1', 'part_number = "BRG-7002-P"\n  qty = 0')
    message = refused(config_copy)
    assert RWA in message
    assert "routing.steps[0].consumes[0].qty" in message
    assert "greater than or equal to 1" in message


def test_a_fractional_quantity_is_refused(config_copy: Path) -> None:
    edit(config_copy, RWA, 'part_number = "BRG-7002-P"\n  qty = 1', 'part_number = "BRG-7002-P"\n  qty = 1.5')
    message = refused(config_copy)
    assert "routing.steps[0].consumes[0].qty" in message


def test_without_a_parts_file_purchased_parts_are_unknown(config_copy: Path) -> None:
    (config_copy / "parts.toml").unlink()
    message = refused(config_copy)
    assert "unknown part 'BRG-7002-P'" in message
