"""What a simulated machine's tags do over time: a seeded, pure model stepped in fixed ticks (no OPC UA here).

Time. The simulator compresses plant time: a machine's cycle lasts ``max(0.2, ideal_cycle_s / (60 * rate))``
seconds (``DEFAULT_CYCLE_S`` when the machine names no ideal cycle), so at rate 1 a 25-minute balancing cycle
takes 25 s and a test at rate 20 sees it in about a second. Process values update about ``rate`` times a second
each. The model advances in ticks of ``tick_seconds(rate)``; every value depends on the seed, the machine code,
the rate and the tick count only, never on the wall clock, so the same seed and rate give the same values.

Behaviour. States cycle Idle -> (Starting) -> Execute -> (Complete) -> Idle with random Held, Stopped and
Aborted downtime, written in the machine's own code space (its ``state_map`` inverted, else PackML numbers);
a running flag is true in Execute. Counters count units at the end of each run (a run of a multi-position
machine counts every position), with an occasional reject. Process values follow a profile picked from the
machine kind and the unit: chamber temperatures ramp between hot and cold plateaus, vacuum pressure follows a
pump-down curve and vents afterwards, speeds spin up and down with Execute, energised quantities (voltage,
current, power, vibration) are on only in Execute, the rest wander around a nominal with noise and drift.
Every profile makes occasional excursions past its limits, and now and then a reading is Bad (sensor failure).
A tick returns only values that differ from what was last sent, so each returned change is one data change
a subscriber receives.
"""
from __future__ import annotations

import math
import random
import struct
from dataclasses import dataclass
from datetime import UTC, datetime

from mes.plant_config.schema import PACKML_CODES, MachineConfig, TagConfig

DEFAULT_CYCLE_S = 3600  # a chamber or rack programme when the machine names no ideal cycle
P_HOLD, P_ABORT, P_STOP, P_REJECT = 0.12, 0.02, 0.05, 0.03  # per run, per run, per idle, per unit
P_EXCURSION, P_BAD = 0.004, 0.001  # per process-value update
AMBIENT_C, ATMOSPHERE_PA = 22.0, 101325.0
ENERGISED_UNITS = frozenset({"V", "kV", "mA", "A", "µA", "W", "kW", "mN", "mg/s", "grms", "W/m²", "N·m"})
CHAMBER_KINDS = frozenset({"thermal_chamber", "tvac", "vacuum_chamber"})
INT_RANGES = {"SByte": (-2**7, 2**7 - 1), "Byte": (0, 2**8 - 1), "Int16": (-2**15, 2**15 - 1),
              "UInt16": (0, 2**16 - 1), "Int32": (-2**31, 2**31 - 1), "UInt32": (0, 2**32 - 1),
              "Int64": (-2**63, 2**63 - 1), "UInt64": (0, 2**64 - 1)}
STATELESS_PHASES = frozenset({"Idle", "Execute", "Held", "Stopped"})

Value = bool | int | float | str | None


@dataclass(frozen=True, slots=True)
class Change:
    """One value to send: `value` is None when `bad` (the reading failed)."""

    tag: str
    value: Value
    bad: bool = False


def tick_seconds(rate: float) -> float:
    """The model's time step: 0.1 s, shorter at high rates so each process value can change `rate` times a second."""
    return min(0.1, 0.5 / rate)


def cycle_seconds(machine: MachineConfig, rate: float) -> float:
    return max(0.2, (machine.ideal_cycle_s or DEFAULT_CYCLE_S) / (60.0 * rate))


def to_raw(tag: TagConfig, value: float | int | str | bool) -> Value:
    """An engineering value as the PLC would hold it: scale/offset undone, rounded to the tag's data type."""
    if tag.data_type in ("String", "Boolean"):
        return value
    raw = (float(value) - float(tag.offset)) / float(tag.scale)
    if tag.data_type in INT_RANGES:
        low, high = INT_RANGES[tag.data_type]
        return min(high, max(low, round(raw)))
    raw = float(f"{raw:.6g}")
    if tag.data_type == "Float":  # what a 32-bit float holds, so the server compares what clients receive
        return struct.unpack("<f", struct.pack("<f", raw))[0]
    return raw


