"""The shape of config/: one plant file and one file per line, each field checked where it is read."""
from __future__ import annotations

import re
from datetime import date, time
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from mes.permissions import PERMISSIONS
from mes.plant_config.security import SecuritySettings

PACKML_STATES = (
    "Undefined", "Clearing", "Stopped", "Starting", "Idle", "Suspended", "Execute", "Stopping", "Aborting",
    "Aborted", "Holding", "Held", "Unholding", "Suspending", "Unsuspending", "Resetting", "Completing", "Complete",
)
# PackML (ISA-TR88.00.02) state numbers, the default map for a `state` tag.
PACKML_CODES = {str(i): name for i, name in enumerate(PACKML_STATES)}

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TAG_MEANINGS = ("state", "running", "good_count", "reject_count", "process_value", "loaded_serial", "recipe")
DATA_TYPES = ("Boolean", "SByte", "Byte", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64",
              "Float", "Double", "String")
NUMERIC_TYPES = frozenset(DATA_TYPES) - {"Boolean", "String"}

# The string forms of OPC UA node ids a real PLC uses: ns=2;i=1042, ns=3;s="DB_Balancer"."Temperature",
# nsu=urn:vendor:plc;s=Temp (namespace by URI, resolved at connect), plus GUID and opaque ids.
NODE_ID = re.compile(r"^(?:(?:ns=\d+|nsu=[^;]+);)?(?:i=\d+|s=.+|g=[0-9a-fA-F-]{36}|b=[A-Za-z0-9+/=]+)$")
CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]*$")


def _decimal(value: object) -> object:
    """Read a number as an exact decimal; floats go through str() so 0.1 stays 0.1."""
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, (int, float, str)):
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
        if not result.is_finite():
            raise ValueError(f"{value!r} is not a finite number")
        return result
    raise ValueError(f"expected a number, got {type(value).__name__}")


Dec = Annotated[Decimal, BeforeValidator(_decimal)]
Code = Annotated[str, Field(pattern=CODE.pattern, max_length=32)]


