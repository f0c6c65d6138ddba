"""A hypothesis state machine drives random sequences of shop-floor and quality actions against a simple
model of the rules, and checks after every action that the MES agreed and that the invariants hold."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from mes import deviations, execution, quality, signoff, workorders
from mes.audit_verify import verify
from mes.errors import MesError
from mes.models import Hold, RoutingStep, utcnow
from mes.models.production import Nonconformance, Unit
from tests.factories import fit_components, good_values, user_id


def out_of_limits(c) -> str:  # type: ignore[no-untyped-def]
    """A value that fails the characteristic: far below its lower limit, else far above its upper."""
    return "-99999" if c.lower is not None else "99999"


ROUTING = ("RWA-ASM", "RWA-BAL", "RWA-FT", "RWA-TC", "RWA-VIB", "RWA-TVAC", "RWA-RUNIN", "RWA-ACC")
SIGNOFF = {"RWA-ASM", "RWA-ACC"}


@dataclass
class ModelUnit:
    """What the rules say about one unit."""

    seq: int = 1  # 1-based position of the next step
    state: str = "in_work"  # in_work | ready | accepted | scrapped
    in_step: bool = False
    awaiting_buyoff: str | None = None
    ncrs: dict[str, tuple[int | None, str]] = field(default_factory=dict)  # number -> (failed seq, status)
    holds: int = 0
    deviations: set[str] = field(default_factory=set)  # steps whose out-of-limit value a deviation lets pass

    @property
    def on_hold(self) -> bool:
        return bool(self.ncrs) or self.holds > 0


class ShopFloor(RuleBasedStateMachine):
    def __init__(self, sessions, people) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.sessions, self.people = sessions, people
        self.units: dict[str, ModelUnit] = {}
        with sessions() as session:
            self.steps = {s.code: s for s in session.scalars(
                select(RoutingStep).where(RoutingStep.code.in_(ROUTING)).options(
                    selectinload(RoutingStep.stations), selectinload(RoutingStep.characteristics)))}

    def act(self, allowed: bool, action) -> object:  # type: ignore[no-untyped-def]
        """Run `action` in one transaction; the MES must do it exactly when the model allows it."""
        try:
            with self.sessions.begin() as session:
                result = action(session)
        except MesError as exc:
            assert not allowed, f"refused although the rules allow it: {exc.message}"
            return None
        assert allowed, "done although the rules forbid it"
        return result

    def uid(self, session, who: str) -> int:  # type: ignore[no-untyped-def]
        return user_id(session, self.people[who])

    @rule(count=st.integers(1, 3))
    def release(self, count: int) -> None:
        with self.sessions.begin() as session:
            order = workorders.release_work_order(session, self.uid(session, "sup"), "RWA", count, date(2099, 1, 1))
            for u in order.units:
                self.units[u.serial] = ModelUnit()

    def pick(self, data, condition=lambda u: True) -> str | None:  # type: ignore[no-untyped-def]
        serials = sorted(s for s, u in self.units.items() if condition(u))
        return data.draw(st.sampled_from(serials)) if serials else None

    @precondition(lambda self: self.units)
    @rule(data=st.data(), wrong_step=st.booleans())
    def start(self, data, wrong_step: bool) -> None:  # type: ignore[no-untyped-def]
        serial = self.pick(data)
        u = self.units[serial]
        code = ROUTING[(u.seq % len(ROUTING)) if wrong_step else u.seq - 1]
        previous = ROUTING[u.seq - 2] if u.seq > 1 else None
        allowed = (u.state == "in_work" and not u.on_hold and not u.in_step and not wrong_step
                   and not (previous and u.awaiting_buyoff == previous))
        if self.act(allowed, lambda s: self.start_and_fit(s, serial, self.steps[code])) is not None:
            u.in_step = True

    def start_and_fit(self, session, serial: str, step: RoutingStep) -> object:  # type: ignore[no-untyped-def]
        """Start the step at its first station and, once started, scan what its bill of material names."""
        uid = self.uid(session, "op")
        started = execution.start_step(session, uid, serial, step.code, step.stations[0].code)
        fit_components(session, uid, serial, step)
        return started

    @precondition(lambda self: any(u.in_step for u in self.units.values()))
    @rule(data=st.data(), passes=st.booleans())
    def complete(self, data, passes: bool) -> None:  # type: ignore[no-untyped-def]
        serial = self.pick(data, lambda u: u.in_step)
        u = self.units[serial]
        code = ROUTING[u.seq - 1]
        values = good_values(self.steps[code])
        if not passes:
            c = next(c for c in self.steps[code].characteristics if c.kind == "variable")
            values[c.name] = out_of_limits(c)
            passes = code in u.deviations
        done = self.act(True, lambda s: execution.complete_step(s, self.uid(s, "op"), serial, code, values))
        u.in_step = False
        if passes:
            u.awaiting_buyoff = code if code in SIGNOFF else None
            if u.seq == len(ROUTING):
                u.state = "ready"
            else:
                u.seq += 1
        else:
            u.awaiting_buyoff = None
            u.ncrs[done.ncr.number] = (u.seq, "open")  # type: ignore[attr-defined]

    @precondition(lambda self: any(u.state == "in_work" for u in self.units.values()))
    @rule(data=st.data())
    def grant_deviation(self, data) -> None:  # type: ignore[no-untyped-def]
        serial = self.pick(data, lambda u: u.state == "in_work")
        u = self.units[serial]
        code = ROUTING[u.seq - 1]
        c = next(c for c in self.steps[code].characteristics if c.kind == "variable")
        value, now = out_of_limits(c), utcnow()
        self.act(True, lambda s: deviations.create_deviation(
            s, self.uid(s, "qe1"), "1234", code, c.name, value, value, now + timedelta(days=1), "concession",
            serials=[serial], valid_from=now - timedelta(minutes=1)))
        u.deviations.add(code)

    @precondition(lambda self: any(u.awaiting_buyoff for u in self.units.values()))
    @rule(data=st.data())
    def buy_off(self, data) -> None:  # type: ignore[no-untyped-def]
        serial = self.pick(data, lambda u: u.awaiting_buyoff is not None)
        u = self.units[serial]
        self.act(True, lambda s: signoff.buy_off(s, self.uid(s, "qe1"), serial, u.awaiting_buyoff, "1234"))
        u.awaiting_buyoff = None

    @precondition(lambda self: any(n[1] == "open" for u in self.units.values() for n in u.ncrs.values()))
    @rule(data=st.data(), decision=st.sampled_from(["rework", "scrap", "use_as_is"]))
    def disposition(self, data, decision: str) -> None:  # type: ignore[no-untyped-def]
        serial = self.pick(data, lambda u: any(n[1] == "open" for n in u.ncrs.values()))
        u = self.units[serial]
        number = next(k for k, n in sorted(u.ncrs.items()) if n[1] == "open")
        failed = u.ncrs[number][0]
        target = ROUTING[(failed or min(u.seq, len(ROUTING))) - 1]
        allowed = decision == "scrap" or not u.in_step
        note = "justified by analysis" if decision == "use_as_is" else ""
        if self.act(allowed, lambda s: quality.disposition(s, self.uid(s, "qe1"), number, decision, "1234",
                                                           target if decision == "rework" else None, note)) is None:
            return
        if decision == "use_as_is":
            u.ncrs[number] = (failed, "awaiting_mrb")
            return
        del u.ncrs[number]
        if decision == "scrap":
            u.state, u.in_step, u.awaiting_buyoff, u.ncrs = "scrapped", False, None, {}
        elif u.state != "scrapped":
            u.seq, u.state = ROUTING.index(target) + 1, "in_work"

    @precondition(lambda self: any(n[1] == "awaiting_mrb" for u in self.units.values() for n in u.ncrs.values()))
    @rule(data=st.data())
    def mrb_approve(self, data) -> None:  # type: ignore[no-untyped-def]
        serial = self.pick(data, lambda u: any(n[1] == "awaiting_mrb" for n in u.ncrs.values()))
        u = self.units[serial]
        number = next(k for k, n in sorted(u.ncrs.items()) if n[1] == "awaiting_mrb")
        failed = u.ncrs[number][0]
        self.act(True, lambda s: quality.mrb_approve(s, self.uid(s, "qe2"), number, "1234"))
        del u.ncrs[number]
        if u.state == "in_work" and failed is not None and failed == u.seq:
            if u.seq == len(ROUTING):
                u.state = "ready"
            else:
                u.seq += 1

    @precondition(lambda self: self.units)
    @rule(data=st.data())
    def raise_ncr(self, data) -> None:  # type: ignore[no-untyped-def]
        serial = self.pick(data)
        u = self.units[serial]
        ncr = self.act(u.state != "scrapped", lambda s: quality.open_ncr(s, self.uid(s, "op"), serial, "DMG", "dent"))
        if ncr is not None:
            u.ncrs[ncr.number] = (None, "open")  # type: ignore[attr-defined]

    @precondition(lambda self: self.units)
    @rule(data=st.data(), release=st.booleans())
    def hold_or_release(self, data, release: bool) -> None:  # type: ignore[no-untyped-def]
        serial = self.pick(data)
        u = self.units[serial]
        if release:
            if self.act(u.holds > 0, lambda s: quality.release_holds(s, self.uid(s, "sup"), serial, "ok")):
                u.holds = 0
        elif self.act(u.state != "scrapped", lambda s: quality.place_hold(s, self.uid(s, "op"), serial, "check")):
            u.holds += 1

    @precondition(lambda self: self.units)
    @rule(data=st.data())
    def accept(self, data) -> None:  # type: ignore[no-untyped-def]
        serial = self.pick(data)
        u = self.units[serial]
        allowed = u.state == "ready" and not u.on_hold and u.awaiting_buyoff is None
        if self.act(allowed, lambda s: signoff.accept(s, self.uid(s, "qe2"), serial, "1234")) is not None:
            u.state = "accepted"

    @invariant()
    def database_agrees_with_the_model(self) -> None:
        with self.sessions() as session:
            for serial, expected in self.units.items():
                unit = session.scalars(select(Unit).filter_by(serial=serial)).one()
                open_ncrs = session.scalar(select(func.count()).select_from(Nonconformance).where(
                    Nonconformance.unit_id == unit.id, Nonconformance.status.in_(("open", "awaiting_mrb"))))
                holds = session.scalar(select(func.count()).select_from(Hold).where(
                    Hold.unit_id == unit.id, Hold.released_at.is_(None)))
                assert unit.on_hold == bool(open_ncrs or holds), "a unit is held exactly while an NCR or hold stands"
                assert unit.status == expected.state and unit.on_hold == expected.on_hold
                assert (unit.current_execution_id is not None) == expected.in_step
                if unit.status == "accepted":
                    assert open_ncrs == 0 and unit.acceptance_signature_id is not None
                if unit.status == "in_work" and not expected.in_step:
                    assert unit.next_sequence == expected.seq


def test_random_shop_floor_sequences_never_break_the_rules(sessions, make_user, audit_config) -> None:
    people = {"op": make_user("operator"), "sup": make_user("supervisor"), "qe1": make_user("quality"),
              "qe2": make_user("quality")}
    run_state_machine_as_test(lambda: ShopFloor(sessions, people), settings=settings(
        max_examples=25, stateful_step_count=50, deadline=None, derandomize=True,
        suppress_health_check=list(HealthCheck)))
    with sessions() as session:
        verdict = verify(session, audit_config)
    assert verdict.ok, verdict.problem
