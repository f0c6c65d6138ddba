"""`mes demo`: months of plausible history, seeded once, through the services, on the shift calendar."""
from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mes.audit_verify import verify
from mes.cli import main
from mes.consumption import shortfall
from mes.demo_calendar import WorkCalendar
from mes.demo_telemetry import HOLD_MINUTES, MINUTE_DAYS, RAW_HOURS
from mes.demo_values import Spec, StepValues, model_for
from mes.models import (
    Allocation,
    BomItem,
    Calendar,
    Calibration,
    Consumption,
    CounterState,
    Deviation,
    Hold,
    Machine,
    MachineRun,
    MachineState,
    NcrDisposition,
    ProductionCount,
    ReceivedItem,
    RoutingStep,
    Sample,
    Satellite,
    Signature,
    StepEvent,
    StepExecution,
    Tag,
    TagRollup,
    Unit,
    UnitType,
    UserQualification,
    WorkOrder,
)
from mes.models.production import Measurement, Nonconformance
from tests.conftest import CONFIG_DIR

ZONE = ZoneInfo("Asia/Shanghai")
DAYS = 35  # long enough for the first units of every line to be accepted and a satellite kitted
QUALITY = {"qe.chen", "qe.liu"}
# A fixed window (five ordinary working weeks) so the test does not depend on the day it runs.
UNTIL = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
HOLIDAYS = timedelta(days=12)  # the longest quality may be away (Spring Festival): buy-offs wait at most that


@pytest.fixture
def mes(database_url, engine, tmp_path):  # type: ignore[no-untyped-def]
    """Run `mes ...` against the test database; returns the click result."""
    env = {"MES_DATABASE_URL": database_url, "MES_INSTANCE_PATH": str(tmp_path / "instance"),
           "MES_SECRET_KEY": "test", "MES_CONFIG_DIR": str(CONFIG_DIR)}

    def run(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return run


def test_demo_seeds_history_through_the_services_once(mes, sessions, audit_config) -> None:
    begun = UNTIL
    first = mes("demo", "--days", str(DAYS), "--no-serve", "--seed", "3", "--until", UNTIL.strftime("%Y-%m-%dT%H:%M"))
    assert first.exit_code == 0, first.output
    assert f"seeding {DAYS} days" in first.output and "history seeded" in first.output
    assert "refused" not in first.output
    assert "dispositions: rework" in first.output and "expired qualifications" in first.output
    assert "rejected at receiving inspection" in first.output and "fully kitted" in first.output
    assert "op.li" in first.output and "PIN 1001" in first.output and "http://127.0.0.1:8000/" in first.output
    assert "machine telemetry to match seeded" in first.output and "hourly" in first.output
    with sessions() as session:
        units_moved_through_their_routings(session)
        chambers_ran_several_units(session)
        failures_have_ncrs_and_ncrs_hold_units(session)
        quality_dispositioned_ncrs_each_way(session)
        deviations_and_instruments_were_used(session)
        operators_worked_only_steps_they_were_qualified_for(session)
        buy_offs_are_by_quality_and_not_by_the_workers(session)
        ready_units_were_accepted(session)
        nothing_is_in_the_future(session, begun, datetime.now(UTC))
        manual_work_and_signatures_happened_on_shift(session)
        values_keep_the_decimals_of_their_limits(session)
        first_pass_yields_are_plausible(session)
        material_was_received_inspected_and_returned(session)
        consuming_steps_built_in_their_bill_of_material(session)
        satellites_were_kitted_with_accepted_units(session)
        machine_states_follow_the_step_history(session)
        machine_counts_agree_with_the_step_records(session)
        process_values_have_a_past(session)
        verdict = verify(session, audit_config)  # the key and checkpoints of the instance the demo used
        assert verdict.ok and verdict.rows > 1000, verdict
        orders = session.scalar(select(func.count()).select_from(WorkOrder))

    second = mes("demo", "--days", str(DAYS), "--no-serve")
    assert second.exit_code == 0, second.output
    assert "not seeding again" in second.output and "history seeded" not in second.output
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(WorkOrder)) == orders
    assert mes("audit", "verify").output.startswith("audit trail intact")