def _profile(kind: str, tag: TagConfig) -> str:
    unit = tag.unit or ""
    both = tag.low is not None and tag.high is not None
    if unit == "°C" and kind in CHAMBER_KINDS and both and float(tag.high - tag.low) >= 30:
        return "ramp"
    if unit in ("Pa", "mbar") and kind in ("tvac", "vacuum_chamber"):
        return "pumpdown"
    if unit in ("rpm", "°/s") or (unit in ENERGISED_UNITS and both and tag.low < 0 < tag.high):
        return "spin"
    if unit == "turns":
        return "progress"
    if unit in ENERGISED_UNITS:
        return "energised"
    return "steady"


class ProcessModel:
    """One process value: a profile driven by the machine's phase, plus drift, excursions and bad readings."""

    def __init__(self, tag: TagConfig, kind: str, cycle_s: float, rng: random.Random) -> None:
        self.tag, self.rng, self.cycle_s = tag, rng, cycle_s
        self.profile = _profile(kind, tag)
        self.low = float(tag.low) if tag.low is not None else None
        self.high = float(tag.high) if tag.high is not None else None
        on_factor = 0.85 if self.profile in ("energised", "spin", "progress") else 0.45
        if self.low is not None and self.high is not None:
            self.nominal, self.span = (self.low + self.high) / 2, max(self.high - self.low, 1e-12)
        elif self.high is not None and self.high > 0:
            self.nominal, self.span = on_factor * self.high, self.high
        elif self.high is not None:
            self.nominal, self.span = self.high - max(abs(self.high) * 0.2, 1.0), max(abs(self.high) * 0.4, 2.0)
        elif self.low is not None:
            self.nominal, self.span = self.low + max(abs(self.low) * 0.25, 1.0), max(abs(self.low) * 0.5, 2.0)
        else:
            self.nominal, self.span = 50.0, 100.0
        self.ambient = min(max(AMBIENT_C, self.low if self.low is not None else AMBIENT_C),
                           self.high if self.high is not None else AMBIENT_C)
        self.nonneg = (self.low is not None and self.low >= 0) or (self.low is None and (self.high or 0) > 0)
        self.drift = 0.0
        self.excursion_left, self.excursion_value = 0, 0.0
        self.setpoint, self.dwell = self.ambient, 0.0
        self.targets = [f * max(abs(self.low or 0.0), abs(self.high or 0.0)) for f in (-0.9, -0.5, -0.1, 0.1, 0.5, 0.9)]
        self.step_left = 0.0
        self.base_log = math.log10(self.high * 0.05) if self.high and self.high > 0 else -4.0
        self.log_p = math.log10(ATMOSPHERE_PA)
        self.state = {"ramp": self.ambient, "steady": self.nominal}.get(self.profile, 0.0)

    def start_run(self) -> None:
        """A new run begins: chambers head for the hot plateau, counters of progress restart."""
        if self.profile == "ramp":
            self.setpoint, self.dwell = self.high - 0.08 * self.span, 0.1 * self.cycle_s
        elif self.profile == "progress":
            self.state = 0.0

    def update(self, phase: str, progress: float, dt: float) -> float | None:
        """The next reading after `dt` seconds in `phase`; None for a bad reading."""
        rng = self.rng
        if rng.random() < P_BAD:
            return None
        active = phase == "Execute"
        value = getattr(self, f"_{self.profile}")(phase, active, progress, dt)
        if self.excursion_left > 0:
            self.excursion_left -= 1
            return self.excursion_value + rng.gauss(0, 0.005 * self.span)
        if (active or self.profile == "steady") and rng.random() < P_EXCURSION:
            self.excursion_left = rng.randint(2, 5)
            above = self.high is not None and (self.low is None or rng.random() < 0.5)
            beyond = self.span * rng.uniform(0.03, 0.2)
            if self.profile == "pumpdown":
                self.excursion_value = 10 ** (math.log10(self.high or 1e-3) + rng.uniform(0.1, 1.0))
            elif above:
                self.excursion_value = self.high + beyond
            elif self.low is not None:
                self.excursion_value = self.low - beyond
            else:
                self.excursion_value = self.nominal + 3 * self.span
            return self.excursion_value
        return value

    def _approach(self, target: float, dt: float, tau: float) -> float:
        self.state += (target - self.state) * (1 - math.exp(-dt / max(tau, 1e-6)))
        return self.state

    def _steady(self, phase: str, active: bool, progress: float, dt: float) -> float:
        self.drift = self.drift * 0.98 + self.rng.gauss(0, 0.01 * self.span)
        value = self.nominal + self.drift + self.rng.gauss(0, 0.1 * self.span)
        return abs(value) if self.nonneg else value

    def _ramp(self, phase: str, active: bool, progress: float, dt: float) -> float:
        target = self.setpoint if active else (self.state if phase == "Held" else self.ambient)
        if active and abs(self.state - self.setpoint) < 0.01 * self.span:
            self.dwell -= dt
            if self.dwell <= 0:
                hot, cold = self.high - 0.08 * self.span, self.low + 0.08 * self.span
                self.setpoint, self.dwell = (cold if self.setpoint > self.nominal else hot), 0.1 * self.cycle_s
        max_step = self.span / (0.15 * self.cycle_s) * dt
        self.state += max(-max_step, min(max_step, target - self.state))
        return self.state + self.rng.gauss(0, 0.002 * self.span)

    def _pumpdown(self, phase: str, active: bool, progress: float, dt: float) -> float:
        if active or phase == "Held":
            self.log_p += (self.base_log - self.log_p) * (1 - math.exp(-dt / (0.08 * self.cycle_s)))
        else:
            self.log_p += (math.log10(ATMOSPHERE_PA) - self.log_p) * (1 - math.exp(-dt / (0.03 * self.cycle_s)))
        return float(f"{10 ** (self.log_p + self.rng.gauss(0, 0.01)):.4g}")

    def _spin(self, phase: str, active: bool, progress: float, dt: float) -> float:
        target = 0.0
        if active and self.low is not None and self.low < 0:
            self.step_left -= dt
            if self.step_left <= 0:
                self.setpoint, self.step_left = self.rng.choice(self.targets), 0.15 * self.cycle_s
            target = self.setpoint
        elif active:
            target = self.nominal
        value = self._approach(target, dt, 0.05 * self.cycle_s)
        value += self.rng.gauss(0, 0.002 * abs(value) + 0.0005 * self.span)
        return abs(value) if self.nonneg else value

    def _energised(self, phase: str, active: bool, progress: float, dt: float) -> float:
        value = self._approach(self.nominal if active else 0.0, dt, 0.02 * self.cycle_s)
        value += self.rng.gauss(0, (0.02 if active else 0.001) * self.span)
        return abs(value) if self.nonneg else value

    def _progress(self, phase: str, active: bool, progress: float, dt: float) -> float:
        if active:
            self.state = progress * (self.high if self.high is not None else self.nominal) * 0.98
        return self.state


