"""The audit trail: a row for every change in the same transaction, one chain, and tampering found."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text

from mes import audit, workorders
from mes.audit_verify import verify
from mes.cli import main
from mes.errors import Invalid
from mes.models import AuditHead, AuditRow, Consumption
from tests.factories import pass_steps, release, user_id


@pytest.fixture
def history(sessions, make_user) -> list[str]:  # type: ignore[no-untyped-def]
    make_user("supervisor", name="sup.a")
    make_user("operator", name="op.a")
    serials = release(sessions, "sup.a", "RWA", 2)
    pass_steps(sessions, "op.a", serials[0], 2)
    return serials


def actions(sessions) -> list[str]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return list(session.scalars(select(AuditRow.action).order_by(AuditRow.seq)))


def check(sessions, audit_config):  # type: ignore[no-untyped-def]
    with sessions() as session:
        return verify(session, audit_config)


def test_every_change_writes_an_audit_row_with_who_what_and_when(sessions, history) -> None:
    with sessions() as session:
        rows = session.scalars(select(AuditRow).order_by(AuditRow.seq)).all()
        fitted = session.scalar(select(func.count()).select_from(Consumption))
    kinds = [r.action for r in rows]
    stock_and_fit = ["material.receive", "sign.approved", "material.release", "material.consume"]
    assert fitted >= 1
    assert kinds[kinds.index("workorder.release"):] == [
        "workorder.release", "step.start", "user.create", *stock_and_fit * fitted, "step.complete",
        "sign.inspected", "step.buyoff", "step.start", "step.complete"]
    complete = rows[-1]
    assert complete.user_name == "op.a" and complete.entity == "unit" and complete.entity_id == history[0]
    assert complete.new["step"] == "RWA-BAL" and complete.new["measurements"] == {"residual_imbalance": "0.10"}
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))


def test_a_refused_change_leaves_no_audit_row(sessions, history) -> None:
    before = actions(sessions)
    with pytest.raises(Invalid), sessions.begin() as session:
        workorders.release_work_order(session, user_id(session, "sup.a"), "RWA", 0, date(2027, 1, 1))
    assert actions(sessions) == before


def test_a_rolled_back_savepoint_takes_its_audit_rows_with_it(sessions, audit_config, history) -> None:
    with sessions.begin() as session:
        uid = user_id(session, "sup.a")
        with session.begin_nested() as savepoint:
            workorders.release_work_order(session, uid, "RWA", 1, date(2027, 1, 1))
            savepoint.rollback()
        workorders.release_work_order(session, uid, "STR", 1, date(2027, 1, 1))
    with sessions() as session:
        last = session.scalars(select(AuditRow).order_by(AuditRow.seq.desc())).first()
        assert last.new["unit_type"] == "STR-200"
        assert session.scalars(select(AuditRow).where(AuditRow.action == "workorder.release")).all()[-2].new[
            "unit_type"] == "RWA-100"
    assert check(sessions, audit_config).ok


def test_an_untouched_history_verifies(sessions, audit_config, history) -> None:
    verdict = check(sessions, audit_config)
    assert verdict.ok and verdict.rows == len(actions(sessions))


def test_concurrent_writers_extend_one_chain(sessions, audit_config, make_user, plant) -> None:
    make_user("supervisor", name="sup.b")
    barrier = threading.Barrier(6)

    def release_one(_: int) -> None:
        barrier.wait()
        release(sessions, "sup.b", "DSS", 1)

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(release_one, range(6)))
    verdict = check(sessions, audit_config)
    assert verdict.ok, verdict.problem
    assert actions(sessions).count("workorder.release") == 6


def _seq_of(sessions, action: str, index: int = -1) -> int:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return list(session.scalars(select(AuditRow.seq).where(AuditRow.action == action).order_by(AuditRow.seq)))[
            index]


def test_an_edited_value_is_found(engine, sessions, audit_config, history) -> None:
    seq = _seq_of(sessions, "step.complete", 0)
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET reason = 'nothing to see' WHERE seq = :s"), {"s": seq})
    verdict = check(sessions, audit_config)
    assert not verdict.ok and verdict.bad_seq == seq and "does not match its hash" in verdict.problem


def test_a_deleted_row_is_found(engine, sessions, audit_config, history) -> None:
    seq = _seq_of(sessions, "step.start", 0)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_log WHERE seq = :s"), {"s": seq})
    verdict = check(sessions, audit_config)
    assert not verdict.ok and verdict.bad_seq == seq and "missing" in verdict.problem


def test_an_inserted_row_is_found(engine, sessions, audit_config, history) -> None:
    seq = _seq_of(sessions, "step.start", 0)
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET seq = seq + 1000000 WHERE seq >= :s"), {"s": seq})
        connection.execute(text("UPDATE audit_log SET seq = seq - 999999 WHERE seq >= 1000000"))
        connection.execute(text(
            "INSERT INTO audit_log (seq, at, user_id, user_name, action, entity, entity_id, prev_hash, hash) "
            "SELECT :s, at, user_id, user_name, 'step.abort', entity, entity_id, prev_hash, hash "
            "FROM audit_log WHERE seq = :s + 1"), {"s": seq})
    verdict = check(sessions, audit_config)
    assert not verdict.ok and verdict.bad_seq == seq


def test_a_truncated_tail_is_found_even_with_an_old_head_put_back(engine, sessions, audit_config, history) -> None:
    with sessions() as session:
        old_head = session.get(AuditHead, 1)
        snapshot = (old_head.seq, old_head.hash, old_head.mac)
    pass_steps(sessions, "op.a", history[1], 2)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_log WHERE seq > :s"), {"s": snapshot[0]})
        connection.execute(text("UPDATE audit_head SET seq = :s, hash = :h, mac = :m"),
                           {"s": snapshot[0], "h": snapshot[1], "m": snapshot[2]})
    verdict = check(sessions, audit_config)
    assert not verdict.ok and "gone" in verdict.problem


def test_a_chain_recomputed_without_the_key_is_found(engine, sessions, audit_config, history) -> None:
    with sessions() as session:
        rows = session.scalars(select(AuditRow).order_by(AuditRow.seq)).all()
        fields = [{k: getattr(r, k) for k in ("at", "user_id", "user_name", "action", "entity", "entity_id", "old",
                                             "new", "reason")} for r in rows]
    fields[-1]["new"] = {**fields[-1]["new"], "measurements": {"residual_imbalance": "0.05"}}
    prev, hashes = audit.GENESIS, []
    for seq, f in enumerate(fields, start=1):
        prev = audit.row_hash(prev, seq, f)
        hashes.append(prev)
    forged_mac = hmac.new(b"guessed key", f"x:{len(rows)}:{prev}".encode(), hashlib.sha256).hexdigest()
    with engine.begin() as connection:
        for seq, digest in enumerate(hashes, start=1):
            connection.execute(text("UPDATE audit_log SET hash = :h, prev_hash = :p WHERE seq = :s"),
                               {"h": digest, "p": hashes[seq - 2] if seq > 1 else audit.GENESIS, "s": seq})
        connection.execute(text("UPDATE audit_log SET new = :n WHERE seq = :s"),
                           {"n": json.dumps(fields[-1]["new"]), "s": len(rows)})
        connection.execute(text("UPDATE audit_head SET hash = :h, mac = :m"), {"h": prev, "m": forged_mac})
    verdict = check(sessions, audit_config)
    assert not verdict.ok and "HMAC" in verdict.problem


def test_mes_audit_verify_reports_intact_or_names_the_first_bad_row(engine, database_url, tmp_path,
                                                                     history) -> None:
    env = {"MES_DATABASE_URL": database_url, "MES_INSTANCE_PATH": str(tmp_path / "instance")}
    good = CliRunner().invoke(main, ["audit", "verify"], env=env)
    assert good.exit_code == 0 and "audit trail intact" in good.output
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET user_name = 'someone' WHERE seq = 3"))
    bad = CliRunner().invoke(main, ["audit", "verify"], env=env)
    assert bad.exit_code == 1 and "row 3" in bad.output


def test_times_given_in_the_plant_zone_verify_like_utc_ones(sessions, audit_config, make_user, plant) -> None:
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from mes.models import utcnow
    from mes.qualifications import qualify

    make_user("operator", name="op.z", qualified=False)
    shanghai = (utcnow() - timedelta(hours=2)).astimezone(ZoneInfo("Asia/Shanghai"))
    with sessions.begin() as session:
        qualify(session, None, "op.z", "ESD", date(2027, 1, 1), at=shanghai)
    assert check(sessions, audit_config).ok


def test_a_released_savepoint_waits_for_the_real_commit_and_its_rollback_leaves_no_trace(
        sessions, audit_config, history) -> None:
    lines = audit_config.checkpoint_path.read_text().count("\n")
    with pytest.raises(RuntimeError), sessions.begin() as session:
        with session.begin_nested():
            workorders.release_work_order(session, user_id(session, "sup.a"), "RWA", 1, date(2027, 1, 1))
        raise RuntimeError("the outer transaction fails after the savepoint was released")
    assert audit_config.checkpoint_path.read_text().count("\n") == lines
    assert check(sessions, audit_config).ok