def units_moved_through_their_routings(session: Session) -> None:
    """Units walked their routings in order, each record after the one before; NCRs sent some back."""
    units = session.scalars(select(Unit)).all()
    assert len(units) > 50
    assert any(u.status == "accepted" for u in units) and any(u.status == "in_work" and not u.on_hold for u in units)
    sequence = {s.id: s.sequence for s in session.scalars(select(RoutingStep))}
    with_ncr = set(session.scalars(select(Nonconformance.unit_id)))
    for unit in units:
        assert unit.created_at >= unit.work_order.released_at
        previous_end, previous_sequence = unit.created_at, 0
        for e in sorted(unit.executions, key=lambda e: e.started_at):
            # The next step, or (after an NCR's rework or repair) the same or an earlier one.
            here = sequence[e.step_id]
            assert here == previous_sequence + 1 or (here <= previous_sequence and unit.id in with_ncr), unit.serial
            assert e.started_at > previous_end and (e.ended_at is None or e.ended_at > e.started_at), unit.serial
            previous_end, previous_sequence = e.ended_at or e.started_at, sequence[e.step_id]


def chambers_ran_several_units(session: Session) -> None:
    """Machine-run steps ran as machine runs, several units at a time, never more than the machine holds."""
    runs = session.scalars(select(MachineRun)).all()
    sizes = [len(r.executions) for r in runs]
    assert runs and max(sizes) >= 3 and sum(n >= 2 for n in sizes) >= len(runs) / 3
    assert all(len(r.executions) <= r.machine.positions for r in runs)
    machine_run = {s.id: s.machine_run for s in session.scalars(select(RoutingStep))}
    for e in session.scalars(select(StepExecution)):
        assert (e.run_id is not None) == machine_run[e.step_id], e.step_code


def failures_have_ncrs_and_ncrs_hold_units(session: Session) -> None:
    """Every failed step opened an NCR; a unit is on hold exactly while an NCR or hold on it is open."""
    failed = session.scalars(select(StepExecution).filter_by(status="failed")).all()
    ncrs = session.scalars(select(Nonconformance)).all()
    by_execution = {n.execution_id: n for n in ncrs if n.execution_id is not None}
    assert failed and len(by_execution) == len(failed)
    assert all(by_execution[e.id].unit_id == e.unit_id for e in failed)
    assert any(n.execution_id is None and n.defect_code in {"DMG", "FOD", "WKM", "DOC"} for n in ncrs)
    open_ncrs = {n.unit_id for n in ncrs if n.status in ("open", "awaiting_mrb")}
    assert open_ncrs, "some NCRs are still open near now"
    held = {h.unit_id for h in session.scalars(select(Hold)) if h.released_at is None}
    assert any(h.released_at is not None for h in session.scalars(select(Hold)))
    for unit in session.scalars(select(Unit)):
        assert unit.on_hold == (unit.id in open_ncrs | held), unit.serial
        assert not unit.on_hold or unit.current_execution_id is None, unit.serial


def quality_dispositioned_ncrs_each_way(session: Session) -> None:
    """Rework, repair, use-as-is and scrap all occur; MRB decisions carry a second, different signature."""
    dispositions = session.scalars(select(NcrDisposition)).all()
    assert {d.decision for d in dispositions} >= {"rework", "repair", "use_as_is", "scrap"}
    approved = [d for d in dispositions if d.mrb_signature_id is not None]
    assert approved
    for d in dispositions:
        ncr = session.get(Nonconformance, d.ncr_id)
        assert d.signature.at >= ncr.opened_at and d.signature.user.name in QUALITY
        if d.decision in ("repair", "use_as_is"):
            assert d.note.strip()
            assert ncr.status == ("closed" if d.mrb_signature_id else "awaiting_mrb")
        if d.mrb_signature is not None:
            assert d.mrb_signature.user_id != d.signature.user_id and d.mrb_signature.at > d.signature.at
        if d.decision == "scrap":
            assert ncr.unit.status == "scrapped"
    reworked = session.scalars(select(StepExecution.unit_id).where(StepExecution.rework).distinct()).all()
    assert reworked, "reworked units went through steps again"


