"""A synthetic load plant for the telemetry benchmarks: the default plant.toml and parts.toml, and one line of
many machines carrying many process values each.

What it writes
    <folder>/plant.toml and <folder>/parts.toml copied from the source configuration (default config/), and
    <folder>/lines/90-load.toml: line 90 "LOAD" with one station, one routing step and MACHINES machines
    LOAD-M01 ... (default 50), each with a PackML state tag (Int32), a good counter (UInt32) and PROCESS_VALUES
    process values (default 20; Double, every fifth a Float) whose profiles in line_adapters.sim_machines are
    "steady" (a nominal with noise and drift), so each one changes on every update: at simulator rate R the
    line offers about MACHINES x PROCESS_VALUES x R data changes a second (1,000 tags at 5 Hz = 5,000/s by
    default), plus the few state and counter changes. Each machine has its own endpoint,
    opc.tcp://127.0.0.1:<base port + i>, and a machine-level subscription (publishing interval, queue size)
    so that a publishing interval of changes fits in the server's queue of every monitored item.

How to run (from the repository root)
    .venv/bin/python benchmarks/load_plant.py FOLDER [--machines 50] [--process-values 20] [--base-port 49100]
    then e.g. `mes simulate --config FOLDER --rate 5`.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from mes.plant_config import PlantConfig, load_plant_config

REPOSITORY = Path(__file__).resolve().parent.parent
LINE_NUMBER, LINE_CODE = 90, "LOAD"
# Units whose profile is "steady" for a non-chamber machine (see sim_machines._profile), with (low, high).
UNITS = (("°C", 15, 35), ("bar", 4, 8), ("%", 20, 80), ("mm", 9.5, 10.5), ("l/min", 2, 6))


def machine_codes(machines: int) -> list[str]:
    return [f"{LINE_CODE}-M{i:02d}" for i in range(1, machines + 1)]


def _line_toml(machines: int, process_values: int, base_port: int, publishing_ms: int, queue_size: int,
               sampling_ms: int) -> str:
    out = [
        f"# Synthetic load line written by benchmarks/load_plant.py: {machines} machines x {process_values} "
        "process values.",
        "",
        "[line]", f"number = {LINE_NUMBER}", f'code = "{LINE_CODE}"', 'name = "Synthetic telemetry load"', "",
        "[unit_type]", f'part_number = "{LINE_CODE}-100"', 'name = "Load test unit"', "qty_per_satellite = 1",
        f'serial_prefix = "{LINE_CODE}"', "",
        "[[stations]]", f'code = "{LINE_CODE}-ST"', 'name = "Load bench"', 'calendar = "CONTINUOUS"', "",
    ]
    for i, code in enumerate(machine_codes(machines)):
        short = code.rsplit("-", 1)[-1]
        out += [
            "[[machines]]", f'code = "{code}"', f'name = "Load machine {short}"', 'kind = "test_bench"',
            f'station = "{LINE_CODE}-ST"', f'endpoint = "opc.tcp://127.0.0.1:{base_port + i}"',
            'calendar = "CONTINUOUS"', "ideal_cycle_s = 600",
            f"subscription = {{ sampling_ms = {sampling_ms}, publishing_ms = {publishing_ms}, "
            f"queue_size = {queue_size} }}",
            "  [[machines.tags]]", '  name = "state"', f'  node = "ns=2;s={short}.State"', '  meaning = "state"',
            '  data_type = "Int32"',
            "  [[machines.tags]]", '  name = "good_count"', f'  node = "ns=2;s={short}.GoodCount"',
            '  meaning = "good_count"', '  data_type = "UInt32"',
        ]
        for k in range(1, process_values + 1):
            unit, low, high = UNITS[k % len(UNITS)]
            out += [
                "  [[machines.tags]]", f'  name = "pv_{k:02d}"', f'  node = "ns=2;s={short}.PV{k:02d}"',
                '  meaning = "process_value"', f'  data_type = "{"Float" if k % 5 == 0 else "Double"}"',
                f'  unit = "{unit}"', f"  low = {low}", f"  high = {high}",
            ]
        out.append("")
    out += [
        "[[routing.steps]]", f'code = "{LINE_CODE}-RUN"', 'name = "Load run"', f'stations = ["{LINE_CODE}-ST"]',
        "standard_minutes = 10", "",
    ]
    return "\n".join(out)


def write_load_plant(folder: Path, *, machines: int = 50, process_values: int = 20, base_port: int = 49100,
                     publishing_ms: int = 500, queue_size: int = 100, sampling_ms: int = 100,
                     source: Path = REPOSITORY / "config") -> PlantConfig:
    """Write the load plant into `folder` (which gets plant.toml, parts.toml, lines/) and return it validated."""
    (folder / "lines").mkdir(parents=True, exist_ok=True)
    shutil.copy(source / "plant.toml", folder / "plant.toml")
    if (source / "parts.toml").is_file():
        shutil.copy(source / "parts.toml", folder / "parts.toml")
    (folder / "lines" / f"{LINE_NUMBER}-load.toml").write_text(
        _line_toml(machines, process_values, base_port, publishing_ms, queue_size, sampling_ms), encoding="utf-8")
    return load_plant_config(folder)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("folder", type=Path, help="where to write plant.toml, parts.toml and lines/")
    parser.add_argument("--machines", type=int, default=50)
    parser.add_argument("--process-values", type=int, default=20)
    parser.add_argument("--base-port", type=int, default=49100)
    parser.add_argument("--publishing-ms", type=int, default=500)
    parser.add_argument("--queue-size", type=int, default=100)
    args = parser.parse_args(argv)
    config = write_load_plant(args.folder, machines=args.machines, process_values=args.process_values,
                              base_port=args.base_port, publishing_ms=args.publishing_ms, queue_size=args.queue_size)
    tags = sum(len(m.tags) for ln in config.lines for m in ln.config.machines)
    print(f"{args.folder}: {len(config.lines[0].config.machines)} machines, {tags} tags")


if __name__ == "__main__":
    main()