class Strict(BaseModel):
    """Unknown keys are errors: a typo in a plant file must not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- plant.toml -----------------------------------------------------------------------------

class PlantSection(Strict):
    name: str = Field(min_length=1, max_length=200)
    timezone: str
    target_satellites_per_year: int = Field(gt=0, le=10_000)
    spares_allowance: Dec = Field(ge=0, le=1)
    serial_format: str = "{prefix}-{yy}-{seq:05d}"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("serial_format")
    @classmethod
    def _serial_format(cls, value: str) -> str:
        try:
            sample = value.format(prefix="X", yy="26", yyyy="2026", seq=1)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"bad serial format ({exc}); fields are prefix, yy, yyyy, seq") from None
        if "{seq" not in value or "{prefix" not in value:
            raise ValueError("the serial format needs {prefix} and {seq}")
        if len(sample) > 40:
            raise ValueError("serials would be longer than 40 characters")
        return value


class Shift(Strict):
    name: str
    start: time
    end: time  # an end at or before the start runs past midnight
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(min_length=1)


class CalendarConfig(Strict):
    name: Code
    around_the_clock: bool = False
    shifts: list[Shift] = []
    days_off: list[date] = []

    @model_validator(mode="after")
    def _either_shifts_or_always(self) -> CalendarConfig:
        if self.around_the_clock == bool(self.shifts):
            raise ValueError("a calendar is either around_the_clock or has shifts, not both or neither")
        return self


class QualificationConfig(Strict):
    code: Code
    name: str
    validity_days: int = Field(gt=0)


class DefectCodeConfig(Strict):
    code: Code
    description: str
    category: str


class RoleConfig(Strict):
    description: str = ""
    permissions: list[str]

    @field_validator("permissions")
    @classmethod
    def _known_permissions(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - PERMISSIONS.keys())
        if unknown:
            raise ValueError(f"unknown permission(s) {', '.join(unknown)}; known: {', '.join(sorted(PERMISSIONS))}")
        return value


class PlantFile(Strict):
    plant: PlantSection
    calendars: list[CalendarConfig] = Field(min_length=1)
    qualifications: list[QualificationConfig] = []
    defect_codes: list[DefectCodeConfig] = Field(min_length=1)
    roles: dict[str, RoleConfig] = Field(min_length=1)


# --- lines/*.toml ---------------------------------------------------------------------------

class SubscriptionConfig(Strict):
    """How the adapter subscribes: intervals in ms; deadband absolute in engineering units."""

    sampling_ms: int | None = Field(default=None, ge=0)
    publishing_ms: int | None = Field(default=None, gt=0)
    queue_size: int | None = Field(default=None, ge=1)
    deadband: Dec | None = Field(default=None, ge=0)


class TagConfig(Strict):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
    node: str
    meaning: Literal["state", "running", "good_count", "reject_count", "process_value", "loaded_serial", "recipe"]
    data_type: Literal["Boolean", "SByte", "Byte", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64",
                       "Float", "Double", "String"]
    unit: str | None = None
    scale: Dec = Decimal(1)
    offset: Dec = Decimal(0)
    low: Dec | None = None
    high: Dec | None = None
    # Leaving the limits while a unit's step runs on the machine is recorded (flag), also fails the step (fail),
    # or is not checked (ignore: limits a step crosses by design, like a vacuum pumped down and vented again).
    on_excursion: Literal["ignore", "flag", "fail"] = "flag"
    subscription: SubscriptionConfig = SubscriptionConfig()

    @field_validator("node")
    @classmethod
    def _node_id(cls, value: str) -> str:
        if not NODE_ID.match(value):
            raise ValueError(f"{value!r} is not an OPC UA node id (e.g. ns=2;i=1042, ns=3;s=\"DB\".\"Tag\", "
                             "nsu=urn:plc;s=Tag)")
        return value

    @model_validator(mode="after")
    def _fits_meaning(self) -> TagConfig:
        numeric = self.data_type in NUMERIC_TYPES
        if self.meaning == "running" and self.data_type != "Boolean":
            raise ValueError("a running flag must be Boolean")
        if self.meaning in ("good_count", "reject_count", "state") and not numeric:
            raise ValueError(f"a {self.meaning} tag must be numeric")
        if self.meaning == "process_value" and not numeric:
            raise ValueError("a process value must be numeric")
        if self.meaning in ("loaded_serial", "recipe") and self.data_type != "String":
            raise ValueError(f"a {self.meaning} tag must be a String")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low limit {self.low} is above high limit {self.high}")
        if self.scale == 0:
            raise ValueError("scale cannot be 0")
        if self.on_excursion == "fail" and self.low is None and self.high is None:
            raise ValueError("on_excursion = \"fail\" needs a low or high limit to leave")
        return self


class MachineConfig(Strict):
    code: Code
    name: str
    kind: str
    station: Code | None = None
    endpoint: Annotated[str, Field(pattern=r"^opc\.tcp://[^/\s]+(:\d+)?(/\S*)?$")]
    calendar: Code
    positions: int = Field(default=1, ge=1, le=500)
    ideal_cycle_s: int | None = Field(default=None, gt=0)
    subscription: SubscriptionConfig = SubscriptionConfig()
    state_map: dict[str, str] | None = None  # raw value -> PackML state; default PACKML_CODES
    security: SecuritySettings | None = None  # the endpoint's secure channel; machines sharing it agree
    clock_alarm_s: float = Field(default=2.0, gt=0)  # alarm when the endpoint's clock is off by more than this
    tags: list[TagConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _tags(self) -> MachineConfig:
        names = [t.name for t in self.tags]
        if dup := {n for n in names if names.count(n) > 1}:
            raise ValueError(f"tag name(s) used twice: {', '.join(sorted(dup))}")
        nodes = [t.node for t in self.tags]
        if dup := {n for n in nodes if nodes.count(n) > 1}:
            raise ValueError(f"node(s) mapped twice: {', '.join(sorted(dup))}")
        for meaning in ("state", "running", "good_count", "reject_count", "loaded_serial", "recipe"):
            if sum(t.meaning == meaning for t in self.tags) > 1:
                raise ValueError(f"more than one {meaning} tag")
        if any(t.meaning == "state" for t in self.tags) and any(t.meaning == "running" for t in self.tags):
            raise ValueError("a machine has a state tag or a running flag, not both")
        if self.security is not None and self.security.password is not None:
            raise ValueError("security.password: configuration files are committed; name an environment variable "
                             "holding it in security.password_env instead")
        if self.state_map is not None:
            bad = sorted(set(self.state_map.values()) - set(PACKML_STATES))
            if bad:
                raise ValueError(f"state_map names unknown PackML state(s) {', '.join(bad)}")
        return self


class CaptureConfig(Strict):
    """A value the machine measures: `aggregate` of its good samples of `tag` over the step, read at completion."""

    tag: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
    aggregate: Literal["last", "min", "max", "mean"] = "last"


class CharacteristicConfig(Strict):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
    kind: Literal["variable", "pass_fail"] = "variable"
    unit: str | None = None
    nominal: Dec | None = None
    lower: Dec | None = None
    upper: Dec | None = None
    key: bool = False
    source: CaptureConfig | None = None  # None: typed by the operator

    @model_validator(mode="after")
    def _limits(self) -> CharacteristicConfig:
        if self.kind == "pass_fail":
            if any(v is not None for v in (self.nominal, self.lower, self.upper, self.unit)):
                raise ValueError("a pass_fail characteristic has no unit, nominal or limits")
            if self.source is not None:
                raise ValueError("a pass_fail characteristic is judged by a person, not read from a tag")
            return self
        if not self.unit:
            raise ValueError("a variable characteristic needs a unit")
        if self.lower is None and self.upper is None:
            raise ValueError("a variable characteristic needs a lower or an upper limit")
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ValueError(f"lower limit {self.lower} is above upper limit {self.upper}")
        if self.nominal is not None and not (
            (self.lower is None or self.lower <= self.nominal) and (self.upper is None or self.nominal <= self.upper)
        ):
            raise ValueError(f"nominal {self.nominal} lies outside the limits")
        return self


class BomLineConfig(Strict):
    """One thing a step consumes: a purchased part (config/parts.toml) or another line's unit type."""

    part_number: Code
    qty: int = Field(default=1, ge=1, le=1000)