def deviations_and_instruments_were_used(session: Session) -> None:
    deviation = session.scalars(select(Deviation)).first()
    assert deviation is not None and deviation.signature.user.name in QUALITY
    assert deviation.serials or deviation.work_order_id
    used = session.scalars(select(Measurement).where(Measurement.instrument_id.is_not(None))).all()
    assert used and {m.name for m in used} & {"mass", "retaining_nut_torque", "output_power"}


def operators_worked_only_steps_they_were_qualified_for(session: Session) -> None:
    """Someone's qualification lapsed; after that nobody started a step that needs it."""
    held = {(q.user_id, q.qualification_code): q.valid_until for q in session.scalars(select(UserQualification))}
    assert any(until < date.today() for until in held.values()), "an expired qualification"
    required = {s.id: s.qualifications for s in session.scalars(select(RoutingStep))}
    for event in session.scalars(select(StepEvent).filter_by(kind="start")):
        day = event.at.astimezone(ZONE).date()
        for code in required[event.execution.step_id]:
            assert held.get((event.user_id, code), date.min) >= day, (event.user.name, code, day)


def buy_offs_are_by_quality_and_not_by_the_workers(session: Session) -> None:
    """Every signed-off step that passed and was followed by more work was bought off by someone else."""
    bought = session.scalars(select(StepExecution).where(StepExecution.buyoff_signature_id.is_not(None))).all()
    assert bought
    for e in bought:
        signature = session.get(Signature, e.buyoff_signature_id)
        assert signature.user.name in QUALITY and signature.user_id not in {ev.user_id for ev in e.events}
        assert e.ended_at < signature.at < e.ended_at + HOLIDAYS


def ready_units_were_accepted(session: Session) -> None:
    accepted = session.scalars(select(Unit).filter_by(status="accepted")).all()
    assert accepted
    for unit in accepted:
        signature = session.get(Signature, unit.acceptance_signature_id)
        last = max(e.ended_at for e in unit.executions)
        assert signature.user.name in QUALITY and timedelta(hours=12) < signature.at - last < HOLIDAYS


def nothing_is_in_the_future(session: Session, begun: datetime, now: datetime) -> None:
    """Every seeded time lies in the window, none after the seeding began (nor after now)."""
    columns = (WorkOrder.released_at, Unit.created_at, StepExecution.started_at, StepExecution.ended_at,
               StepEvent.at, Measurement.recorded_at, Nonconformance.opened_at, Nonconformance.closed_at,
               MachineRun.started_at, MachineRun.ended_at, Signature.at, Hold.placed_at, Deviation.valid_from,
               Calibration.calibrated_at, ReceivedItem.received_at, Consumption.consumed_at, Satellite.created_at,
               Allocation.allocated_at)
    for column in columns:
        latest, earliest = session.execute(select(func.max(column), func.min(column))).one()
        assert latest is not None and latest <= min(begun, now), column
        assert (begun - earliest).days <= DAYS + 1, column


def manual_work_and_signatures_happened_on_shift(session: Session) -> None:
    """Manual steps start, pause and resume, and quality signs, within the assembly shifts."""
    days_off = {date.fromisoformat(d) for d in session.scalars(select(Calendar).filter_by(name="ASSEMBLY")).one()
                .days_off}
    events = session.scalars(select(StepEvent).join(StepExecution).where(StepExecution.run_id.is_(None))
                             .where(StepEvent.kind.in_(("start", "pause", "resume", "handover")))).all()
    assert any(e.kind == "handover" for e in events)
    for at in [e.at for e in events] + list(session.scalars(select(Signature.at))):
        local = at.astimezone(ZONE)
        assert local.weekday() < 5 and local.date() not in days_off and local.hour >= 8, local


