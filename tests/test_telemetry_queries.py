"""Reading telemetry back: series downsampled in the database, rollups for old ranges, retention, process records."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from mes import telemetry, telemetry_queries, telemetry_retention, telemetry_rollups
from mes.models import Machine, ProcessSample, RoutingStep, Sample, Station, StepExecution, Tag, TagRollup, Unit
from mes.telemetry import Reading
from tests.factories import release, user_id

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def speed(sessions, plant):  # type: ignore[no-untyped-def]
    """The balancer's spindle speed tag id and the store's view of the balancer."""
    with sessions() as session:
        machine = session.scalars(select(Machine).filter_by(code="RWA-BAL1")).one()
        tag = session.scalars(select(Tag).filter_by(machine_id=machine.id, name="spindle_speed")).one()
        return tag.id, telemetry.load_tags(session, [machine.id])


def store_ramp(sessions, speed, start: datetime, seconds: int) -> None:  # type: ignore[no-untyped-def]
    """One sample a second, the value counting up from 0; then rolled up, as the adapters' writer does."""
    tag_id, tags = speed
    readings = [Reading(tag_id, start + timedelta(seconds=s), float(s), None, 0, start) for s in range(seconds)]
    with sessions.begin() as session:
        telemetry.store(session, readings, tags)
        telemetry_rollups.roll_up(session)


def test_a_series_is_downsampled_to_at_most_the_points_asked(sessions, speed, client, auth_header) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    store_ramp(sessions, speed, start, 3600)
    response = client.get("/api/v1/machines/RWA-BAL1/telemetry", headers=auth_header("viewer"), query_string={
        "tag": "spindle_speed", "from": start.isoformat(), "to": (start + timedelta(hours=1)).isoformat(),
        "points": 60})
    assert response.status_code == 200, response.json
    body = response.json
    assert body["source"] == "raw" and body["bucket_s"] == 60 and body["unit"] == "rpm"
    assert len(body["points"]) == 60
    first, last = body["points"][0], body["points"][-1]
    assert (first["min"], first["max"], first["avg"], first["count"]) == (0, 59, 29.5, 60)
    assert (last["min"], last["max"], last["count"]) == (3540, 3599, 60)


def test_bad_series_requests_name_the_field(client, auth_header, plant) -> None:
    viewer = auth_header("viewer")
    url = "/api/v1/machines/RWA-BAL1/telemetry"
    assert client.get(url, headers=viewer, query_string={"tag": "nope"}).json["field"] == "tag"
    naive = client.get(url, headers=viewer, query_string={"tag": "spindle_speed", "from": "2026-11-24T08:00:00"})
    assert naive.status_code == 422 and "time zone" in naive.json["error"]
    assert client.get("/api/v1/machines/NOPE/telemetry", headers=viewer,
                      query_string={"tag": "x"}).json["field"] == "machine"


def test_wide_buckets_and_old_ranges_are_read_from_rollups(sessions, speed) -> None:
    start = NOW - timedelta(days=40)
    store_ramp(sessions, speed, start, 7200)
    with sessions() as session:
        hourly = telemetry_queries.series(session, "RWA-BAL1", "spindle_speed", start, start + timedelta(hours=2),
                                          2, now=NOW)
        five_minutes = telemetry_queries.series(session, "RWA-BAL1", "spindle_speed", start,
                                                start + timedelta(hours=2), 24, now=NOW)
    assert hourly.source == "hour" and hourly.bucket_s == 3600
    assert [(p.minimum, p.maximum, p.count) for p in hourly.points] == [(0, 3599, 3600), (3600, 7199, 3600)]
    assert five_minutes.source == "minute" and five_minutes.bucket_s == 300 and len(five_minutes.points) == 24
    assert (five_minutes.points[1].minimum, five_minutes.points[1].maximum) == (300, 599)


