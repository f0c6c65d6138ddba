"""Each line's routing carries every step and measured value the domain table (shared/domain.md) names."""
from __future__ import annotations

import pytest

# line number -> (quantity per satellite, [(step words, [measured value words])]) in routing order.
# A step matches when any of its words is in the step's name or code; a value when any of its
# words is in the name of one of that step's characteristics (all lower case).
DOMAIN_TABLE: dict[int, tuple[int, list[tuple[tuple[str, ...], list[tuple[str, ...]]]]]] = {
    1: (4, [(("bearing",), []), (("balanc",), [("imbalance",)]),
            (("functional",), [("torque",), ("speed",), ("current",)]), (("thermal cycling",), []),
            (("vibration",), [("grms",), ("resonance",)]), (("thermal vacuum", "tvac"), [("pressure",), ("shroud",)]),
            (("run-in", "run in"), []), (("acceptance",), [])]),
    2: (2, [(("optics",), []), (("focal",), []), (("calibration",), [("accuracy",)]), (("thermal cycling",), []),
            (("vibration",), []), (("thermal vacuum", "tvac"), []), (("acceptance",), [])]),
    3: (1, [(("winding",), [("tension",)]), (("splic",), [("splice_loss", "loss")]),
            (("bias",), [("bias_stability",)]), (("thermal",), []), (("vibration",), []), (("acceptance",), [])]),
    4: (4, [(("bonding",), []), (("calibration",), [("accuracy",)]), (("thermal cycling",), []),
            (("acceptance",), [])]),
    5: (2, [(("assembly",), []), (("calibration",), [("offset",)]), (("thermal",), []), (("acceptance",), [])]),
    6: (3, [(("winding",), []), (("dipole",), [("dipole",)]), (("insulation",), [("insulation",)]),
            (("acceptance",), [])]),
    7: (2, [(("smt", "reflow"), [("peak",), ("liquidus",)]), (("aoi", "optical inspection"), []),
            (("x-ray", "xray"), []), (("coating",), [("thickness",)]),
            (("burn-in", "burn in"), [("hours", "duration")]),
            (("functional",), []), (("thermal vacuum", "tvac"), []), (("acceptance",), [])]),
    8: (1, [(("smt", "reflow"), []), (("aoi", "optical inspection"), []), (("hi-pot", "insulation"), []),
            (("load",), [("efficiency",)]), (("thermal",), []), (("acceptance",), [])]),
    9: (2, [(("screening", "matching"), [("capacity",), ("internal_resistance", "resistance")]),
            (("module assembly",), []), (("cycling",), []), (("vibration",), []), (("thermal vacuum", "tvac"), []),
            (("acceptance",), [])]),
    10: (2, [(("gear", "slip"), []), (("torque",), [("torque",)]), (("run-in", "run in"), []),
             (("thermal vacuum", "tvac"), []), (("acceptance",), [])]),
    11: (2, [(("smt", "reflow"), []), (("rf tuning", "tuning"), [("output_power", "power"), ("frequency",)]),
             (("thermal",), []), (("vibration",), []), (("thermal vacuum", "tvac"), []), (("acceptance",), [])]),
    12: (1, [(("smt", "reflow"), []), (("rf tuning", "tuning"), []), (("thermal vacuum", "tvac"), []),
             (("acceptance",), [])]),
    13: (2, [(("smt", "reflow"), []), (("rf test",), [("sensitivity",)]), (("thermal",), []), (("acceptance",), [])]),
    14: (1, [(("assembly",), []), (("hot-fire", "hot fire"), [("thrust",), ("specific_impulse", "isp")]),
             (("vibration",), []), (("acceptance",), [])]),
    15: (1, [(("smt", "reflow"), []), (("accelerator",), []), (("burn-in", "burn in"), [("hours", "duration")]),
             (("functional",), [("throughput",), ("power",)]), (("thermal vacuum", "tvac"), []),
             (("acceptance",), [])]),
}


@pytest.mark.parametrize("number", sorted(DOMAIN_TABLE))
def test_routing_has_every_named_step_and_measured_value_in_order(plant_config, number: int) -> None:
    line = next(ln.config for ln in plant_config.lines if ln.config.line.number == number)
    quantity, expected_steps = DOMAIN_TABLE[number]
    assert line.unit_type.qty_per_satellite == quantity
    steps = line.routing.steps
    position = 0
    for words, values in expected_steps:
        found = next((i for i in range(position, len(steps))
                      if any(w in f"{steps[i].name} {steps[i].code}".lower() for w in words)), None)
        assert found is not None, f"line {number}: no step {words} after step {position} in {[s.name for s in steps]}"
        names = [c.name.lower() for c in steps[found].characteristics]
        for value_words in values:
            assert any(w in n for w in value_words for n in names), (
                f"line {number} step {steps[found].code}: no characteristic like {value_words} in {names}")
        position = found + 1
    assert steps[-1].code.endswith("-ACC") and steps[-1].signoff, "every routing ends with a signed acceptance"


@pytest.mark.parametrize("number", sorted(DOMAIN_TABLE))
def test_every_variable_characteristic_has_a_unit_and_a_limit(plant_config, number: int) -> None:
    line = next(ln.config for ln in plant_config.lines if ln.config.line.number == number)
    for step in line.routing.steps:
        for c in step.characteristics:
            if c.kind == "variable":
                assert c.unit and (c.lower is not None or c.upper is not None), f"{step.code}.{c.name}"