class MachineModel:
    """A machine's tags over time. `initial()` gives the values a server starts with; `tick()` the changes."""

    def __init__(self, machine: MachineConfig, *, seed: int, rate: float = 1.0, serial_prefix: str = "SIM",
                 serial_format: str = "{prefix}-{yy}-{seq:05d}", line_code: str = "SIM") -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.machine, self.code = machine, machine.code
        self.rng = random.Random(f"{seed}:{machine.code}")  # str seeds hash with SHA-512: stable across runs
        self.tick_s, self.cycle_s = tick_seconds(rate), cycle_seconds(machine, rate)
        self.update_ticks = max(1.0, 1.0 / rate / self.tick_s)
        self.tags = {t.meaning: t for t in machine.tags if t.meaning != "process_value"}
        state_tag = self.tags.get("state")
        codes = (machine.state_map or PACKML_CODES) if state_tag else {}
        self.state_codes: dict[str, str] = {}
        for raw, name in codes.items():
            self.state_codes.setdefault(name, raw)
        self.phases = set(self.state_codes) if state_tag else set(STATELESS_PHASES)
        self.processes = [(t, ProcessModel(t, machine.kind, self.cycle_s, self.rng)) for t in machine.tags
                          if t.meaning == "process_value"]
        self.next_update = [self.rng.randint(1, max(1, round(self.update_ticks))) for _ in self.processes]
        self.last_update = [0] * len(self.processes)
        self.serial_prefix, self.serial_format, self.line_code = serial_prefix, serial_format, line_code
        self.serial_seq = self.rng.randint(1, 400)
        self.recipes = [f"{line_code}-{machine.code.rsplit('-', 1)[-1]}-R{i}" for i in (1, 2, 3)]
        self.good, self.rejects = self.rng.randint(0, 5000), self.rng.randint(0, 150)
        self.serial, self.recipe = "", self.recipes[0]
        self.n = 0
        self.phase, self.phase_left = "Idle", self._ticks(self.rng.uniform(0.0, 0.3) * self.cycle_s)
        self.execute_total = self.execute_done = 0
        self.hold_at: int | None = None
        self.abort_at: int | None = None
        self.sent: dict[str, tuple[Value, bool]] = {}
        self.pending: dict[str, tuple[Value, bool]] = {}

    # --- values -------------------------------------------------------------------------------------------
    def initial(self) -> list[Change]:
        """The values the machine shows before the first tick (they are not changes)."""
        self._queue_machine_values()
        for tag, model in self.processes:
            value = model.update(self.phase, 0.0, self.tick_s)
            self._set(tag, model.nominal if value is None else value)
        return self._flush()

    def current(self) -> dict[str, object]:
        """What the machine shows now, per tag (for a server restarted mid-run); a bad value shows as zero."""
        zero = {"Boolean": False, "String": ""}
        return {t.name: value if (value := self.sent.get(t.name, (None, True))[0]) is not None
                else zero.get(t.data_type, 0) for t in self.machine.tags}

    def tick(self) -> list[Change]:
        """Advance one tick; the values that changed, in a stable order (machine tags first)."""
        self.n += 1
        if self.phase == "Execute":
            self.execute_done += 1
            if self.hold_at is not None and self.execute_done >= self.hold_at:
                self.hold_at = None
                self._enter("Held", self.rng.uniform(0.3, 2.0) * self.cycle_s)
            elif self.abort_at is not None and self.execute_done >= self.abort_at:
                self.abort_at, self.rejects = None, self.rejects + 1
                self._enter("Aborted" if "Aborted" in self.phases else "Stopped", 0.1 * self.cycle_s)
            elif self.execute_done >= self.execute_total:
                self._finish_run()
        else:
            self.phase_left -= 1
            if self.phase_left <= 0:
                self._advance()
        self._queue_machine_values()
        progress = self.execute_done / self.execute_total if self.execute_total else 0.0
        for i, (tag, model) in enumerate(self.processes):
            if self.n >= self.next_update[i]:
                dt = (self.n - self.last_update[i]) * self.tick_s
                self.last_update[i] = self.n
                self.next_update[i] = self.n + max(1, round(self.update_ticks * self.rng.uniform(0.5, 1.5)))
                self._set(tag, model.update(self.phase, progress, dt))
        return self._flush()

    def adopt(self, tag_name: str, value: Value) -> None:
        """A client wrote `value` into a tag (the MES loading a serial or recipe): the machine now shows it."""
        self.sent[tag_name] = (value, False)
        meaning = next((t.meaning for t in self.machine.tags if t.name == tag_name), None)
        if meaning == "loaded_serial" and isinstance(value, str):
            self.serial = value
        elif meaning == "recipe" and isinstance(value, str):
            self.recipe = value

    def _set(self, tag: TagConfig, value: float | int | str | bool | None) -> None:
        self.pending[tag.name] = (None, True) if value is None else (to_raw(tag, value), False)

    def _flush(self) -> list[Change]:
        changes = []
        for name, (value, bad) in self.pending.items():
            if self.sent.get(name) != (value, bad):
                self.sent[name] = (value, bad)
                changes.append(Change(name, value, bad))
        self.pending.clear()
        return changes

    def _queue_machine_values(self) -> None:
        tags = self.tags
        if "state" in tags and self.phase in self.state_codes:
            code = self.state_codes[self.phase]
            self._set(tags["state"], float(code) if tags["state"].data_type in ("Float", "Double") else int(code))
        if "running" in tags:
            self._set(tags["running"], self.phase == "Execute")
        if "good_count" in tags:
            self._set(tags["good_count"], self.good)
        if "reject_count" in tags:
            self._set(tags["reject_count"], self.rejects)
        if "loaded_serial" in tags:
            self._set(tags["loaded_serial"], self.serial)
        if "recipe" in tags:
            self._set(tags["recipe"], self.recipe)

    # --- phases -------------------------------------------------------------------------------------------
    def _ticks(self, seconds: float) -> int:
        return max(1, round(seconds / self.tick_s))

    def _enter(self, phase: str, seconds: float) -> None:
        self.phase, self.phase_left = phase, self._ticks(seconds)

    def _advance(self) -> None:
        phase = self.phase
        if phase == "Idle":
            if "Starting" in self.phases:
                self._enter("Starting", 0.05 * self.cycle_s)
            else:
                self._start_run()
        elif phase == "Starting":
            self._start_run()
        elif phase == "Held":
            self.phase = "Execute"
        elif phase == "Aborted" and "Stopped" in self.phases:
            self._enter("Stopped", self.rng.uniform(0.5, 2.0) * self.cycle_s)
        elif phase == "Stopped":
            self._enter("Idle", self.rng.uniform(0.1, 0.4) * self.cycle_s)
        else:  # Complete, or Aborted without Stopped
            self._idle()

    def _start_run(self) -> None:
        self.execute_total, self.execute_done = self._ticks(self.cycle_s * self.rng.uniform(0.9, 1.15)), 0
        roll = self.rng.random()
        self.hold_at = round(self.execute_total * self.rng.uniform(0.2, 0.8)) if roll < P_HOLD else None
        self.abort_at = (round(self.execute_total * self.rng.uniform(0.1, 0.9))
                         if P_HOLD <= roll < P_HOLD + P_ABORT else None)
        if not self.serial:
            self.serial_seq += 1
            year = datetime.now(UTC).year
            self.serial = self.serial_format.format(prefix=self.serial_prefix, yy=f"{year % 100:02d}",
                                                    yyyy=str(year), seq=self.serial_seq)
        if self.rng.random() < 0.25:
            self.recipe = self.rng.choice([r for r in self.recipes if r != self.recipe])
        for _, model in self.processes:
            model.start_run()
        self.phase = "Execute"

    def _finish_run(self) -> None:
        rejects = sum(self.rng.random() < P_REJECT for _ in range(self.machine.positions))
        self.good += self.machine.positions - rejects
        self.rejects += rejects
        if "Complete" in self.phases:
            self._enter("Complete", 0.05 * self.cycle_s)
        else:
            self._idle()

    def _idle(self) -> None:
        self.serial = ""  # unloaded
        if "Stopped" in self.phases and self.rng.random() < P_STOP:
            self._enter("Stopped", self.rng.uniform(1.0, 4.0) * self.cycle_s)
        else:
            self._enter("Idle", self.rng.uniform(0.1, 0.4) * self.cycle_s)
