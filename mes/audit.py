"""The audit trail: rows written in the caller's transaction, chained by hash, verified end to end.

Services call `record(...)` as they change things. The rows are numbered and chained only at
commit, under a lock, so concurrent writers can never fork the chain. The head of the chain is
authenticated with an HMAC whose key lives outside the database, and each commit appends the head
to a checkpoint file: a row edited, inserted or deleted, a truncated tail, or a chain recomputed
without the key are all found by `verify`.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from mes.models import User, utcnow
from mes.models.audit import AuditHead, AuditRow

log = logging.getLogger(__name__)
GENESIS = "0" * 64
PG_LOCK_KEY = 0x4D45_5341  # "MESA": one advisory lock serialises chain extension on PostgreSQL
PENDING = "mes.audit.pending"
CONFIG = "mes.audit"
NEW_HEAD = "mes.audit.head"


@dataclass(frozen=True)
class AuditConfig:
    """Where the HMAC key and the append-only checkpoint file are (both outside the database)."""

    key: bytes
    checkpoint_path: Path

    @classmethod
    def for_instance(cls, instance_path: Path) -> AuditConfig:
        """MES_AUDIT_KEY (hex), else a key file in the instance folder made on first use."""
        if env := os.environ.get("MES_AUDIT_KEY"):
            key = bytes.fromhex(env)
        else:
            path = instance_path / "audit_key"
            if not path.exists():
                instance_path.mkdir(parents=True, exist_ok=True)
                path.write_text(secrets.token_hex(32))
                path.chmod(0o600)
            key = bytes.fromhex(path.read_text().strip())
        return cls(key, Path(os.environ.get("MES_AUDIT_CHECKPOINTS", instance_path / "audit-checkpoints.log")))


def record(session: Session, user_id: int | None, action: str, entity: str, entity_id: object, *,
           old: dict[str, Any] | None = None, new: dict[str, Any] | None = None, reason: str | None = None,
           at: datetime | None = None) -> None:
    """Add an audit row to the caller's transaction; it is numbered and chained when that commits."""
    transaction = session.get_nested_transaction() or session.get_transaction()
    # Stored and read back in UTC, so hashed in UTC whatever zone the caller gave.
    session.info.setdefault(PENDING, []).append((transaction, dict(
        at=(at or utcnow()).astimezone(UTC), user_id=user_id, action=action, entity=entity, entity_id=str(entity_id),
        old=_plain(old), new=_plain(new), reason=reason)))


def _plain(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """JSON-safe values (dates, decimals as text), so the hash reads the same back from the database."""
    return None if values is None else json.loads(json.dumps(values, default=str))


def row_hash(prev_hash: str, seq: int, fields: dict[str, Any]) -> str:
    """The hash of one row: its content and the hash of the row before it."""
    at = fields["at"]
    canonical = json.dumps({
        "prev": prev_hash, "seq": seq, "at": at.isoformat() if isinstance(at, datetime) else at,
        "user_id": fields["user_id"], "user_name": fields["user_name"], "action": fields["action"],
        "entity": fields["entity"], "entity_id": fields["entity_id"], "old": fields["old"], "new": fields["new"],
        "reason": fields["reason"],
    }, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def head_mac(key: bytes, chain_id: str, seq: int, hash_: str) -> str:
    return hmac.new(key, f"{chain_id}:{seq}:{hash_}".encode(), hashlib.sha256).hexdigest()


def _lock(session: Session) -> None:
    # SQLite writers already hold the database's write lock (BEGIN IMMEDIATE); PostgreSQL needs one.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})


@event.listens_for(Session, "before_commit")
def _chain_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: its rows wait for the real commit (or vanish with its rollback)
    pending = [fields for _, fields in session.info.pop(PENDING, [])]
    if not pending:
        return
    config: AuditConfig | None = session.info.get(CONFIG)
    if config is None:
        raise RuntimeError("audit rows written through a session without an audit configuration")
    ids = {p["user_id"] for p in pending if p["user_id"] is not None}
    names = dict(session.execute(select(User.id, User.name).where(User.id.in_(ids))).all()) if ids else {}
    session.flush()  # the transaction's own writes first, so the lock below is held only for the chain
    _lock(session)
    head = session.get(AuditHead, 1, with_for_update=True)
    if head is None:
        head = AuditHead(id=1, chain_id=secrets.token_hex(8), seq=0, hash=GENESIS, mac="")
        session.add(head)
    seq, prev = head.seq, head.hash
    for fields in pending:
        seq += 1
        fields["user_name"] = names.get(fields["user_id"])
        digest = row_hash(prev, seq, fields)
        session.add(AuditRow(seq=seq, prev_hash=prev, hash=digest, **fields))
        prev = digest
    head.seq, head.hash = seq, prev
    head.mac = head_mac(config.key, head.chain_id, seq, prev)
    session.flush()
    session.info[NEW_HEAD] = (head.chain_id, seq, prev, head.mac)


@event.listens_for(Session, "after_commit")
def _checkpoint(session: Session) -> None:
    new_head = session.info.pop(NEW_HEAD, None)
    config: AuditConfig | None = session.info.get(CONFIG)
    if new_head is None or config is None:
        return
    chain_id, seq, hash_, mac = new_head
    config.checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
    # One short line per commit with O_APPEND: concurrent writers' lines never interleave.
    with open(config.checkpoint_path, "a", encoding="ascii") as checkpoints:
        checkpoints.write(f"{chain_id} {seq} {hash_} {mac}\n")


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous_transaction) -> None:  # type: ignore[no-untyped-def]
    """Drop the rows recorded inside a transaction or savepoint that rolled back: that change never happened."""
    if previous_transaction.parent is None:
        session.info.pop(PENDING, None)
        session.info.pop(NEW_HEAD, None)
        return

    def inside(transaction) -> bool:  # type: ignore[no-untyped-def]
        while transaction is not None:
            if transaction is previous_transaction:
                return True
            transaction = transaction.parent
        return False

    if PENDING in session.info:
        session.info[PENDING] = [(t, f) for t, f in session.info[PENDING] if not inside(t)]
