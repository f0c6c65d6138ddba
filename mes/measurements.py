"""Reading and judging measured values: exact decimals, inclusive limits, pass/fail attributes."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from mes.errors import Invalid
from mes.models import Characteristic

PASS_WORDS = {"pass": True, "passed": True, "ok": True, "true": True, "fail": False, "failed": False,
              "nok": False, "false": False}


@dataclass(frozen=True)
class Judged:
    """One value as entered, its number (for variables), and whether it is within the limits in force."""

    characteristic: Characteristic
    text: str
    number: Decimal | None
    passed: bool

    def as_failure(self) -> dict[str, str | None]:
        c = self.characteristic
        return {"name": c.name, "value": self.text, "unit": c.unit, "lower": c.lower, "upper": c.upper}


def _text(value: object, field: str) -> str:
    """The value as the operator entered it. JSON numbers arrive as Decimal, so 1.10 keeps its zero."""
    if isinstance(value, bool):
        return "pass" if value else "fail"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str) and value.strip() and len(value) <= 64:
        return value.strip()
    raise Invalid("give a number, or pass/fail", field)


def parse_decimal(text: str, field: str) -> Decimal:
    """An exact, finite decimal, or a 422 naming `field`."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise Invalid(f"{text!r} is not a number", field) from None
    if not number.is_finite():
        raise Invalid(f"{text!r} is not a finite number", field)
    return number


def judge(characteristic: Characteristic, value: object, field: str) -> Judged:
    """Parse `value` for `characteristic` and judge it against the inclusive limits; refuse what is not a value."""
    text = _text(value, field)
    if characteristic.kind == "pass_fail":
        verdict = PASS_WORDS.get(text.lower())
        if verdict is None:
            raise Invalid(f"{characteristic.name} is pass or fail, not {text!r}", field)
        return Judged(characteristic, "pass" if verdict else "fail", None, verdict)
    number = parse_decimal(text, field)
    lower = Decimal(characteristic.lower) if characteristic.lower is not None else None
    upper = Decimal(characteristic.upper) if characteristic.upper is not None else None
    passed = (lower is None or number >= lower) and (upper is None or number <= upper)
    return Judged(characteristic, text, number, passed)


def judge_all(characteristics: list[Characteristic], values: dict[str, object], field: str = "measurements",
              ) -> list[Judged]:
    """Judge a step's values: every characteristic present, nothing unknown."""
    if not isinstance(values, dict):
        raise Invalid("measurements are an object of name: value", field)
    known = {c.name: c for c in characteristics}
    if unknown := sorted(set(values) - known.keys()):
        raise Invalid(f"not measured at this step: {', '.join(unknown)}", f"{field}.{unknown[0]}")
    if missing := [name for name in known if name not in values]:
        raise Invalid(f"missing measurement(s): {', '.join(missing)}", f"{field}.{missing[0]}")
    return [judge(c, values[c.name], f"{field}.{c.name}") for c in characteristics]