def values_keep_the_decimals_of_their_limits(session: Session) -> None:
    for m in session.scalars(select(Measurement).where(Measurement.value.is_not(None))):
        assert places(m.value_text) >= max(places(t) for t in (m.nominal, m.lower, m.upper)), (m.name, m.value_text)
    torques = session.scalars(select(Measurement.value_text).filter_by(name="retaining_nut_torque")).all()
    assert torques and all(len(t.split(".")[1]) == 2 for t in torques)


def first_pass_yields_are_plausible(session: Session) -> None:
    """First executions of each step pass at 85-99 % (over steps with enough units to tell)."""
    rows = session.execute(select(StepExecution.step_code, StepExecution.status)
                           .where(StepExecution.rework.is_(False), StepExecution.status.in_(("passed", "failed"))))
    tally: dict[str, list[int]] = {}
    for code, status in rows:
        tally.setdefault(code, [0, 0])[status == "passed"] += 1
    total = [sum(t[0] for t in tally.values()), sum(t[1] for t in tally.values())]
    assert 0.85 <= total[1] / sum(total) <= 0.99, total


def material_was_received_inspected_and_returned(session: Session) -> None:
    """Lots and serials came from named suppliers with a CoC; quality released most, rejected one at receiving
    inspection, and returned a released lot to its supplier under an NCR."""
    items = session.scalars(select(ReceivedItem)).all()
    statuses = Counter(i.status for i in items)
    assert statuses["released"] > 50 and statuses["rejected"] >= 1 and statuses["returned"] >= 1, statuses
    assert {i.part.tracking for i in items} == {"lot", "serial"}
    for part_number, group in _by_part(items).items():
        assert len({i.supplier for i in group}) <= 3, part_number  # a few suppliers per part
    for item in items:
        assert item.supplier.strip() and item.coc_reference.strip(), item.identifier
        assert (item.expiry is not None) == item.part.part_number.startswith(("CEL-", "POT-", "TPD-")), item.identifier
        if item.expiry is not None:
            assert item.expiry > item.received_at.astimezone(ZONE).date() + timedelta(days=90)
        if item.status == "quarantine":
            continue
        signature = session.get(Signature, item.decision_signature_id)
        assert signature.user.name in QUALITY and signature.at > item.received_at, item.identifier
        assert signature.meaning == ("rejected" if item.status == "rejected" else "approved")
    for item in (i for i in items if i.status == "returned"):
        assert item.part.tracking == "lot" and item.remaining == item.quantity  # none of it was used
        ncr = session.scalars(select(Nonconformance).filter_by(received_item_id=item.id)).one()
        decision = session.scalars(select(NcrDisposition).filter_by(ncr_id=ncr.id)).one()
        assert decision.decision == "return_to_supplier" and decision.signature.user.name in QUALITY
        assert ncr.status == "closed" and ncr.opened_at > session.get(Signature, item.decision_signature_id).at


def _by_part(items: list[ReceivedItem]) -> dict[str, list[ReceivedItem]]:
    grouped: dict[str, list[ReceivedItem]] = defaultdict(list)
    for item in items:
        grouped[item.part.part_number].append(item)
    return grouped


