"""Plausible measured values for the demo: each step fails now and then, at a first-pass yield of its own.

Each step fails at close to its yield even over a few dozen units (failures are spread out, not left to
chance); a failing execution fails one of its characteristics. Each characteristic draws from a
distribution shaped by its limits (normal between two limits, log-normal for positive one-sided values,
folded at a one-sided nominal) and is written with the decimal places of its configured limits.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from decimal import Decimal
from statistics import NormalDist

Z = NormalDist()
MAX_PLACES = 9
YIELD_LOW, YIELD_MODE, YIELD_HIGH = 0.87, 0.95, 0.975  # first-pass yield per step
MAX_TRIES = 2000


@dataclass(frozen=True)
class Spec:
    """What the demo needs of a characteristic: its kind and its limits as configured (decimal text)."""

    name: str
    kind: str
    nominal: str | None = None
    lower: str | None = None
    upper: str | None = None


@dataclass(frozen=True)
class Model:
    """How one characteristic's values are drawn: `shape` is normal, lognormal, folded or attribute."""

    shape: str
    centre: float
    spread: float
    quantum: Decimal
    direction: int = 1  # folded: the side of the limit
    lower: Decimal | None = None
    upper: Decimal | None = None

    def passes(self, text: str) -> bool:
        if self.shape == "attribute":
            return text == "pass"
        value = Decimal(text)
        return (self.lower is None or value >= self.lower) and (self.upper is None or value <= self.upper)

    def draw_as(self, rng: random.Random, passing: bool) -> str:
        """A value that passes (or fails) its limits, drawn from the model's distribution."""
        if self.shape == "attribute":
            return "pass" if passing else "fail"
        for _ in range(MAX_TRIES):
            text = self.draw(rng)
            if self.passes(text) == passing:
                return text
        # Only reached for a failure the distribution almost never produces: just past a limit.
        limit, step = (self.upper, self.quantum) if self.upper is not None else (self.lower, -self.quantum)
        assert limit is not None
        return format(limit + step if not passing else limit, "f")

    def draw(self, rng: random.Random) -> str:
        if self.shape == "lognormal":
            x = math.exp(rng.gauss(math.log(self.centre), self.spread))
        elif self.shape == "folded":
            x = self.centre + self.direction * abs(rng.gauss(0.0, self.spread))
        else:
            x = rng.gauss(self.centre, self.spread)
        return _text(x, self.quantum)


def _text(x: float, quantum: Decimal) -> str:
    value = Decimal(repr(x)).quantize(quantum)
    return format(abs(value) if value == 0 else value, "f")


def _places(*texts: str | None) -> int:
    exponents = [Decimal(t).as_tuple().exponent for t in texts if t is not None]
    return max([0, *(-e for e in exponents if isinstance(e, int) and e < 0)])


def model_for(spec: Spec, fail_rate: float) -> Model:
    """The value model that fails `spec` at about `fail_rate`, with the decimal places of its limits.

    Only a value far below the limits' resolution (vacuum 0.0003 Pa under "0.001") gets more digits.
    """
    if spec.kind == "pass_fail":
        return Model("attribute", 0.0, 0.0, Decimal(1))
    places = _places(spec.nominal, spec.lower, spec.upper)
    model = _variable(spec, fail_rate, Decimal(1).scaleb(-places))
    if model.shape != "folded" and float(model.quantum) > _scale(model):
        while float(model.quantum) * 4 > _scale(model) and places < MAX_PLACES:
            places += 1
            model = _variable(spec, fail_rate, Decimal(1).scaleb(-places))
    return replace(model, lower=_decimal(spec.lower), upper=_decimal(spec.upper))


def _decimal(text: str | None) -> Decimal | None:
    return Decimal(text) if text is not None else None


def _scale(model: Model) -> float:
    return model.centre * model.spread if model.shape == "lognormal" else model.spread


def _variable(spec: Spec, p: float, q: Decimal) -> Model:
    """Choose the shape from the limits; limits widen by half a step of resolution, as rounding does."""
    half = float(q) / 2
    nominal = float(spec.nominal) if spec.nominal is not None else None
    lower = float(spec.lower) - half if spec.lower is not None else None
    upper = float(spec.upper) + half if spec.upper is not None else None
    if lower is not None and upper is not None:
        centre = nominal if nominal is not None and lower + half < nominal < upper - half else (lower + upper) / 2
        return Model("normal", centre, _two_sided_sd(centre, lower, upper, p), q)
    limit_text = spec.lower if spec.lower is not None else spec.upper
    limit = lower if lower is not None else upper
    assert limit is not None and limit_text is not None
    direction = -1 if lower is not None else 1  # the failing side
    at_limit = spec.nominal is not None and Decimal(spec.nominal) == Decimal(limit_text)
    if nominal is not None and (at_limit or (nominal == 0 and direction > 0 and limit > 0)):
        # Counts and "at least" values (8 of 8 cycles, 0 errors, drift from 0): the nominal, or off it one way.
        return Model("folded", nominal, abs(limit - nominal) / Z.inv_cdf(1 - p / 2), q, direction)
    z = Z.inv_cdf(1 - p)
    if nominal is None:
        if limit <= 0:
            centre = limit - direction * max(1.0, abs(limit))
            return Model("normal", centre, abs(limit - centre) / z, q)
        nominal = limit * 3 if direction < 0 else limit / 3
    if nominal > 0 and limit > 0:
        return Model("lognormal", nominal, abs(math.log(limit / nominal)) / z, q)
    return Model("normal", nominal, abs(limit - nominal) / z, q)


def _two_sided_sd(centre: float, lower: float, upper: float, p: float) -> float:
    """The spread at which a normal around `centre` falls outside [lower, upper] with probability `p`."""
    low, high = 1e-12, upper - lower
    for _ in range(80):
        sd = (low + high) / 2
        outside = Z.cdf((lower - centre) / sd) + 1 - Z.cdf((upper - centre) / sd)
        low, high = (sd, high) if outside < p else (low, sd)
    return (low + high) / 2


class StepValues:
    """Values for every characteristic of one step, failing the step at close to its own first-pass yield."""

    def __init__(self, specs: list[Spec], rng: random.Random) -> None:
        self.first_pass_yield = rng.triangular(YIELD_LOW, YIELD_HIGH, YIELD_MODE)
        share = 1 - self.first_pass_yield ** (1 / len(specs)) if specs else 0.0
        self.models = {s.name: model_for(s, share) for s in specs}
        # Failures are owed at the step's failure rate and fall due at a random threshold, so the realised
        # yield tracks the target within a unit or so while the gaps between failures stay irregular.
        self.owed = rng.random()
        self.due = rng.uniform(0.2, 1.8)

    def draw(self, rng: random.Random) -> dict[str, object]:
        self.owed += 1 - self.first_pass_yield
        failing = None
        if self.models and self.owed >= self.due:
            self.owed -= 1
            self.due = rng.uniform(0.2, 1.8)
            failing = rng.choice(list(self.models))
        return {name: model.draw_as(rng, name != failing) for name, model in self.models.items()}