class StepConfig(Strict):
    code: Code
    name: str
    stations: list[Code] = Field(min_length=1)
    standard_minutes: int = Field(gt=0)
    machine_run: bool = False  # several units run it together in one machine (chamber, rack)
    signoff: bool = False
    qualifications: list[Code] = []
    instruction: str = ""
    recipe: str | None = Field(default=None, min_length=1, max_length=200)  # loaded into the machine at start
    characteristics: list[CharacteristicConfig] = []
    consumes: list[BomLineConfig] = []  # the step's bill of material

    @model_validator(mode="after")
    def _unique_characteristics(self) -> StepConfig:
        names = [c.name for c in self.characteristics]
        if dup := {n for n in names if names.count(n) > 1}:
            raise ValueError(f"characteristic(s) named twice: {', '.join(sorted(dup))}")
        parts = [b.part_number for b in self.consumes]
        if dup := {n for n in parts if parts.count(n) > 1}:
            raise ValueError(f"part number(s) named twice in consumes: {', '.join(sorted(dup))}")
        return self


class LineSection(Strict):
    number: int = Field(ge=1, le=99)
    code: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{1,7}$")]
    name: str


class UnitTypeConfig(Strict):
    part_number: Code
    name: str
    qty_per_satellite: int = Field(ge=1, le=100)
    serial_prefix: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{1,7}$")]


class StationConfig(Strict):
    code: Code
    name: str
    calendar: Code
    self_checks: list[str] = []


class RoutingConfig(Strict):
    steps: list[StepConfig] = Field(min_length=1)


class LineFile(Strict):
    line: LineSection
    unit_type: UnitTypeConfig
    stations: list[StationConfig] = Field(min_length=1)
    machines: list[MachineConfig] = []
    routing: RoutingConfig


# --- parts.toml -----------------------------------------------------------------------------
class PartConfig(Strict):
    """A purchased part, received in supplier lots or as individual serials."""

    part_number: Code
    name: str = Field(min_length=1, max_length=200)
    tracking: Literal["lot", "serial"]


class PartsFile(Strict):
    parts: list[PartConfig] = []