def consuming_steps_built_in_their_bill_of_material(session: Session) -> None:
    """Every passed step with a bill of material holds all of it; each component was scanned while the step
    ran, from released, unexpired stock, lots drawn down first in first out, each serial once."""
    consuming = set(session.scalars(select(BomItem.step_id)))
    passed = session.scalars(select(StepExecution).where(StepExecution.step_id.in_(consuming),
                                                         StepExecution.status == "passed")).all()
    assert len(passed) > 50
    for e in passed:
        assert shortfall(session, e) == [], (e.unit.serial, e.step_code)
    consumptions = session.scalars(select(Consumption).order_by(Consumption.consumed_at, Consumption.id)).all()
    assert consumptions and all(c.received_item_id is not None for c in consumptions)
    released_at = {i.id: session.get(Signature, i.decision_signature_id).at
                   for i in session.scalars(select(ReceivedItem).where(ReceivedItem.status.in_(("released",))))}
    latest_lot: dict[int, datetime] = {}  # part id -> release time of the newest lot drawn from so far
    serials = Counter(c.received_item_id for c in consumptions if c.received_item.part.tracking == "serial")
    assert serials and max(serials.values()) == 1
    for c in consumptions:
        e, item = c.execution, c.received_item
        assert e.step_id in consuming and e.started_at < c.consumed_at and (e.ended_at is None
                                                                            or c.consumed_at < e.ended_at)
        assert item.id in released_at and released_at[item.id] < c.consumed_at, item.identifier
        assert item.expiry is None or item.expiry >= c.consumed_at.astimezone(ZONE).date()
        if item.part.tracking == "lot":  # never back to an older lot once a newer one is in use
            assert released_at[item.id] >= latest_lot.get(item.part_id, released_at[item.id]), item.identifier
            latest_lot[item.part_id] = released_at[item.id]
    remaining = {i.id: i.remaining for i in session.scalars(select(ReceivedItem))}
    used: Counter[int] = Counter()
    for c in consumptions:
        used[c.received_item_id] += c.quantity
    for item_id, quantity in used.items():
        assert session.get(ReceivedItem, item_id).quantity - remaining[item_id] == quantity


def satellites_were_kitted_with_accepted_units(session: Session) -> None:
    """CompSat-1 builds due over the coming year; at least one has all its positions filled with accepted units,
    allocated by quality or the supervisor after acceptance."""
    builds = session.scalars(select(Satellite).order_by(Satellite.build)).all()
    assert [b.build for b in builds] == [f"CS1-{n:03d}" for n in range(1, 9)]
    assert {b.programme for b in builds} == {"CompSat-1"}
    today = UNTIL.astimezone(ZONE).date()
    assert all(today < b.need_date <= today + timedelta(days=366) for b in builds)
    positions = sum(session.scalars(select(UnitType.qty_per_satellite)))
    filled: Counter[int] = Counter()
    for a in session.scalars(select(Allocation).where(Allocation.removed_at.is_(None))):
        filled[a.satellite_id] += 1
        assert a.unit.status == "accepted" and a.allocated_by.name in QUALITY | {"sup.wang"}
        assert a.allocated_at > session.get(Signature, a.unit.acceptance_signature_id).at
    assert positions == 30 and max(filled.values()) == positions, filled
    assert len(filled) >= 2  # others are being kitted too


def machine_states_follow_the_step_history(session: Session) -> None:
    """Every machine with a state or running tag has back-to-back state intervals over the window, the last one
    open (Execute exactly where a step still runs there); a machine was executing whenever a step ran on it,
    apart from one short stop at most; idle machines were sometimes stopped."""
    start = datetime.combine(UNTIL.astimezone(ZONE).date() - timedelta(days=DAYS), datetime.min.time(),
                             tzinfo=ZONE).astimezone(UTC)
    reporting = set(session.scalars(select(Tag.machine_id).where(Tag.meaning.in_(("state", "running")))))
    intervals: dict[int, list[MachineState]] = defaultdict(list)
    for s in session.scalars(select(MachineState).order_by(MachineState.machine_id, MachineState.started_at)):
        intervals[s.machine_id].append(s)
    assert set(intervals) == reporting
    running = set(session.scalars(select(StepExecution.machine_id).where(StepExecution.status == "running")))
    for machine_id, states in intervals.items():
        assert states[0].started_at == start and states[-1].ended_at is None
        assert all(a.ended_at == b.started_at and a.state != b.state for a, b in itertools.pairwise(states))
        assert states[-1].state == ("Execute" if machine_id in running else "Idle")
    assert any(states[-1].state == "Execute" for states in intervals.values())
    assert {s.state for states in intervals.values() for s in states} >= {"Execute", "Idle", "Held", "Stopped"}
    rng = random.Random(4)
    executions = session.scalars(select(StepExecution).where(StepExecution.machine_id.is_not(None),
                                                             StepExecution.ended_at.is_not(None))).all()
    assert len(executions) > 200
    for e in rng.sample(executions, 200):
        worked = [(a.at, b.at) for a, b in itertools.pairwise(e.events)
                  if a.kind in ("start", "resume", "handover") and b.kind in ("pause", "complete", "abort")]
        assert worked, e.id
        for begun, ended in worked:
            overlapping = [s for s in intervals[e.machine_id]
                           if s.started_at < ended and (s.ended_at is None or s.ended_at > begun)]
            assert overlapping[0].state == "Execute" and overlapping[0].started_at <= begun, (e.step_code, begun)
            stopped = [s for s in overlapping if s.state != "Execute"]
            assert len(stopped) <= 1 and all(s.ended_at - s.started_at <= timedelta(minutes=HOLD_MINUTES[1])
                                             for s in stopped), (e.step_code, begun, stopped)