def test_retention_keeps_rollups_and_the_samples_inside_a_step(sessions, speed, make_user) -> None:
    make_user("supervisor", name="sup.a")
    serial = release(sessions, "sup.a", "RWA", 1, at=NOW - timedelta(days=50))[0]
    run_start = NOW - timedelta(days=40)
    with sessions.begin() as session:  # a balancing step ran on the balancer for ten minutes, 40 days ago
        unit = session.scalars(select(Unit).filter_by(serial=serial)).one()
        step = session.scalars(select(RoutingStep).filter_by(routing_revision_id=unit.routing_revision_id,
                                                             code="RWA-BAL")).one()
        session.add(StepExecution(
            unit_id=unit.id, step_id=step.id, step_code="RWA-BAL", status="passed",
            station_id=session.scalars(select(Station.id).filter_by(code="RWA-BAL")).one(),
            machine_id=session.scalars(select(Machine.id).filter_by(code="RWA-BAL1")).one(),
            started_by_id=user_id(session, "sup.a"), started_at=run_start + timedelta(minutes=5),
            ended_at=run_start + timedelta(minutes=15)))
    store_ramp(sessions, speed, run_start, 3600)
    store_ramp(sessions, speed, NOW - timedelta(hours=1), 60)  # recent: stays raw
    purged = telemetry_retention.purge(sessions, NOW)
    assert purged.raw_deleted == 3600 and purged.kept_with_units == 601
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Sample)) == 60
        assert session.scalar(select(func.count()).select_from(ProcessSample)) == 601
        assert session.scalar(select(func.count()).select_from(TagRollup).filter_by(resolution="hour")) >= 2
        execution, values = telemetry_queries.process_record(session, serial, "RWA-BAL")
        assert execution.machine.code == "RWA-BAL1"
    speeds = [v.value for v in values if v.tag == "spindle_speed"]
    assert speeds[0] == 300.0 and speeds[-1] == 900.0 and len(speeds) == 601
    later = telemetry_retention.purge(sessions, NOW + timedelta(days=60))
    assert later.minute_rollups_deleted > 0
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ProcessSample)) == 601  # kept with the unit
        assert session.scalar(select(func.count()).select_from(TagRollup).filter_by(resolution="hour")) >= 2


def test_machine_output_comes_from_counters_or_else_from_step_records(sessions, speed, make_user) -> None:
    with sessions() as session:
        balancer = session.scalars(select(Machine).filter_by(code="RWA-BAL1")).one()
        good = session.scalars(select(Tag.id).filter_by(machine_id=balancer.id, name="good_count")).one()
        tags = telemetry.load_tags(session, [balancer.id])
    start = NOW - timedelta(hours=1)
    with sessions.begin() as session:
        telemetry.store(session, [Reading(good, start + timedelta(minutes=m), float(100 + m), None, 0, start)
                                  for m in range(10)], tags)
    make_user("supervisor", name="sup.a")
    serial = release(sessions, "sup.a", "RWA", 1, at=NOW - timedelta(days=1))[0]
    with sessions.begin() as session:  # the TVAC chamber has no counter: two runs ended in the hour, one failed
        unit = session.scalars(select(Unit).filter_by(serial=serial)).one()
        step = session.scalars(select(RoutingStep).filter_by(routing_revision_id=unit.routing_revision_id,
                                                             code="RWA-TVAC")).one()
        for minutes, status in ((10, "passed"), (20, "failed"), (90, "passed")):
            session.add(StepExecution(
                unit_id=unit.id, step_id=step.id, step_code=step.code, status=status,
                station_id=session.scalars(select(Station.id).filter_by(code="RWA-ENV")).one(),
                machine_id=session.scalars(select(Machine.id).filter_by(code="RWA-TVAC1")).one(),
                started_by_id=user_id(session, "sup.a"), started_at=NOW - timedelta(minutes=minutes + 300),
                ended_at=NOW - timedelta(minutes=minutes)))
    with sessions() as session:
        assert telemetry_queries.machine_output(session, "RWA-BAL1", start, NOW) == telemetry_queries.Output(
            9, 0, "counters")
        assert telemetry_queries.machine_output(session, "RWA-TVAC1", start, NOW) == telemetry_queries.Output(
            1, 1, "steps")
