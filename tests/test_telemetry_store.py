"""Storing telemetry: idempotent batches, bad quality kept as such, states, counts with resets and wraps, rollups."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from mes import telemetry, telemetry_rollups
from mes.models import Machine, MachineState, ProductionCount, Sample, Tag, TagRollup
from mes.telemetry import Reading

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
BAD_SENSOR_FAILURE = 0x808B0000  # BadSensorFailure


@pytest.fixture
def balancer(sessions, plant):  # type: ignore[no-untyped-def]
    """The reaction-wheel balancer's tags by name, and the store's view of them."""
    with sessions() as session:
        machine = session.scalars(select(Machine).filter_by(code="RWA-BAL1")).one()
        tags = {t.name: t.id for t in session.scalars(select(Tag).filter_by(machine_id=machine.id))}
        return {"machine": machine.id, "tags": tags, "info": telemetry.load_tags(session, [machine.id])}


def reading(tag_id: int, seconds: float, value: float | None = None, status: int = 0, text: str | None = None,
            ) -> Reading:
    at = T0 + timedelta(seconds=seconds)
    return Reading(tag_id, at, value, text, status, at + timedelta(milliseconds=20))


def store(sessions, balancer, readings):  # type: ignore[no-untyped-def]
    with sessions.begin() as session:
        return telemetry.store(session, readings, balancer["info"])


def roll_up(sessions, now: datetime | None = None) -> int:  # type: ignore[no-untyped-def]
    with sessions.begin() as session:
        return telemetry_rollups.roll_up(session, now)


def rollup(sessions, tag_id: int, resolution: str) -> tuple[int, float, float, float] | None:  # type: ignore[no-untyped-def]
    with sessions() as session:
        row = session.scalars(select(TagRollup).filter_by(tag_id=tag_id, resolution=resolution)).one_or_none()
        return None if row is None else (row.count, row.minimum, row.maximum, row.total)


def test_a_replayed_batch_adds_nothing(sessions, balancer) -> None:
    speed = balancer["tags"]["spindle_speed"]
    batch = [reading(speed, s, 1000.0 + s) for s in range(10)]
    assert store(sessions, balancer, batch) == telemetry.Stored(10, 10)
    assert store(sessions, balancer, [*batch, reading(speed, 10, 1010.0)]) == telemetry.Stored(11, 1)
    assert roll_up(sessions) == 1
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Sample)) == 11
        minute = session.scalars(select(TagRollup).filter_by(tag_id=speed, resolution="minute")).one()
        assert (minute.count, minute.minimum, minute.maximum, minute.total) == (11, 1000.0, 1010.0, 11055.0)


def test_values_keep_source_time_and_bad_quality_is_stored_as_bad_not_as_a_number(sessions, balancer) -> None:
    speed, serial = balancer["tags"]["spindle_speed"], balancer["tags"]["loaded_serial"]
    store(sessions, balancer, [reading(speed, 1, 1200.0), reading(speed, 2, 99999.0, status=BAD_SENSOR_FAILURE),
                               reading(serial, 3, text="RWA-26-00001")])
    with sessions() as session:
        rows = session.scalars(select(Sample).order_by(Sample.source_time)).all()
        assert [(r.source_time, r.value, r.status, r.text) for r in rows] == [
            (T0 + timedelta(seconds=1), 1200.0, 0, None), (T0 + timedelta(seconds=2), None, BAD_SENSOR_FAILURE, None),
            (T0 + timedelta(seconds=3), None, 0, "RWA-26-00001")]
    roll_up(sessions)
    assert rollup(sessions, speed, "hour") == (1, 1200.0, 1200.0, 1200.0)  # the bad value is not a number


def test_a_minute_is_rolled_up_once_it_is_over_and_again_when_a_late_sample_comes(sessions, balancer) -> None:
    speed = balancer["tags"]["spindle_speed"]
    store(sessions, balancer, [reading(speed, s, float(s)) for s in (0, 30, 59, 60)])  # minutes 08:00 and 08:01
    assert roll_up(sessions, now=T0 + timedelta(seconds=65)) == 0  # 08:00 ended 5 s ago: samples may still come
    assert roll_up(sessions, now=T0 + timedelta(seconds=75)) == 1
    assert rollup(sessions, speed, "minute") == (3, 0.0, 59.0, 89.0)
    assert rollup(sessions, speed, "hour") == (3, 0.0, 59.0, 89.0)  # 08:01 is still open
    store(sessions, balancer, [reading(speed, 45, -5.0)])  # late, into a minute already rolled up
    assert roll_up(sessions, now=T0 + timedelta(minutes=5)) == 2
    with sessions() as session:
        minutes = session.execute(select(TagRollup.bucket, TagRollup.count, TagRollup.minimum, TagRollup.total)
                                  .filter_by(tag_id=speed, resolution="minute").order_by(TagRollup.bucket)).all()
    assert [tuple(m) for m in minutes] == [(T0, 4, -5.0, 84.0), (T0 + timedelta(minutes=1), 1, 60.0, 60.0)]
    assert rollup(sessions, speed, "hour") == (5, -5.0, 60.0, 144.0)


def test_state_codes_become_intervals(sessions, balancer) -> None:
    state = balancer["tags"]["state"]  # PackML codes: 4 Idle, 6 Execute, 11 Held
    store(sessions, balancer, [reading(state, 0, 4), reading(state, 60, 6), reading(state, 61, 6)])
    store(sessions, balancer, [reading(state, 600, 11), reading(state, 660, 6)])
    with sessions() as session:
        rows = session.scalars(select(MachineState).order_by(MachineState.started_at)).all()
    assert [(r.state, r.started_at - T0, r.ended_at and r.ended_at - T0) for r in rows] == [
        ("Idle", timedelta(0), timedelta(seconds=60)),
        ("Execute", timedelta(seconds=60), timedelta(seconds=600)),
        ("Held", timedelta(seconds=600), timedelta(seconds=660)),
        ("Execute", timedelta(seconds=660), None)]


@pytest.mark.parametrize(("raw", "parts"), [
    ([100, 101, 103], 3),  # counts from the first value seen
    ([100, 105, 0, 2], 7),  # a PLC restart counts again from zero: 5 before, 2 after
    ([2**32 - 2, 2**32 - 1, 1], 3),  # 32-bit wraparound continues: 1 + 2
    ([7, 7, 7], 0),
])
def test_counters_become_parts_through_resets_and_wraparound(sessions, balancer, raw, parts) -> None:
    good = balancer["tags"]["good_count"]
    store(sessions, balancer, [reading(good, i * 30, v) for i, v in enumerate(raw[:2])])
    store(sessions, balancer, [reading(good, (i + 2) * 30, v) for i, v in enumerate(raw[2:])])
    store(sessions, balancer, [reading(good, i * 30, v) for i, v in enumerate(raw)])  # a replay
    with sessions() as session:
        assert (session.scalar(select(func.sum(ProductionCount.delta)).filter_by(kind="good")) or 0) == parts


def test_a_non_finite_value_is_stored_like_any_other(sessions, balancer) -> None:
    speed = balancer["tags"]["spindle_speed"]
    assert store(sessions, balancer, [reading(speed, 1, float("inf")), reading(speed, 2, 5.0)]) == telemetry.Stored(
        2, 2)
    with sessions() as session:
        assert session.scalars(select(Sample.value).order_by(Sample.source_time)).all() == [float("inf"), 5.0]