def machine_counts_agree_with_the_step_records(session: Session) -> None:
    """On machines with part counters: one good part per passed execution there, one reject per failed one, at
    its end; the first live counter value will be a baseline (no counter state is seeded)."""
    counting = {t.machine_id: t.meaning for t in session.scalars(select(Tag).where(Tag.meaning == "good_count"))}
    assert len(counting) > 10
    expected: Counter[tuple[int, str, datetime]] = Counter()
    for machine_id, status, ended in session.execute(select(
            StepExecution.machine_id, StepExecution.status, StepExecution.ended_at).where(
            StepExecution.machine_id.in_(counting), StepExecution.status.in_(("passed", "failed")))):
        expected[(machine_id, "good" if status == "passed" else "reject", ended)] += 1
    counted = {(c.machine_id, c.kind, c.at): c.delta for c in session.scalars(select(ProductionCount))}
    assert counted == dict(expected) and sum(counted.values()) > 200
    assert session.scalar(select(func.count()).select_from(CounterState)) == 0


def process_values_have_a_past(session: Session) -> None:
    """Every numeric process value has an hourly rollup for each hour of the window, minute rollups for the
    last days and raw samples for the last hours, each rollup what its samples imply; values stay plausible
    and chambers run hotter and pumped down while executing."""
    start = datetime.combine(UNTIL.astimezone(ZONE).date() - timedelta(days=DAYS), datetime.min.time(),
                             tzinfo=ZONE).astimezone(UTC)
    hours = (UNTIL - start) // timedelta(hours=1)
    values = session.scalars(select(Tag).where(Tag.meaning == "process_value")).all()
    assert len(values) > 50
    hourly = dict(session.execute(select(TagRollup.tag_id, func.count()).where(  # type: ignore[arg-type]
        TagRollup.resolution == "hour").group_by(TagRollup.tag_id)).all())
    assert hourly == {t.id: hours for t in values}
    latest = session.scalar(select(func.max(TagRollup.bucket)).where(TagRollup.resolution == "minute"))
    assert UNTIL - timedelta(minutes=2) <= latest < UNTIL
    earliest = session.scalar(select(func.min(TagRollup.bucket)).where(TagRollup.resolution == "minute"))
    assert earliest >= UNTIL - timedelta(days=MINUTE_DAYS, minutes=1)
    raw = session.execute(select(func.min(Sample.source_time), func.max(Sample.source_time))).one()
    assert raw[0] >= UNTIL - timedelta(hours=RAW_HOURS, minutes=1) and raw[1] < UNTIL
    tag = next(t for t in values if t.name == "shroud_temp" and t.machine.code == "RWA-TVAC1")
    samples = session.scalars(select(Sample).where(Sample.tag_id == tag.id).order_by(Sample.source_time)).all()
    minutes = {r.bucket: r for r in session.scalars(select(TagRollup).where(
        TagRollup.tag_id == tag.id, TagRollup.resolution == "minute"))}
    assert len(samples) == RAW_HOURS * 60 - 1 or len(samples) == RAW_HOURS * 60
    for sample in samples:
        rollup = minutes[sample.source_time.replace(second=0)]
        assert rollup.count == 1 and rollup.minimum == rollup.maximum == rollup.total == sample.value
    for t in values:
        low, high = (float(x) if x is not None else None for x in (t.low_limit, t.high_limit))
        lowest, highest = session.execute(select(func.min(TagRollup.minimum), func.max(TagRollup.maximum)).where(
            TagRollup.tag_id == t.id, TagRollup.resolution == "hour")).one()
        if low is not None and high is not None:  # near the limits (energised values drop to zero when idle)
            margin = high - low
            assert min(low, 0) - margin <= lowest and highest <= high + margin, (t.machine.code, t.name)
    executing = [s for s in session.scalars(select(MachineState).where(
        MachineState.machine_id == tag.machine_id, MachineState.state == "Execute"))
        if s.ended_at and s.ended_at - s.started_at > timedelta(hours=3)]
    assert executing
    run = executing[-1]
    pressure = next(t for t in values if t.name == "pressure" and t.machine_id == tag.machine_id)
    during = session.execute(select(func.max(TagRollup.maximum), func.min(TagRollup.minimum)).where(
        TagRollup.tag_id == tag.id, TagRollup.resolution == "hour", TagRollup.bucket > run.started_at + timedelta(
            hours=1), TagRollup.bucket < run.ended_at - timedelta(hours=1))).one()
    assert during[0] > 50 and during[1] < -25  # hot and cold plateaus
    vacuum = session.scalar(select(func.min(TagRollup.maximum)).where(
        TagRollup.tag_id == pressure.id, TagRollup.resolution == "hour",
        TagRollup.bucket > run.started_at + timedelta(hours=1), TagRollup.bucket < run.ended_at - timedelta(hours=1)))
    assert vacuum < 0.01


