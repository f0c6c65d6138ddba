"""The load plant of benchmarks/load_plant.py as the fault benchmark needs it: one configuration for the
simulators and one for the adapter, which also reads each machine's Sequence tag and reaches some machines
through TCP proxies.

What it writes
    <folder>/simulator/: the load plant exactly as benchmarks/load_plant.py writes it (line 90 "LOAD",
    MACHINES machines LOAD-M01 ... with a state tag, a good counter and PROCESS_VALUES process values each, one
    endpoint per machine), with the queue size asked for. The simulator serves it; its own Sequence node
    (``nsu=urn:satplant:sim;s=<CODE>.Sequence``, UInt32, see line_adapters.simulator) counts every data change
    sent on these tags.

    <folder>/adapter/: the same plant plus, on every machine, a tag "sequence" reading that Sequence node
    (process_value, UInt32, excursions ignored), and the endpoints of the `proxied` machines moved to
    opc.tcp://127.0.0.1:<proxy port>. It is loaded into the database the adapter reads. Because the
    Sequence node is written with every tick that changed something, and with the tick's source time, the
    stored samples of "sequence" list the ticks that arrived: a missing span of sequence numbers is a span
    of lost changes, and its source times say when it happened.

How to run (from the repository root)
    .venv/bin/python benchmarks/fault_plant.py FOLDER [--machines 20] [--process-values 20] [--base-port 49100]
        [--queue-size 200] [--proxy LOAD-M02=49500 ...]
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # load_plant, when run as a script
from load_plant import LINE_NUMBER, write_load_plant

from mes.plant_config import PlantConfig, load_plant_config

SEQUENCE_TAG = "sequence"
_MACHINE = re.compile(r'\[\[machines\]\]\ncode = "(?P<code>[^"]+)".*?(?=\n\n\[\[)', re.S)
_ENDPOINT = re.compile(r'endpoint = "opc\.tcp://127\.0\.0\.1:\d+"')


def _sequence_tag(code: str) -> str:
    return "\n".join(["", "  [[machines.tags]]", f'  name = "{SEQUENCE_TAG}"',
                      f'  node = "nsu=urn:satplant:sim;s={code}.Sequence"', '  meaning = "process_value"',
                      '  data_type = "UInt32"', '  on_excursion = "ignore"'])


def write_fault_plants(folder: Path, *, machines: int = 20, process_values: int = 20, base_port: int = 49100,
                       publishing_ms: int = 500, queue_size: int = 200, sampling_ms: int = 100,
                       proxied: dict[str, int] | None = None) -> tuple[PlantConfig, PlantConfig]:
    """Write <folder>/simulator and <folder>/adapter; return (simulator's plant, adapter's plant), validated."""
    proxied = proxied or {}
    simulator = write_load_plant(folder / "simulator", machines=machines, process_values=process_values,
                                 base_port=base_port, publishing_ms=publishing_ms, queue_size=queue_size,
                                 sampling_ms=sampling_ms)
    line_file = Path("lines") / f"{LINE_NUMBER}-load.toml"
    text = (folder / "simulator" / line_file).read_text(encoding="utf-8")

    def machine(match: re.Match[str]) -> str:
        code, block = match.group("code"), match.group(0)
        if code in proxied:
            block = _ENDPOINT.sub(f'endpoint = "opc.tcp://127.0.0.1:{proxied[code]}"', block)
        return block + _sequence_tag(code)

    adapter_text, count = _MACHINE.subn(machine, text)
    if count != machines:
        raise RuntimeError(f"found {count} machine blocks in the load plant, expected {machines}")
    (folder / "adapter" / "lines").mkdir(parents=True, exist_ok=True)
    for name in ("plant.toml", "parts.toml"):
        if (folder / "simulator" / name).is_file():
            shutil.copy(folder / "simulator" / name, folder / "adapter" / name)
    (folder / "adapter" / line_file).write_text(adapter_text, encoding="utf-8")
    return simulator, load_plant_config(folder / "adapter")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--machines", type=int, default=20)
    parser.add_argument("--process-values", type=int, default=20)
    parser.add_argument("--base-port", type=int, default=49100)
    parser.add_argument("--queue-size", type=int, default=200)
    parser.add_argument("--proxy", action="append", default=[], help="CODE=PORT: reach CODE through this port")
    args = parser.parse_args(argv)
    proxied = {code: int(port) for code, port in (p.split("=", 1) for p in args.proxy)}
    _, adapter = write_fault_plants(args.folder, machines=args.machines, process_values=args.process_values,
                                    base_port=args.base_port, queue_size=args.queue_size, proxied=proxied)
    tags = sum(len(m.tags) for ln in adapter.lines for m in ln.config.machines)
    print(f"{args.folder}: simulator/ and adapter/ ({tags} tags for the adapter)")


if __name__ == "__main__":
    main()
