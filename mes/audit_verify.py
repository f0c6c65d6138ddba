"""Walk the audit chain and name the first row that does not hold."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from mes.audit import GENESIS, AuditConfig, head_mac, row_hash
from mes.models.audit import AuditHead, AuditRow

BATCH = 5000


@dataclass(frozen=True)
class Verdict:
    ok: bool
    rows: int
    problem: str | None = None
    bad_seq: int | None = None


def _checkpoints(config: AuditConfig, chain_id: str) -> list[tuple[int, str, str]]:
    """(seq, hash, mac) of this chain's checkpoints, in the order they were written."""
    if not config.checkpoint_path.exists():
        return []
    found = []
    for line in config.checkpoint_path.read_text(encoding="ascii").splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] == chain_id:
            found.append((int(parts[1]), parts[2], parts[3]))
    return found


def _any_checkpoint(config: AuditConfig) -> bool:
    return config.checkpoint_path.exists() and bool(config.checkpoint_path.read_text(encoding="ascii").strip())


def verify(session: Session, config: AuditConfig) -> Verdict:
    """Recompute every hash in order, then check the head's HMAC and the checkpoint file against the rows."""
    head = session.get(AuditHead, 1)
    checkpoints = _checkpoints(config, head.chain_id) if head else []
    wanted = {seq for seq, _, _ in checkpoints}
    expected_seq, prev = 1, GENESIS
    hashes: dict[int, str] = {}  # only the checkpointed rows' hashes, to compare below
    last_id = 0
    while True:
        rows = session.scalars(select(AuditRow).where(AuditRow.id > last_id).order_by(AuditRow.id).limit(BATCH)).all()
        if not rows:
            break
        for row in sorted(rows, key=lambda r: r.seq):
            fields = {k: getattr(row, k) for k in ("at", "user_id", "user_name", "action", "entity", "entity_id",
                                                   "old", "new", "reason")}
            if row.seq != expected_seq:
                return Verdict(False, expected_seq - 1, f"row {expected_seq} is missing (found {row.seq})",
                               expected_seq)
            if row.prev_hash != prev or row_hash(prev, row.seq, fields) != row.hash:
                return Verdict(False, row.seq - 1, f"row {row.seq} ({row.action} {row.entity} {row.entity_id}) "
                                                   "does not match its hash", row.seq)
            if row.seq in wanted:
                hashes[row.seq] = row.hash
            prev, expected_seq = row.hash, expected_seq + 1
        last_id = max(r.id for r in rows)
    count = expected_seq - 1
    if head is None:
        if count == 0 and not _any_checkpoint(config):
            return Verdict(True, 0)
        return Verdict(False, count, "the chain head is missing", None)
    if head_mac(config.key, head.chain_id, head.seq, head.hash) != head.mac:
        return Verdict(False, count, "the chain head's HMAC is wrong: the chain was rewritten without the key",
                       head.seq)
    if head.seq != count or head.hash != prev:
        return Verdict(False, count, f"the head names row {head.seq}, the chain ends at row {count}", count + 1)
    for seq, hash_, mac in checkpoints:
        if head_mac(config.key, head.chain_id, seq, hash_) != mac:
            return Verdict(False, count, f"checkpoint for row {seq} has a wrong HMAC", seq)
        if seq > count:
            return Verdict(False, count, f"rows after {count} are gone: a checkpoint names row {seq}", count + 1)
        if hashes.get(seq) != hash_:
            return Verdict(False, count, f"row {seq} differs from its checkpoint", seq)
    return Verdict(True, count)