def places(text: str | None) -> int:
    exponent = Decimal(text).as_tuple().exponent if text is not None else 0
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


# --- the parts: calendars and values ---------------------------------------------------------------

def test_the_calendar_knows_shifts_across_midnight_and_days_off(sessions, plant) -> None:
    with sessions() as session:
        assembly = session.scalars(select(Calendar).filter_by(name="ASSEMBLY")).one()
        calendar = WorkCalendar(assembly, ZONE, date(2026, 9, 28), date(2026, 10, 12))
    at = datetime(2026, 9, 30, 23, 30, tzinfo=ZONE)  # Wednesday, late shift, before the National Day week
    shift = calendar.shift_at(at)
    assert shift is not None and shift.index == 1 and shift.end == datetime(2026, 10, 1, tzinfo=ZONE)
    assert calendar.next_shift(shift.end).start == datetime(2026, 10, 8, 8, tzinfo=ZONE)  # days off until the 8th
    assert calendar.shift_at(datetime(2026, 10, 3, 10, tzinfo=ZONE)) is None


@pytest.mark.parametrize("spec", [
    Spec("retaining_nut_torque", "variable", "2.50", "2.40", "2.60"),
    Spec("residual_imbalance", "variable", "0.10", None, "0.50"),
    Spec("cycles_completed", "variable", "8", "8", None),
    Spec("uncorrected_errors", "variable", "0", None, "0"),
    Spec("chamber_pressure", "variable", None, None, "0.001"),
    Spec("insulation_resistance", "variable", None, "100", None),
])
def test_values_are_plausible_and_fail_at_about_the_asked_rate(spec: Spec) -> None:
    rng = random.Random(5)
    model = model_for(spec, 0.05)
    values = [model.draw(rng) for _ in range(4000)]
    failures = sum(not model.passes(v) for v in values) / len(values)
    assert 0.03 < failures < 0.07
    assert all(places(v) >= places(spec.lower) and places(v) >= places(spec.upper) for v in values)
    if spec.lower is None or Decimal(spec.lower) >= 0:
        assert all(Decimal(v) >= 0 for v in values)  # no negative imbalance, pressure or error count


