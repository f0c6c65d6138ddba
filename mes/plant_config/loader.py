"""Read config/, validate every file and the references between them, and report problems by file and key."""
from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from mes.plant_config.schema import NUMERIC_TYPES, LineFile, PartConfig, PartsFile, PlantFile

M = TypeVar("M", bound=BaseModel)


class PlantConfigError(Exception):
    """The configuration is wrong; the message names each file, key and problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid plant configuration:\n" + "\n".join(f"  {p}" for p in problems))


@dataclass(frozen=True)
class LoadedLine:
    path: Path
    config: LineFile


@dataclass(frozen=True)
class PlantConfig:
    """The whole plant: plant-wide settings and the lines, ordered by line number."""

    path: Path
    plant: PlantFile
    lines: tuple[LoadedLine, ...]
    parts: tuple[PartConfig, ...] = ()

    def content_hash(self) -> str:
        """A hash of the validated content, so an unchanged reload can be recognised."""
        payload = {
            "plant": self.plant.model_dump(mode="json"),
            "lines": [line.config.model_dump(mode="json") for line in self.lines],
            "parts": [part.model_dump(mode="json") for part in self.parts],
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _key(loc: tuple[Any, ...]) -> str:
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key or "(top level)"


def _parse(path: Path, model: type[M], problems: list[str]) -> M | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: cannot read: {exc}")
        return None
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{path}: not valid TOML: {exc}")
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            # Validators raise ValueError; pydantic prefixes its text with "Value error, ".
            message = err["msg"].removeprefix("Value error, ")
            problems.append(f"{path}: {_key(err['loc'])}: {message}")
        return None


def _duplicates(values: list[tuple[str, str]], what: str, problems: list[str]) -> None:
    """`values` are (where, value) pairs; report each value seen in more than one place."""
    seen: dict[str, str] = {}
    for where, value in values:
        if value in seen:
            problems.append(f"{where}: {what} {value!r} is already used at {seen[value]}")
        else:
            seen[value] = where


def _check_line(path: Path, line: LineFile, plant: PlantFile, problems: list[str]) -> None:
    calendars = {c.name for c in plant.calendars}
    qualifications = {q.code for q in plant.qualifications}
    stations = {s.code for s in line.stations}
    machines_at = {m.station for m in line.machines if m.station}
    for i, station in enumerate(line.stations):
        if station.calendar not in calendars:
            problems.append(f"{path}: stations[{i}].calendar: unknown calendar {station.calendar!r}")
    for i, machine in enumerate(line.machines):
        if machine.calendar not in calendars:
            problems.append(f"{path}: machines[{i}].calendar: unknown calendar {machine.calendar!r}")
        if machine.station and machine.station not in stations:
            problems.append(f"{path}: machines[{i}].station: unknown station {machine.station!r}")
    prefix = line.line.code + "-"
    for i, step in enumerate(line.routing.steps):
        where = f"{path}: routing.steps[{i}]"
        if not step.code.startswith(prefix):
            problems.append(f"{where}.code: step code {step.code!r} must start with the line code {prefix!r}")
        for s in step.stations:
            if s not in stations:
                problems.append(f"{where}.stations: unknown station {s!r}")
        for q in step.qualifications:
            if q not in qualifications:
                problems.append(f"{where}.qualifications: unknown qualification {q!r}")
        if step.machine_run and not machines_at.intersection(step.stations):
            problems.append(f"{where}.machine_run: no machine stands at the step's stations")
    _duplicates([(f"{path}: routing.steps[{i}].code", s.code) for i, s in enumerate(line.routing.steps)],
                "step code", problems)
    _check_captured(path, line, problems)


def _check_captured(path: Path, line: LineFile, problems: list[str]) -> None:
    """A characteristic read from a tag names a numeric tag of a machine standing at one of the step's stations."""
    for i, step in enumerate(line.routing.steps):
        tags = {t.name: t for m in line.machines if m.station in step.stations for t in m.tags}
        for j, c in enumerate(step.characteristics):
            if c.source is None:
                continue
            where = f"{path}: routing.steps[{i}].characteristics[{j}].source.tag"
            tag = tags.get(c.source.tag)
            if tag is None:
                problems.append(f"{where}: no machine at {', '.join(step.stations)} has a tag {c.source.tag!r}")
            elif tag.data_type not in NUMERIC_TYPES:
                problems.append(f"{where}: tag {c.source.tag!r} is {tag.data_type}, not a number")


