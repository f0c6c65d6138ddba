"""The plant configuration: the default plant loads; every kind of bad file is refused, naming file, key, problem."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mes.plant_config import PlantConfigError, load_plant_config
from tests.conftest import CONFIG_DIR

RWA = "lines/01-reaction-wheel.toml"


@pytest.fixture
def config_copy(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target)
    return target


def edit(config: Path, name: str, old: str, new: str) -> None:
    path = config / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"test set-up: {old!r} not in {name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_default_plant_has_fifteen_lines_and_thirty_units_per_satellite(plant_config) -> None:
    assert [ln.config.line.number for ln in plant_config.lines] == list(range(1, 16))
    assert sum(ln.config.unit_type.qty_per_satellite for ln in plant_config.lines) == 30
    assert plant_config.plant.plant.target_satellites_per_year == 200
    assert plant_config.plant.plant.timezone == "Asia/Shanghai"


def test_limits_keep_their_decimal_text(plant_config) -> None:
    rwa = plant_config.lines[0].config
    nut = next(c for s in rwa.routing.steps for c in s.characteristics if c.name == "retaining_nut_torque")
    assert (str(nut.lower), str(nut.nominal), str(nut.upper)) == ("2.40", "2.50", "2.60")


# (file, text to find, replacement, substrings the error must contain: file, key, problem)
BAD_FILES = {
    "toml syntax": ("plant.toml", 'name = "Satellite', 'name = = "Satellite', ["plant.toml", "not valid TOML"]),
    "unknown key": ("plant.toml", "target_satellites_per_year = 200",
                    "target_satellites_per_year = 200\ntarget_satelites = 3",
                    ["plant.toml", "plant.target_satelites", "Extra inputs are not permitted"]),
    "missing key": ("plant.toml", 'timezone = "Asia/Shanghai"', "",
                    ["plant.toml", "plant.timezone", "Field required"]),
    "bad time zone": ("plant.toml", '"Asia/Shanghai"', '"Asia/Beijing"',
                      ["plant.toml", "plant.timezone", "unknown time zone 'Asia/Beijing'"]),
    "negative target": ("plant.toml", "target_satellites_per_year = 200", "target_satellites_per_year = -5",
                        ["plant.target_satellites_per_year", "greater than 0"]),
    "unknown permission": ("plant.toml", 'permissions = ["read"]\n', 'permissions = ["read", "launch"]\n',
                           ["plant.toml", "roles.viewer.permissions", "unknown permission(s) launch"]),
    "shift and around the clock": ("plant.toml", "around_the_clock = true",
                                   ('around_the_clock = true\nshifts = [{name="x", start="08:00", end="16:00", '
                                   'days=["mon"]}]'), ["calendars[1]", "either around_the_clock or has shifts"]),
    "lower above upper": (RWA, 'lower = "2.40"\n  upper = "2.60"', 'lower = "2.70"\n  upper = "2.60"',
                          [RWA, "routing.steps[0].characteristics[1]", "lower limit 2.70 is above upper limit 2.60"]),
    "nominal outside limits": (RWA, 'nominal = "30.0"', 'nominal = "40.0"',
                               [RWA, "routing.steps[0].characteristics[0]", "nominal 40.0 lies outside the limits"]),
    "limit not a number": (RWA, 'upper = "0.50"\n  key', 'upper = "half"\n  key',
                           [RWA, "routing.steps[1].characteristics[0].upper", "'half' is not a number"]),
    "variable without limits": (RWA, 'nominal = "0.10"\n  upper = "0.50"', 'nominal = "0.10"',
                                [RWA, "routing.steps[1].characteristics[0]", "needs a lower or an upper limit"]),
    "bad node id": (RWA, "node = \"ns=2;i=1042\"", "node = \"2:1042\"",
                    [RWA, "machines[1].tags[1].node", "is not an OPC UA node id"]),
    "running flag not boolean": (RWA, 'meaning = "running"\n  data_type = "Boolean"',
                                 'meaning = "running"\n  data_type = "Int32"',
                                 [RWA, "machines[3]", "a running flag must be Boolean"]),
    "unknown calendar": (RWA, 'name = "Balancing cell"\ncalendar = "ASSEMBLY"',
                         'name = "Balancing cell"\ncalendar = "NIGHTS"',
                         [RWA, "stations[1].calendar", "unknown calendar 'NIGHTS'"]),
    "unknown station in step": (RWA, 'stations = ["RWA-BAL"]', 'stations = ["RWA-XYZ"]',
                                [RWA, "routing.steps[1].stations", "unknown station 'RWA-XYZ'"]),
    "unknown qualification": (RWA, 'qualifications = ["CLEANROOM", "ESD"]', 'qualifications = ["CLEANROOM", "YOGA"]',
                              [RWA, "routing.steps[0].qualifications", "unknown qualification 'YOGA'"]),
    "step code without line prefix": (RWA, 'code = "RWA-BAL"\nname = "Rotor', 'code = "BAL"\nname = "Rotor',
                                      [RWA, "routing.steps[1].code", "must start with the line code 'RWA-'"]),
    "duplicate step code": (RWA, 'code = "RWA-FT"\nname = "Functional test"', 'code = "RWA-BAL"\nname = "F"',
                            [RWA, "routing.steps[2].code", "step code 'RWA-BAL' is already used"]),
    "machine run without machine": (RWA, 'stations = ["RWA-ACC"]\nstandard_minutes = 60',
                                    'stations = ["RWA-ACC"]\nstandard_minutes = 60\nmachine_run = true',
                                    [RWA, "routing.steps[7].machine_run", "no machine stands at the step's stations"]),
}


@pytest.mark.parametrize("case", list(BAD_FILES), ids=list(BAD_FILES))
def test_bad_file_is_refused_naming_file_key_and_problem(config_copy: Path, case: str) -> None:
    name, old, new, expected = BAD_FILES[case]
    edit(config_copy, name, old, new)
    with pytest.raises(PlantConfigError) as raised:
        load_plant_config(config_copy)
    message = str(raised.value)
    for part in expected:
        assert part in message, f"{part!r} missing from:\n{message}"


def test_same_codes_on_two_lines_are_refused(config_copy: Path) -> None:
    shutil.copy(config_copy / RWA, config_copy / "lines/16-copy.toml")
    edit(config_copy, "lines/16-copy.toml", "number = 1", "number = 16")
    with pytest.raises(PlantConfigError) as raised:
        load_plant_config(config_copy)
    message = str(raised.value)
    assert "16-copy.toml: line.code: line code 'RWA' is already used" in message
    assert "machine code 'RWA-BAL1' is already used" in message


def test_missing_plant_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PlantConfigError, match=r"plant\.toml: file not found"):
        load_plant_config(tmp_path)