def test_each_step_fails_close_to_its_own_first_pass_yield() -> None:
    rng = random.Random(2)
    specs = [Spec("mass", "variable", "1200", "1180", "1220"), Spec("final_inspection", "pass_fail")]
    for _ in range(20):
        step = StepValues(specs, rng)
        draws = [step.draw(rng) for _ in range(100)]
        passed = sum(all(step.models[n].passes(str(v)) for n, v in d.items()) for d in draws) / 100
        assert 0.85 <= step.first_pass_yield <= 0.99 and abs(passed - step.first_pass_yield) <= 0.025


def test_machines_used_are_the_ones_at_the_steps_stations(sessions, plant) -> None:
    from mes.demo_plan import read_plant

    with sessions() as session:
        plan = read_plant(session, date(2026, 1, 1), date(2026, 1, 31))
        stations = {m.code: m.station.code for m in session.scalars(select(Machine)) if m.station}
    steps = {s.code: s for line in plan.lines for s in line.steps}
    assert len(plan.lines) == 15
    assert [p.machine for p in steps["RWA-TVAC"].places] == ["RWA-TVAC1"]
    assert [p.machine for p in steps["RWA-RUNIN"].places] == ["RWA-RIR1"]
    assert [p.machine for p in steps["OBC-XRAY"].places] == ["OBC-XRY1"]
    assert [p.machine for p in steps["GNSS-SMT"].places] == ["GNSS-RFL1"]  # not taken for GNSS-RF by its name
    for step in steps.values():
        assert all(p.machine is None or stations[p.machine] == p.station for p in step.places)
        assert not step.machine_run or all(p.machine for p in step.places)


# --- the live plant beside the web app ----------------------------------------------------------------

def test_the_demo_runs_the_simulator_and_the_adapters_and_stops_them(settings, sessions, plant, offset) -> None:
    """`mes demo` starts the machine simulator and the adapters as processes: the machines' values reach the
    database, and both processes end cleanly when the demo stops them."""
    import re
    import time

    from mes.demo_live import LivePlant

    with sessions.begin() as session:  # line 1's machines where this test's simulator listens
        for machine in session.scalars(select(Machine).where(Machine.code.like("RWA-%"))):
            machine.endpoint = re.sub(r":(\d+)$", lambda m: f":{int(m.group(1)) + offset}", machine.endpoint)
    live = LivePlant(settings, seed=2, rate=5, lines={1}, port_offset=offset)
    live.start()
    try:
        deadline, reporting = time.monotonic() + 40, 0
        while time.monotonic() < deadline and reporting < 5:
            time.sleep(0.5)
            with sessions() as session:
                reporting = session.scalar(select(func.count(func.distinct(Tag.machine_id))).join(
                    Sample, Sample.tag_id == Tag.id)) or 0
            assert all(code is None for code in live.running().values()), live.running()
        assert reporting == 5, "every machine of line 1 sent values"
        processes = dict(live.children)
    finally:
        live.stop()
    assert {name: p.returncode for name, p in processes.items()} == {"simulator": 0, "adapters": 0}
    with sessions() as session:
        open_states = select(func.count()).select_from(MachineState).where(MachineState.ended_at.is_(None))
        assert session.scalar(open_states) == 5  # each machine's state, from its state tag or running flag


def test_a_second_demo_is_told_its_ports_are_taken(mes) -> None:
    """Before seeding anything: a taken web port or OPC UA port is named, with what to do about it."""
    import socket

    with socket.socket() as web, socket.socket() as machine:
        web.bind(("127.0.0.1", 0))
        web.listen()
        taken = web.getsockname()[1]
        result = mes("demo", "--days", "0", "--port", str(taken))
        assert result.exit_code == 1 and f"cannot serve the web app on 127.0.0.1:{taken}" in result.output
        assert "another `mes demo`" in result.output and "--port" in result.output
        try:
            machine.bind(("127.0.0.1", 48011))  # RWA-BAL1's endpoint (unless a demo already holds it)
            machine.listen()
        except OSError:
            pass
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        result = mes("demo", "--days", "0", "--port", str(free))
        assert result.exit_code == 1 and "cannot simulate the machines" in result.output, result.output
        assert "127.0.0.1:48011" in result.output and "--no-machines" in result.output