def _check_bills_of_material(lines: list[LoadedLine], parts_path: Path, parts: tuple[PartConfig, ...],
                             problems: list[str]) -> None:
    """Every part a step consumes is a purchased part or another line's unit type."""
    _duplicates([(f"{parts_path}: parts[{i}].part_number", p.part_number) for i, p in enumerate(parts)],
                "part number", problems)
    purchased = {p.part_number for p in parts}
    built = {ln.config.unit_type.part_number for ln in lines}
    if clash := sorted(purchased & built):
        problems.append(f"{parts_path}: parts: {', '.join(clash)} is also a unit type a line builds")
    for ln in lines:
        for i, step in enumerate(ln.config.routing.steps):
            for j, item in enumerate(step.consumes):
                where = f"{ln.path}: routing.steps[{i}].consumes[{j}].part_number"
                if item.part_number == ln.config.unit_type.part_number:
                    problems.append(f"{where}: a unit cannot consume its own type {item.part_number!r}")
                elif item.part_number not in purchased | built:
                    problems.append(f"{where}: unknown part {item.part_number!r} (not in {parts_path.name} "
                                    "nor a unit type)")


def _check_plant(path: Path, plant: PlantFile, problems: list[str]) -> None:
    _duplicates([(f"{path}: calendars[{i}].name", c.name) for i, c in enumerate(plant.calendars)],
                "calendar", problems)
    _duplicates([(f"{path}: qualifications[{i}].code", q.code) for i, q in enumerate(plant.qualifications)],
                "qualification", problems)
    _duplicates([(f"{path}: defect_codes[{i}].code", d.code) for i, d in enumerate(plant.defect_codes)],
                "defect code", problems)


def _check_across_lines(lines: list[LoadedLine], problems: list[str]) -> None:
    def each(key: str, getter: Any) -> list[tuple[str, str]]:
        return [(f"{ln.path}: {key.format(i=i)}", str(v)) for ln in lines for i, v in enumerate(getter(ln.config))]

    _duplicates(each("line.number", lambda c: [c.line.number]), "line number", problems)
    _duplicates(each("line.code", lambda c: [c.line.code]), "line code", problems)
    _duplicates(each("unit_type.part_number", lambda c: [c.unit_type.part_number]), "part number", problems)
    _duplicates(each("unit_type.serial_prefix", lambda c: [c.unit_type.serial_prefix]), "serial prefix", problems)
    _duplicates(each("stations[{i}].code", lambda c: [s.code for s in c.stations]), "station code", problems)
    _duplicates(each("machines[{i}].code", lambda c: [m.code for m in c.machines]), "machine code", problems)
    secured: dict[str, tuple[str, Any]] = {}  # endpoint -> (where first seen, its security)
    for ln in lines:
        for i, m in enumerate(ln.config.machines):
            where, security = secured.setdefault(m.endpoint, (f"{ln.path}: machines[{i}]", m.security))
            if security != m.security:
                problems.append(f"{ln.path}: machines[{i}].security: {m.endpoint} is also used by {where} with "
                                "other security settings; one endpoint has one secure channel")


def load_plant_config(config_dir: Path) -> PlantConfig:
    """Load and validate plant.toml, lines/*.toml and parts.toml of `config_dir`, or raise PlantConfigError."""
    problems: list[str] = []
    plant_path = config_dir / "plant.toml"
    if not plant_path.is_file():
        raise PlantConfigError([f"{plant_path}: file not found"])
    plant = _parse(plant_path, PlantFile, problems)
    if plant is not None:
        _check_plant(plant_path, plant, problems)
    line_paths = sorted((config_dir / "lines").glob("*.toml"))
    if not line_paths:
        problems.append(f"{config_dir / 'lines'}: no line files (*.toml)")
    lines: list[LoadedLine] = []
    for path in line_paths:
        line = _parse(path, LineFile, problems)
        if line is not None:
            lines.append(LoadedLine(path, line))
    if plant is not None:
        for loaded in lines:
            _check_line(loaded.path, loaded.config, plant, problems)
    _check_across_lines(lines, problems)
    parts_path = config_dir / "parts.toml"
    parts_file = _parse(parts_path, PartsFile, problems) if parts_path.is_file() else PartsFile()
    parts = tuple(parts_file.parts) if parts_file is not None else ()
    _check_bills_of_material(lines, parts_path, parts, problems)
    if problems or plant is None:
        raise PlantConfigError(problems)
    lines.sort(key=lambda ln: ln.config.line.number)
    return PlantConfig(plant_path, plant, tuple(lines), parts)
